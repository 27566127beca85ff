"""Per-domain likelihood and preprocessing chosen from the training values (numpy only, no torch).

Rules, first match wins (rows that are entirely NaN are absent samples and are ignored):
  every value 0 or 1                  -> bernoulli, no preprocessing
  every value inside [0, 1], spanning at least half of it (images, probabilities, methylation)
                                      -> sigmoid_mse, no preprocessing
  non-negative integers that look like counts (see `looks_like_counts`) -> negative_binomial, no preprocessing
                                         (the encoder already sees log1p(counts))
  anything else                       -> gaussian on standardised features (fractions of 0.01-0.03 too: their
                                         squared errors in raw units are too small for the model to learn from)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from sharedlatent.config import DomainConfig, ModelConfig, RunConfig
from sharedlatent.names import AUTO, LIKELIHOOD_KINDS

INTEGER_TOLERANCE = 1e-6  # float rounding of integers read from text
# A count test, not a range test. Counts have an unbounded right tail, so their largest value is reached by a
# handful of entries; bounded integer scales (pixel intensities 0..16 or 0..255, ratings) pile up at their
# ceiling. Measured share of non-zero values equal to the maximum: sklearn digits 17.8%, MNIST 3.3%,
# synthetic_omics RNA counts 0.0% (one entry). Overdispersion alone does not separate them: 95% of digits
# pixels and 100% of MNIST pixels have variance above their mean, like the RNA counts.
MAX_CEILING_SHARE = 0.01  # counts: at most this share of the non-zero values sits at the maximum
MIN_OVERDISPERSED_SHARE = 0.5  # counts: at least this share of non-constant features has variance above the mean
MIN_INFORMATIVE_MEAN = 0.1  # ... of those whose mean is at least this (rarer ones cannot show overdispersion)
# Counts reach down to zero or span orders of magnitude; integer measurements (weight in lb, height in cm, pulse,
# age) sit in a narrow band far from zero and are overdispersed as well. A count-like feature has a minimum of 0 or
# a maximum at least COUNT_DECADE times its minimum, and at least MIN_COUNT_LIKE_SHARE of the varying features are.
COUNT_DECADE = 10.0
MIN_COUNT_LIKE_SHARE = 0.5
# ... or the features' means spread over a decade between their quartiles: expressed bulk genes never reach 0 and
# vary less than tenfold each, but their means run from a few to tens of thousands; clinical measurements' means
# lie within about one decade, and a quartile ratio ignores the odd flag or small count among them (a max / min
# ratio let one yes/no column make a clinical table counts)
MEAN_SPAN = 10.0
MIN_CEILING_VALUES = 3  # a ceiling is a pile-up: one or two values at the maximum of a small table prove nothing
# The count likelihoods model a sample's counts as shares of one total (sequencing depth): right for genes or an
# antibody panel, wrong for a few counts of different things (Linnerud's chin-ups, sit-ups and jumps scored 35x the
# mean's error as negative binomial). Fewer features than this are modelled as values.
MIN_COUNT_FEATURES = 8
MIN_UNIT_SPAN = 0.5  # sigmoid_mse on raw values only when they span at least this much of [0, 1]


@dataclass(frozen=True)
class AutoChoice:
    """A domain's likelihood and preprocessing, and why they were chosen (one sentence)."""

    likelihood: str
    preprocessing: str
    reason: str


CHUNK_VALUES = 2**22  # values per block of rows the summary reads (32 MiB as float64), whatever the data's size


