"""Per-domain transforms into the range a sigmoid-output model needs, invertible so results come back in user units.

Each preprocessor is fitted on the training split only; `to_dict` gives plain JSON-able parameters that a run
folder stores and `preprocessor_from_dict` rebuilds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from sharedlatent import names
from sharedlatent.arrays import as_matrix as _as_matrix
from sharedlatent.errors import SharedLatentError


class Preprocessor(Protocol):
    """fit on training data, then transform / inverse_transform any array with the same features."""

    name: str

    def fit(self, train: np.ndarray) -> Preprocessor: ...

    def transform(self, values: np.ndarray) -> np.ndarray: ...

    def inverse_transform(self, values: np.ndarray) -> np.ndarray: ...

    def to_dict(self) -> dict[str, Any]: ...


def as_matrix(values: np.ndarray, what: str) -> np.ndarray:
    """A 2-D float64 array (float64 keeps round trips exact enough); NaN passes through as before, for the
    caller's missing-value logic, while infinite values are refused (arrays.as_matrix)."""
    return _as_matrix(values, what, dtype=np.float64, allow_nan=True)


RELATIVE_SCALE_FLOOR = 0.05  # a near-constant feature's spread counts as at least this share of the median feature's
CONCENTRATED_SHARE = 0.5  # this share of a feature's values at its minimum (or maximum): mostly one value
# ... and a standard deviation under this share of its own range: the other values are rare. A 0/1 feature is
# concentrated below about 7% ones; a 50/50 or 70/30 split (sex, smoker) spreads (std 0.46-0.5 of its range).
RARE_SPREAD = 0.25


def concentrated_features(values: np.ndarray) -> np.ndarray:
    """Per feature: whether at least half its values sit at its minimum or at its maximum and the rest are rare
    (spread under RARE_SPREAD of its range: an image's border pixel, a gene seen in few cells), as against a
    feature whose values spread (one measured in small units, a balanced 0/1 column)."""
    values = np.asarray(values, dtype=np.float64)
    if values.shape[0] == 0:
        return np.zeros(values.shape[1], dtype=bool)
    low, high = values.min(axis=0), values.max(axis=0)
    at_extreme = np.maximum((values == low).sum(axis=0), (values == high).sum(axis=0))
    return (at_extreme >= CONCENTRATED_SHARE * values.shape[0]) & (values.std(axis=0) < RARE_SPREAD * (high - low))


def near_constant(scale: np.ndarray, concentrated: np.ndarray | None, spans: np.ndarray | None = None) -> np.ndarray:
    """Per feature: mostly one value (`concentrated`) and spread less than its floor (see `floors`; `spans`: each
    feature's max - min). A feature whose values spread keeps its own scale however small its units (0.05 beside
    features of 100s)."""
    scale = np.asarray(scale, dtype=np.float64)
    if concentrated is None:
        return np.zeros(scale.shape, dtype=bool)
    return np.asarray(concentrated, dtype=bool) & (scale < floors(scale, spans))


def relative_floor(scale: np.ndarray) -> float:
    """5% of the median positive spread (0 when none is positive)."""
    positive = scale[scale > 0]
    return RELATIVE_SCALE_FLOOR * float(np.median(positive)) if positive.size else 0.0


def floors(scale: np.ndarray, spans: np.ndarray | None = None) -> np.ndarray:
    """Each feature's least spread: 5% of the median feature's (`relative_floor`), but at most RARE_SPREAD of its own
    range (`spans`, max - min), so that a rare feature beside others in larger units (a 0/1 flag beside dollars, a
    pixel lit in a few images) is not squashed to nothing: its training values stay within about 4 of its mean once
    scaled. The price: a value far beyond its training range (255 where training saw 0 to 5) becomes a large input
    (204 there, against 69 under the relative floor alone). MNIST halves translated better with the cap: 0.715 /
    0.631 standardised MSE against 0.740 / 0.648 with it for flags only (benchmarks/real_tasks.py mnist, version
    0.7.0; 0.7.1's rounding moved the first to 0.719 / 0.636)."""
    floor = np.full(np.shape(scale), relative_floor(np.asarray(scale, dtype=np.float64)))
    return floor if spans is None else np.minimum(floor, RARE_SPREAD * np.asarray(spans, dtype=np.float64))


