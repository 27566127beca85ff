"""Per-domain likelihood and preprocessing chosen from the training values (numpy only, no torch).

Rules, first match wins (rows that are entirely NaN are absent samples and are ignored):
  every value 0 or 1                  -> bernoulli, no preprocessing
  every value inside [0, 1]           -> sigmoid_mse, no preprocessing
  non-negative integers that look like counts (see `looks_like_counts`) -> negative_binomial, no preprocessing
                                         (the encoder already sees log1p(counts))
  anything else                       -> gaussian on standardised features
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


@dataclass(frozen=True)
class AutoChoice:
    """A domain's likelihood and preprocessing, and why they were chosen (one sentence)."""

    likelihood: str
    preprocessing: str
    reason: str


def observed(values: np.ndarray) -> np.ndarray:
    """The rows of a 2-D array that are not entirely NaN (absent samples in partially paired data)."""
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    return values[~np.isnan(values).all(axis=1)]


def is_nonnegative_integer(values: np.ndarray) -> bool:
    """Whether every finite value is a whole number >= 0."""
    values = observed(values)
    finite = values[np.isfinite(values)]
    return (
        finite.size > 0
        and bool((finite >= 0).all())
        and bool(np.abs(finite - np.round(finite)).max() <= INTEGER_TOLERANCE)
    )


def looks_like_counts(values: np.ndarray) -> bool:
    """Non-negative integers with no ceiling (few values at the maximum) and mostly overdispersed features.

    Bounded integer scores (image pixels 0..16 or 0..255, Likert items) are integers too but not counts: many
    of their values sit at the top of the scale."""
    if not is_nonnegative_integer(values):
        return False
    values = observed(values)
    nonzero = values[np.isfinite(values) & (values > 0)]
    if nonzero.size == 0 or np.mean(nonzero == nonzero.max()) > MAX_CEILING_SHARE:
        return False
    mean, variance = np.nanmean(values, axis=0), np.nanvar(values, axis=0)
    varying = variance > 0
    if not varying.any():
        return False
    return bool(np.mean(variance[varying] > mean[varying]) >= MIN_OVERDISPERSED_SHARE)


def choose_domain_settings(train_values: np.ndarray) -> AutoChoice:
    """The likelihood and preprocessing for one domain's training values."""
    values = observed(train_values)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return AutoChoice("gaussian", "standardize", "no observed values; gaussian on standardised features")
    if np.isin(finite, (0.0, 1.0)).all():
        return AutoChoice("bernoulli", "none", "every value is 0 or 1")
    low, high = float(finite.min()), float(finite.max())
    if low >= 0 and high <= 1:
        return AutoChoice("sigmoid_mse", "none", f"values lie in [0, 1] ({low:g} to {high:g})")
    if looks_like_counts(values):
        return AutoChoice(
            "negative_binomial", "none", "non-negative integers without a ceiling and overdispersed (counts)"
        )
    if is_nonnegative_integer(values):
        return AutoChoice(
            "gaussian",
            "standardize",
            f"non-negative integers ({low:g} to {high:g}) on a bounded scale (many at the maximum), not counts; gaussian on standardised features",
        )
    return AutoChoice(
        "gaussian", "standardize", f"real values from {low:g} to {high:g}; gaussian on standardised features"
    )


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
        choice = _complete(choose_domain_settings(values), own, values)
        domains[name] = dataclasses.replace(own, likelihood=choice.likelihood, preprocessing=choice.preprocessing)
        chosen[name] = choice
    model = dataclasses.replace(config.model, domains=domains)
    return dataclasses.replace(config, model=model), chosen


def _complete(suggested: AutoChoice, own: DomainConfig, values: np.ndarray) -> AutoChoice:
    """The suggestion where the domain says "auto", the domain's own setting elsewhere, kept consistent."""
    if own.likelihood == AUTO and own.preprocessing == AUTO:
        return suggested
    if own.preprocessing == AUTO:
        likelihood = own.likelihood
        if likelihood == suggested.likelihood:
            preprocessing = suggested.preprocessing
        elif likelihood in ("sigmoid_mse", "bernoulli"):
            finite = observed(values)
            preprocessing = "none" if finite.size and np.nanmin(finite) >= 0 and np.nanmax(finite) <= 1 else "minmax"
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
    else:
        likelihood = suggested.likelihood if suggested.preprocessing == "none" else "gaussian"
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