@dataclass
class ValueSummary:
    """What the rules read of a domain's values, gathered one block of rows at a time, so that choosing settings
    for a large in-memory matrix makes no full-size copy. Rows that are entirely NaN (absent samples) are skipped."""

    finite: int = 0  # finite values in the observed rows
    low: float = np.inf
    high: float = -np.inf
    binary: bool = True  # every finite value is 0 or 1
    integer: bool = True  # every finite value is a whole number
    nonzero: int = 0  # finite values above 0
    at_high: int = 0  # finite values equal to `high`
    feature_count: np.ndarray | None = None  # per feature: finite values, their sum and sum of squares
    feature_sum: np.ndarray | None = None
    feature_squares: np.ndarray | None = None
    feature_low: np.ndarray | None = None  # per feature: the smallest and largest finite value
    feature_high: np.ndarray | None = None

    beyond_exact: int = 0  # finite values too large for their dtype to show a fraction (see `add`)

    @property
    def nonnegative_integer(self) -> bool:
        """Every value small enough to show a fraction is whole, and most values are that small (float32 values of
        1e9 are all whole whatever they measured: they prove nothing)."""
        shown = self.finite - self.beyond_exact
        return self.finite > 0 and self.low >= 0 and self.integer and self.beyond_exact <= shown

    def add(self, block: np.ndarray, exact_below: float = np.inf) -> None:
        """Fold in a block of rows (float64); values at or above `exact_below` in size came from a dtype whose
        spacing there hides fractions (float32 above 2^20: 1/8 and coarser), so they do not count as whole."""
        block = block[~np.isnan(block).all(axis=1)]
        finite = np.isfinite(block)
        values = block[finite]
        if values.size == 0:
            return
        self.finite += values.size
        self.binary = self.binary and bool(np.isin(values, (0.0, 1.0)).all())
        shown = values[np.abs(values) < exact_below]
        self.beyond_exact += values.size - shown.size
        if shown.size:
            self.integer = self.integer and bool(np.abs(shown - np.round(shown)).max() <= INTEGER_TOLERANCE)
        self.nonzero += int(np.count_nonzero(values > 0))
        high = float(values.max())
        if high > self.high:
            self.high, self.at_high = high, 0
        if high == self.high:
            self.at_high += int(np.count_nonzero(values == high))
        self.low = min(self.low, float(values.min()))
        zeroed = np.where(finite, block, 0.0)
        sums = (finite.sum(axis=0), zeroed.sum(axis=0), np.square(zeroed).sum(axis=0))
        low = np.where(finite, block, np.inf).min(axis=0)
        high = np.where(finite, block, -np.inf).max(axis=0)
        if self.feature_low is None:
            self.feature_low, self.feature_high = low, high
        else:
            self.feature_low, self.feature_high = np.minimum(self.feature_low, low), np.maximum(self.feature_high, high)
        if self.feature_count is None:
            self.feature_count, self.feature_sum, self.feature_squares = sums
        else:
            self.feature_count, self.feature_sum, self.feature_squares = (
                self.feature_count + sums[0],
                self.feature_sum + sums[1],
                self.feature_squares + sums[2],
            )

    def feature_means(self) -> np.ndarray:
        """Per feature: the mean of its finite values (0 where it has none)."""
        return self.feature_sum / np.maximum(self.feature_count, 1)

    def overdispersed_share(self) -> float | None:
        """The share of non-constant features whose variance exceeds their mean, among those with a mean of at least
        MIN_INFORMATIVE_MEAN where any has (None: no feature varies). A gene seen in a handful of cells has variance
        about equal to its mean whatever its dispersion, so an unfiltered UMI matrix, half of its genes that rare,
        failed the test (0.47-0.52 on a review's 800 genes, 0.96-0.99 over genes with a mean of 0.05 or 0.1)."""
        count, mean = np.maximum(self.feature_count, 1), self.feature_means()
        variance = np.maximum(self.feature_squares / count - np.square(mean), 0.0)
        varying = (self.feature_count > 0) & (variance > 1e-12 * np.maximum(1.0, np.square(mean)))
        informative = varying & (mean >= MIN_INFORMATIVE_MEAN)
        chosen = informative if informative.any() else varying
        return float(np.mean(variance[chosen] > mean[chosen])) if chosen.any() else None

    def count_like_share(self) -> float | None:
        """The share of varying features that reach 0 or span a decade (maximum >= COUNT_DECADE x minimum), as
        counts do and integer measurements far from zero (heights, weights, ages) do not (None: none varies)."""
        varying = (self.feature_count > 0) & (self.feature_high > self.feature_low)
        if not varying.any():
            return None
        low, high = self.feature_low[varying], self.feature_high[varying]
        return float(np.mean((low <= 0) | (high >= COUNT_DECADE * low)))

    def mean_span(self) -> float | None:
        """The upper quartile of the varying features' positive means over their lower quartile (None: fewer than
        four such features)."""
        mean = self.feature_means()
        varying = (self.feature_count > 0) & (self.feature_high > self.feature_low) & (mean > 0)
        if varying.sum() < 4:
            return None
        lower, upper = np.percentile(mean[varying], [25, 75])
        return float(upper / lower)