def safe_scale(
    scale: np.ndarray, concentrated: np.ndarray | None = None, spans: np.ndarray | None = None
) -> np.ndarray:
    """Spreads to divide by: zero (constant features) becomes 1, and a near-constant feature's spread (see
    `near_constant`) is raised to its floor (`floors`), so a rare nonzero value in it (an image's border pixel)
    does not become an input hundreds of units large (its training values stay within about 4 units)."""
    scale = np.asarray(scale, dtype=np.float64)
    raised = np.where(near_constant(scale, concentrated, spans), np.maximum(scale, floors(scale, spans)), scale)
    return np.where(scale > 0, raised, 1.0)


def nonnegative_flags(minimum: np.ndarray) -> list[float]:
    """Affine.nonnegative from each feature's training minimum."""
    return np.where(np.asarray(minimum, dtype=np.float64) >= 0, 1.0, 0.0).tolist()


def clipped(values: np.ndarray, nonnegative: list[float] | None) -> np.ndarray:
    """`values` with the features flagged in `nonnegative` clipped at 0 (unchanged without flags)."""
    if nonnegative is None:
        return values
    return np.where(np.asarray(nonnegative) > 0, np.maximum(values, 0.0), values)


def output(values: np.ndarray) -> np.ndarray:
    return values.astype(np.float32)


@dataclass
class Identity:
    """Leaves values as they are ("none"), except that outputs of a feature never negative in training are clipped
    at 0 (see Affine.nonnegative)."""

    nonnegative: list[float] | None = None
    name: str = field(default="none", init=False)

    def fit(self, train: np.ndarray) -> Identity:
        train = as_matrix(train, "none: training data")
        self.nonnegative = nonnegative_flags(train.min(axis=0)) if train.shape[0] else None
        return self

    def transform(self, values: np.ndarray) -> np.ndarray:
        return output(as_matrix(values, "none"))

    def inverse_transform(self, values: np.ndarray) -> np.ndarray:
        values = as_matrix(values, "none")
        flags = self.nonnegative if self.nonnegative and len(self.nonnegative) == values.shape[1] else None
        return output(clipped(values, flags))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "nonnegative": self.nonnegative}


