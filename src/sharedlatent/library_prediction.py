"""A count domain's library size (total count per sample) predicted from the latent, for decoding that domain where
no total is observed: translations into it from other domains, and generated samples.

With `library = "observed"` the model trains on each sample's own total, so the latent need not carry sequencing
depth; a translation has no total to observe and used the training mean for every sample. Where the total goes with
what the latent holds (a cell type with more RNA), that constant cost most of the accuracy: a review's count
targets scored 1.15x and 3.9x ridge's error. This fits, after training and outside the network, a ridge regression
of log total on the latent means the other domains give for the same training samples (what a translation encodes)
and their covariate rows (batch one-hot, continuous covariates: depth differs by batch, which the latent is built
not to hold), its penalty chosen by generalised cross-validation so that a latent unrelated to depth gives
near-zero weights, scaled so that its training average equals the mean total, and clipped to the training range."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sharedlatent.errors import SharedLatentError
from sharedlatent.plain_values import FLOAT32_MAX
from sharedlatent.svd import thin_svd

PENALTIES = np.logspace(-2, 5, 15)  # candidate ridge penalties, chosen among by GCV
MIN_SAMPLES = 10  # fewer training samples with a total: keep the constant mean
KEYS = {"intercept", "weights", "scale", "low", "high"}


@dataclass(frozen=True)
class LibraryPredictor:
    """Total count = scale * exp(intercept + [latent, covariates] . weights), clipped to [low, high] (the training
    totals'); the weights past the latent's are the covariate columns' (batch one-hot, continuous covariates)."""

    intercept: float
    weights: tuple[float, ...]
    scale: float
    low: float
    high: float

    def predict(self, latent: np.ndarray, covariates: np.ndarray | None = None) -> np.ndarray:
        """One total per latent row (with its covariate row, for a model with covariates), as a float32 column."""
        design = _design(latent, covariates)
        if design.shape[1] != len(self.weights):
            raise SharedLatentError(
                f"the library predictor takes {len(self.weights)} columns (latent and covariates), got {design.shape[1]}"
            )
        log_total = self.intercept + design @ np.asarray(self.weights)
        totals = self.scale * np.exp(np.clip(log_total, -80.0, 80.0))
        return np.clip(totals, self.low, self.high).astype(np.float32)[:, None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "intercept": self.intercept,
            "weights": list(self.weights),
            "scale": self.scale,
            "low": self.low,
            "high": self.high,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], width: int, where: str) -> LibraryPredictor:
        """The predictor a model file stores, checked: the file is data (numbers finite in float32, one weight per
        latent dimension and covariate column (`width`), 0 < low <= high, a positive scale)."""
        if not isinstance(values, Mapping) or set(values) != KEYS:
            raise SharedLatentError(f"{where} must hold exactly {sorted(KEYS)}")
        weights = values["weights"]
        numbers = [values["intercept"], values["scale"], values["low"], values["high"]]
        if not isinstance(weights, list) or len(weights) != width:
            raise SharedLatentError(
                f"{where}: weights must be a list of {width} numbers (one per latent dimension and covariate column)"
            )
        if not all(_finite(v) for v in [*numbers, *weights]):
            raise SharedLatentError(f"{where} holds a value that is not a finite number")
        if not (values["scale"] > 0 and 0 < values["low"] <= values["high"]):
            raise SharedLatentError(f"{where}: scale must be positive and 0 < low <= high")
        return cls(float(values["intercept"]), tuple(map(float, weights)), *(float(v) for v in numbers[1:]))


def regressor_width(model: Any) -> int:
    """How many weights a predictor of a model with this `model` config section holds: one per latent dimension,
    batch category and continuous covariate."""
    return model.latent_size + model.batch_categories + model.continuous_covariates


def _finite(value: Any) -> bool:
    """A number (not a bool) that stays finite in float32, as every value the model computes with."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) <= FLOAT32_MAX
    )


def _design(latent: np.ndarray, covariates: np.ndarray | None) -> np.ndarray:
    """The regressors: latent means, then the covariate rows where there are any."""
    latent = np.asarray(latent, dtype=np.float64)
    if covariates is None:
        return latent
    return np.hstack([latent, np.asarray(covariates, dtype=np.float64)])


def fit_library_predictor(
    latent: np.ndarray, totals: np.ndarray, covariates: np.ndarray | None = None
) -> LibraryPredictor | None:
    """Ridge regression of log total on `latent` and `covariates` (rows of samples with a total of at least 1), its
    penalty the GCV choice among PENALTIES, calibrated so its mean prediction over them equals their mean total;
    None for fewer than MIN_SAMPLES such samples."""
    design, totals = _design(latent, covariates), np.asarray(totals, dtype=np.float64)
    keep = np.isfinite(totals) & (totals >= 1) & np.isfinite(design).all(axis=1)
    design, totals = design[keep], totals[keep]
    if len(totals) < MIN_SAMPLES:
        return None
    target = np.log(totals)
    x_mean, y_mean = design.mean(axis=0), target.mean()
    u, singular, vt = thin_svd(design - x_mean)
    projected = u.T @ (target - y_mean)
    best: tuple[float, float] | None = None
    for penalty in PENALTIES:  # generalised cross-validation: RSS / (1 - effective df / n)^2, one SVD for all
        shrink = singular**2 / (singular**2 + penalty)
        residual = target - y_mean - u @ (shrink * projected)
        score = float(residual @ residual) / max(1.0 - shrink.sum() / len(target), 1e-6) ** 2
        if best is None or score < best[0]:
            best = (score, float(penalty))
    assert best is not None
    weights = vt.T @ (singular / (singular**2 + best[1]) * projected)
    intercept = float(y_mean - x_mean @ weights)
    fitted = np.exp(intercept + design @ weights)
    scale = float(totals.mean() / fitted.mean())
    return LibraryPredictor(intercept, tuple(map(float, weights)), scale, float(totals.min()), float(totals.max()))


def fit_library_predictors(
    model: Any,
    arrays: Mapping[str, np.ndarray],
    present: Mapping[str, np.ndarray] | None,
    covariates: np.ndarray | None,
) -> dict[str, LibraryPredictor]:
    """A predictor per count domain whose library is "observed", fitted on the latent means each other domain gives
    alone for the training samples both hold (stacked over the other domains); `arrays` are the training arrays as
    the model sees them (raw counts for count domains)."""
    from sharedlatent.inference import encode_means

    predictors = {}
    for domain in arrays:
        if not model.module.uses_observed_library(domain):
            continue
        rows_with = _rows(present, domain, len(arrays[domain]))
        latents, totals, extra = [], [], []
        for other in arrays:
            if other == domain:
                continue
            both = rows_with & _rows(present, other, len(arrays[other]))
            if not both.any():
                continue
            rows = None if covariates is None else covariates[both]
            latents.append(encode_means(model.module, {other: arrays[other][both]}, None, model.device, rows))
            totals.append(np.asarray(arrays[domain][both], dtype=np.float64).sum(axis=1))
            extra.append(None if rows is None else np.asarray(rows, dtype=np.float64))
        if latents:
            rows = None if extra[0] is None else np.concatenate(extra)
            predictor = fit_library_predictor(np.concatenate(latents), np.concatenate(totals), rows)
            if predictor is not None:
                predictors[domain] = predictor
    return predictors


def _rows(present: Mapping[str, np.ndarray] | None, domain: str, n: int) -> np.ndarray:
    """Which rows hold `domain` (all without presence masks)."""
    if present is None or domain not in present:
        return np.ones(n, dtype=bool)
    return np.asarray(present[domain], dtype=bool)