def summarize(values: np.ndarray) -> ValueSummary:
    """The ValueSummary of a samples x features array (1-D: one feature), in blocks of at most CHUNK_VALUES."""
    values = np.asarray(values)
    if values.ndim == 1:
        values = values[:, None]
    summary = ValueSummary()
    rows = max(1, CHUNK_VALUES // max(1, values.shape[1]))
    exact_below = exact_whole_limit(values.dtype)
    for start in range(0, values.shape[0], rows):
        summary.add(np.asarray(values[start : start + rows], dtype=np.float64), exact_below)
    return summary


def exact_whole_limit(dtype: np.dtype) -> float:
    """The size below which a float of `dtype` still shows fractions of 1/16 or finer (2^20 for float32, the dtype
    tables are read in), so that being whole says something; no limit for integer and float64 arrays."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f" or dtype.itemsize >= 8:
        return np.inf
    return float(2 ** (np.finfo(dtype).nmant - 3))


def is_nonnegative_integer(values: np.ndarray) -> bool:
    """Whether every finite value is a whole number >= 0."""
    return summarize(values).nonnegative_integer


def looks_like_counts(values: np.ndarray | ValueSummary) -> bool:
    """Non-negative integers in MIN_COUNT_FEATURES features or more, with no ceiling (few values at the maximum),
    mostly overdispersed features, and mostly features that reach 0 or span a decade (or feature means whose
    quartiles lie a decade apart: bulk counts).

    Bounded integer scores (image pixels 0..16 or 0..255, Likert items) are integers too but not counts: many
    of their values sit at the top of the scale. Integer-recorded measurements (weight 100-250 lb, height 150-200
    cm, pulse, age) are overdispersed too but lie in a narrow band far from zero; as counts, every translated row
    would have the training's mean total, trading the columns off against each other."""
    summary = values if isinstance(values, ValueSummary) else summarize(values)
    if not summary.nonnegative_integer or summary.nonzero == 0 or summary.high <= 0:
        return False
    if _has_ceiling(summary):
        return False
    if summary.feature_count is None or len(summary.feature_count) < MIN_COUNT_FEATURES:
        return False
    share = summary.overdispersed_share()
    return share is not None and share >= MIN_OVERDISPERSED_SHARE and _counts_in_range(summary)


def _has_ceiling(summary: ValueSummary) -> bool:
    """Many values at the maximum: a bounded scale (pixels, ratings), not counts."""
    return summary.at_high >= MIN_CEILING_VALUES and summary.at_high / summary.nonzero > MAX_CEILING_SHARE


def _counts_in_range(summary: ValueSummary) -> bool:
    """Most features reach 0 or span a decade, or the features' means spread over a decade between their quartiles
    (bulk counts)."""
    count_like, span = summary.count_like_share(), summary.mean_span()
    return (count_like or 0.0) >= MIN_COUNT_LIKE_SHARE or (span or 0.0) >= MEAN_SPAN


def choose_domain_settings(train_values: np.ndarray) -> AutoChoice:
    """The likelihood and preprocessing for one domain's training values."""
    return _choose(summarize(train_values))


def _choose(summary: ValueSummary) -> AutoChoice:
    if summary.finite == 0:
        return AutoChoice("gaussian", "standardize", "no observed values; gaussian on standardised features")
    if summary.binary:
        return AutoChoice("bernoulli", "none", "every value is 0 or 1")
    low, high = summary.low, summary.high
    if low >= 0 and high <= 1 and high - low >= MIN_UNIT_SPAN:
        return AutoChoice("sigmoid_mse", "none", f"values lie in [0, 1] ({low:g} to {high:g})")
    if low >= 0 and high <= 1:
        return AutoChoice(
            "gaussian",
            "standardize",
            f"values from {low:g} to {high:g}, inside [0, 1] but spanning under half of it; gaussian on "
            "standardised features",
        )
    if looks_like_counts(summary):
        return AutoChoice(
            "negative_binomial", "none", "non-negative integers without a ceiling and overdispersed (counts)"
        )
    if summary.nonnegative_integer:
        return AutoChoice(
            "gaussian", "standardize", f"{_integers_not_counts(summary)}; gaussian on standardised features"
        )
    return AutoChoice(
        "gaussian", "standardize", f"real values from {low:g} to {high:g}; gaussian on standardised features"
    )


def _integers_not_counts(summary: ValueSummary) -> str:
    """Why non-negative integers were not taken for counts, in a few words."""
    low, high = summary.low, summary.high
    features = 0 if summary.feature_count is None else len(summary.feature_count)
    if features < MIN_COUNT_FEATURES:
        return (
            f"non-negative integers ({low:g} to {high:g}) in {features} features, too few to model as shares of one "
            f"total (counts need {MIN_COUNT_FEATURES} or more)"
        )
    if summary.nonzero and _has_ceiling(summary):
        return f"non-negative integers ({low:g} to {high:g}) on a bounded scale ({summary.at_high} at the maximum), not counts"
    if not _counts_in_range(summary):
        return (
            f"non-negative integers ({low:g} to {high:g}), each feature in a narrow band far from zero "
            "(measurements), not counts"
        )
    return f"non-negative integers ({low:g} to {high:g}) with variance below the mean, not counts"


def count_likelihood_warning(values: np.ndarray, domain: str, likelihood: str) -> str | None:
    """A warning when a count likelihood is given values that are not non-negative integers, else None."""
    if is_nonnegative_integer(values):
        return None
    return (
        f"domain {domain!r}: likelihood {likelihood!r} expects raw counts (non-negative integers) but the data holds "
        "other values; normalised or log-transformed data fit 'gaussian' on 'standardize' better"
    )


def resolve_auto(config: RunConfig, train: Mapping[str, np.ndarray]) -> tuple[RunConfig, dict[str, AutoChoice]]:
    """A copy of `config` whose "auto" likelihoods and preprocessings are chosen from each domain's training values,
    with the choice per domain that was made (domains set explicitly keep their settings and are not listed)."""
    domains = dict(config.model.domains)
    chosen = {}
    for name, values in train.items():
        own = domains.get(name) or DomainConfig()
        if AUTO not in (own.likelihood, own.preprocessing):
            continue
        summary = summarize(values)
        choice = _complete(_choose(summary), own, summary)
        domains[name] = dataclasses.replace(own, likelihood=choice.likelihood, preprocessing=choice.preprocessing)
        chosen[name] = choice
    model = dataclasses.replace(config.model, domains=domains)
    return dataclasses.replace(config, model=model), chosen


def _complete(suggested: AutoChoice, own: DomainConfig, summary: ValueSummary) -> AutoChoice:
    """The suggestion where the domain says "auto", the domain's own setting elsewhere, kept consistent."""
    if own.likelihood == AUTO and own.preprocessing == AUTO:
        return suggested
    if own.preprocessing == AUTO:
        likelihood = own.likelihood
        if likelihood == suggested.likelihood:
            preprocessing = suggested.preprocessing
        elif likelihood in ("sigmoid_mse", "bernoulli"):
            inside = summary.finite and summary.low >= 0 and summary.high <= 1
            preprocessing = "none" if inside else "minmax"
        elif LIKELIHOOD_KINDS[likelihood] == "counts":
            preprocessing = "none"
        else:
            preprocessing = "standardize"
        return AutoChoice(likelihood, preprocessing, f"preprocessing {preprocessing} suits likelihood {likelihood}")
    preprocessing = own.preprocessing
    if preprocessing in ("minmax", "minmax_per_feature", "log1p_minmax"):
        likelihood = "sigmoid_mse"
    elif preprocessing in ("standardize", "log1p"):
        likelihood = suggested.likelihood if LIKELIHOOD_KINDS[suggested.likelihood] == "continuous" else "gaussian"
        likelihood = "gaussian" if likelihood == "sigmoid_mse" else likelihood
    elif suggested.preprocessing == "none":
        likelihood = suggested.likelihood
    else:  # raw values kept: [0, 1] ones still suit sigmoid_mse, even spanning little of it
        inside = summary.finite and summary.low >= 0 and summary.high <= 1
        likelihood = "sigmoid_mse" if inside and preprocessing == "none" else "gaussian"
    return AutoChoice(likelihood, preprocessing, f"likelihood {likelihood} suits preprocessing {preprocessing}")


def provisional(model: ModelConfig, domain_names: list[str]) -> ModelConfig:
    """`model` with "auto" read as the image defaults (sigmoid_mse, no preprocessing) until data are seen."""
    own_settings = {name: model.domains.get(name) or DomainConfig() for name in domain_names}
    domains = {
        name: dataclasses.replace(
            own,
            likelihood="sigmoid_mse" if own.likelihood == AUTO else own.likelihood,
            preprocessing="none" if own.preprocessing == AUTO else own.preprocessing,
        )
        for name, own in {**model.domains, **own_settings}.items()
    }
    return dataclasses.replace(model, domains=domains)


def describe_choices(chosen: Mapping[str, AutoChoice]) -> list[str]:
    """One summary line per domain: what was chosen and why."""
    return [
        f"auto      {name}: likelihood {c.likelihood}, preprocessing {c.preprocessing} ({c.reason})"
        for name, c in chosen.items()
    ]