@dataclass
class Affine:
    """(x - offset) / scale with offset and scale learnt by `fit`; the base of the min-max and z-score variants."""

    offset: list[float] | None = None
    scale: list[float] | None = None
    # 1.0 for each feature whose training values were all >= 0 (TPM, intensities, ages): its outputs are clipped at
    # 0, so a translation never answers a negative amount; None in files written before it
    nonnegative: list[float] | None = None
    name: str = field(default="affine", init=False)

    def statistics(self, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def fit(self, train: np.ndarray) -> Affine:
        train = as_matrix(train, f"{self.name}: training data")
        if train.shape[0] == 0:
            raise SharedLatentError(f"{self.name}: cannot fit on an empty training array")
        offset, scale = self.statistics(train)
        per_feature = np.size(scale) == train.shape[1]
        concentrated = concentrated_features(train) if per_feature else None
        spans = np.ptp(train, axis=0) if per_feature else None
        self.offset, self.scale = np.ravel(offset).tolist(), np.ravel(safe_scale(scale, concentrated, spans)).tolist()
        self.nonnegative = nonnegative_flags(train.min(axis=0) if per_feature else np.array([train.min()]))
        return self

    def parameters(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.offset is None or self.scale is None:
            raise SharedLatentError(f"{self.name}: call fit on the training data before transform")
        offset, scale = np.asarray(self.offset), np.asarray(self.scale)
        if offset.size > 1 and values.shape[1] != offset.size:
            raise SharedLatentError(f"{self.name}: fitted on {offset.size} features, got {values.shape[1]}")
        return offset, scale

    def transform(self, values: np.ndarray) -> np.ndarray:
        values = as_matrix(values, self.name)
        offset, scale = self.parameters(values)
        return output((values - offset) / scale)

    def inverse_transform(self, values: np.ndarray) -> np.ndarray:
        values = as_matrix(values, self.name)
        offset, scale = self.parameters(values)
        return output(clipped(values * scale + offset, self.nonnegative))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "offset": self.offset, "scale": self.scale, "nonnegative": self.nonnegative}


@dataclass
class MinMax(Affine):
    """One global min and max over all features, mapped to [0, 1] ("minmax"; keeps images' relative contrast)."""

    name: str = field(default="minmax", init=False)

    def statistics(self, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        low, high = train.min(), train.max()
        return np.array([low]), np.array([high - low])


@dataclass
class MinMaxPerFeature(Affine):
    """Each feature's training min and max mapped to [0, 1] ("minmax_per_feature")."""

    name: str = field(default="minmax_per_feature", init=False)

    def statistics(self, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        low, high = train.min(axis=0), train.max(axis=0)
        return low, high - low


@dataclass
class Standardize(Affine):
    """Each feature to zero mean and unit variance on the training data ("standardize"; not bounded to [0, 1])."""

    name: str = field(default="standardize", init=False)

    def statistics(self, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return train.mean(axis=0), train.std(axis=0)


@dataclass
class Log1p:
    """log(1 + x) for non-negative data such as counts ("log1p"); nothing to fit."""

    name: str = field(default="log1p", init=False)

    def check(self, values: np.ndarray) -> np.ndarray:
        values = as_matrix(values, self.name)
        if values.size and values.min() < 0:
            raise SharedLatentError(f"log1p: needs values >= 0 (such as counts), got a minimum of {values.min():g}")
        return values

    def fit(self, train: np.ndarray) -> Log1p:
        self.check(train)
        return self

    def transform(self, values: np.ndarray) -> np.ndarray:
        return output(np.log1p(self.check(values)))

    def inverse_transform(self, values: np.ndarray) -> np.ndarray:
        return output(np.maximum(np.expm1(as_matrix(values, self.name)), 0.0))  # fitted on values >= 0 only

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name}


@dataclass
class Log1pMinMax:
    """log1p, then per-feature min-max to [0, 1] ("log1p_minmax"): the usual choice for counts and a sigmoid output."""

    scaler: MinMaxPerFeature = field(default_factory=MinMaxPerFeature)
    name: str = field(default="log1p_minmax", init=False)

    def fit(self, train: np.ndarray) -> Log1pMinMax:
        self.scaler.fit(np.log1p(Log1p().check(train)))
        return self

    def transform(self, values: np.ndarray) -> np.ndarray:
        return self.scaler.transform(np.log1p(Log1p().check(values)))

    def inverse_transform(self, values: np.ndarray) -> np.ndarray:
        return output(np.expm1(as_matrix(self.scaler.inverse_transform(values), self.name)))

    def to_dict(self) -> dict[str, Any]:
        scaler = self.scaler
        return {"name": self.name, "offset": scaler.offset, "scale": scaler.scale, "nonnegative": scaler.nonnegative}


_CLASSES = (Identity, MinMax, MinMaxPerFeature, Standardize, Log1p, Log1pMinMax)
PREPROCESSORS: dict[str, type] = {name: next(c for c in _CLASSES if c().name == name) for name in names.PREPROCESSINGS}


def make_preprocessor(name: str) -> Preprocessor:
    """A new, unfitted preprocessor by name."""
    if name not in PREPROCESSORS:
        raise SharedLatentError(f"unknown preprocessing {name!r}; choose one of {', '.join(PREPROCESSORS)}")
    return PREPROCESSORS[name]()


OPTIONAL_KEYS = {"nonnegative"}  # model files written before it lack it


def preprocessor_from_dict(data: dict[str, Any]) -> Preprocessor:
    """Rebuild a fitted preprocessor from its `to_dict` output."""
    if not isinstance(data, dict) or "name" not in data:
        raise SharedLatentError(f"preprocessing settings must be a table with a 'name', got {data!r}")
    preprocessor = make_preprocessor(data["name"])
    expected = set(preprocessor.to_dict())
    if not set(expected) - OPTIONAL_KEYS <= set(data) <= expected:
        raise SharedLatentError(f"preprocessing {data['name']!r}: expected keys {sorted(expected)}, got {sorted(data)}")
    target = preprocessor.scaler if isinstance(preprocessor, Log1pMinMax) else preprocessor
    for key in set(data) - {"name"}:
        setattr(target, key, None if data[key] is None else [float(v) for v in data[key]])
    return preprocessor


def fit_preprocessor(name: str, train: np.ndarray) -> Preprocessor:
    """make_preprocessor(name) fitted on `train`."""
    return make_preprocessor(name).fit(train)


def present_rows(values: np.ndarray, present: Mapping[str, np.ndarray] | None, name: str) -> np.ndarray:
    """The rows of `values` whose sample has domain `name` (all rows without presence masks)."""
    return values if present is None or name not in present else values[present[name]]


def fit_preprocessors(
    methods: Mapping[str, str], arrays: Mapping[str, np.ndarray], present: Mapping[str, np.ndarray] | None
) -> dict[str, Preprocessor]:
    """One preprocessor per domain of `arrays`, by its name in `methods`, fitted on the rows present there."""
    return {
        name: fit_preprocessor(methods[name], present_rows(values, present, name)) for name, values in arrays.items()
    }


def transform_all(
    preprocessors: Mapping[str, Preprocessor],
    arrays: Mapping[str, np.ndarray],
    present: Mapping[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Each domain's transformed float32 array; rows of absent samples (per `present`) stay zero."""
    out = {}
    for name, values in arrays.items():
        transformed = np.ascontiguousarray(preprocessors[name].transform(values), dtype=np.float32)
        if present is not None and name in present:
            transformed[~present[name]] = 0.0
        out[name] = transformed
    return out


class RunningStatistics:
    """Per-feature count, mean, sum of squared deviations, min and max and how many values sit at each, merged chunk
    by chunk (Chan et al.)."""

    def __init__(self) -> None:
        self.n, self.mean, self.squares, self.low, self.high = 0, None, None, None, None
        self.at_low, self.at_high = None, None

    def add(self, chunk: np.ndarray) -> None:
        if chunk.shape[0] == 0:
            return
        n, mean = chunk.shape[0], chunk.mean(axis=0)
        squares = ((chunk - mean) ** 2).sum(axis=0)
        low, high = chunk.min(axis=0), chunk.max(axis=0)
        at_low, at_high = (chunk == low).sum(axis=0), (chunk == high).sum(axis=0)
        if self.n == 0:
            self.n, self.mean, self.squares, self.low, self.high = n, mean, squares, low, high
            self.at_low, self.at_high = at_low, at_high
            return
        total, delta = self.n + n, mean - self.mean
        self.squares = self.squares + squares + delta**2 * self.n * n / total
        self.mean = self.mean + delta * n / total
        new_low, new_high = np.minimum(self.low, low), np.maximum(self.high, high)
        self.at_low = np.where(self.low == new_low, self.at_low, 0) + np.where(low == new_low, at_low, 0)
        self.at_high = np.where(self.high == new_high, self.at_high, 0) + np.where(high == new_high, at_high, 0)
        self.n, self.low, self.high = total, new_low, new_high

    def concentrated(self) -> np.ndarray:
        """preprocessing.concentrated_features of every row added."""
        at_extreme = np.maximum(self.at_low, self.at_high) >= CONCENTRATED_SHARE * self.n
        return at_extreme & (np.sqrt(self.squares / self.n) < RARE_SPREAD * (self.high - self.low))

    def affine(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(offset, scale) of the Affine preprocessor `name` from these statistics."""
        if name == "minmax":
            return np.array([self.low.min()]), np.array([self.high.max() - self.low.min()])
        if name == "standardize":
            return self.mean, np.sqrt(self.squares / self.n)
        return self.low, self.high - self.low


def fit_streamed(name: str, chunks: Iterable[np.ndarray]) -> Preprocessor:
    """make_preprocessor(name) fitted in one pass over row chunks of the training data: the same min and max as
    `fit` on the whole array, and mean and spread equal up to float rounding."""
    preprocessor = make_preprocessor(name)
    statistics = RunningStatistics()
    for chunk in chunks:
        chunk = as_matrix(chunk, f"{name}: training data")
        statistics.add(np.log1p(Log1p().check(chunk)) if name in ("log1p", "log1p_minmax") else chunk)
    if statistics.n == 0:
        raise SharedLatentError(f"{name}: cannot fit on an empty training array")
    target = preprocessor.scaler if isinstance(preprocessor, Log1pMinMax) else preprocessor
    if isinstance(target, Affine):
        offset, scale = statistics.affine(target.name)
        per_feature = np.size(scale) == np.size(statistics.low)
        concentrated = statistics.concentrated() if per_feature else None
        spans = statistics.high - statistics.low if per_feature else None
        target.offset, target.scale = (
            np.ravel(offset).tolist(),
            np.ravel(safe_scale(scale, concentrated, spans)).tolist(),
        )
        target.nonnegative = nonnegative_flags(statistics.low if per_feature else np.array([statistics.low.min()]))
    elif isinstance(target, Identity):
        target.nonnegative = nonnegative_flags(statistics.low)
    return preprocessor
