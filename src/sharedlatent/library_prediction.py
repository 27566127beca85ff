"""A count domain's library size (total count per sample) predicted from the latent, for decoding that domain where
no total is observed: translations into it from other domains, and generated samples.

With `library = "observed"` the model trains on each sample's own total, so the latent need not carry sequencing
depth; a translation has no total to observe and used the training mean for every sample. Where the total goes with
what the latent holds (a cell type with more RNA), that constant cost most of the accuracy: a review's count
targets scored 1.15x and 3.9x ridge's error. This fits, after training and outside the network, a ridge regression
of log total on the latent means the other domains give for the same training samples (what a translation encodes),
scaled so that its training average equals the mean total, and clipped to the training range."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sharedlatent.errors import SharedLatentError

RIDGE_PENALTY = 1.0  # on latent means of about unit scale, against sums over hundreds of samples: a light touch
MIN_SAMPLES = 10  # fewer training samples with a total: keep the constant mean
KEYS = {"intercept", "weights", "scale", "low", "high"}


@dataclass(frozen=True)
class LibraryPredictor:
    """Total count = scale * exp(intercept + latent . weights), clipped to [low, high] (the training totals')."""

    intercept: float
    weights: tuple[float, ...]
    scale: float
    low: float
    high: float

    def predict(self, latent: np.ndarray) -> np.ndarray:
        """One total per latent row, as a float32 column."""
        log_total = self.intercept + np.asarray(latent, dtype=np.float64) @ np.asarray(self.weights)
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
    def from_dict(cls, values: Mapping[str, Any], latent_size: int, where: str) -> LibraryPredictor:
        """The predictor a model file stores, checked: the file is data (finite numbers, one weight per latent
        dimension, 0 < low <= high, a positive scale)."""
        if not isinstance(values, Mapping) or set(values) != KEYS:
            raise SharedLatentError(f"{where} must hold exactly {sorted(KEYS)}")
        weights = values["weights"]
        numbers = [values["intercept"], values["scale"], values["low"], values["high"]]
        if not isinstance(weights, list) or len(weights) != latent_size:
            raise SharedLatentError(
                f"{where}: weights must be a list of {latent_size} numbers (one per latent dimension)"
            )
        if not all(_finite(v) for v in [*numbers, *weights]):
            raise SharedLatentError(f"{where} holds a value that is not a finite number")
        if not (values["scale"] > 0 and 0 < values["low"] <= values["high"]):
            raise SharedLatentError(f"{where}: scale must be positive and 0 < low <= high")
        return cls(float(values["intercept"]), tuple(map(float, weights)), *(float(v) for v in numbers[1:]))


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def fit_library_predictor(latent: np.ndarray, totals: np.ndarray) -> LibraryPredictor | None:
    """Ridge regression of log total on `latent` (rows of samples with a total of at least 1), calibrated so its mean
    prediction over them equals their mean total; None for fewer than MIN_SAMPLES such samples."""
    latent, totals = np.asarray(latent, dtype=np.float64), np.asarray(totals, dtype=np.float64)
    keep = np.isfinite(totals) & (totals >= 1) & np.isfinite(latent).all(axis=1)
    latent, totals = latent[keep], totals[keep]
    if len(totals) < MIN_SAMPLES:
        return None
    target = np.log(totals)
    x_mean, y_mean = latent.mean(axis=0), target.mean()
    centred = latent - x_mean
    gram = centred.T @ centred + RIDGE_PENALTY * np.eye(latent.shape[1])
    weights = np.linalg.solve(gram, centred.T @ (target - y_mean))
    intercept = float(y_mean - x_mean @ weights)
    fitted = np.exp(intercept + latent @ weights)
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
        latents, totals = [], []
        for other in arrays:
            if other == domain:
                continue
            both = rows_with & _rows(present, other, len(arrays[other]))
            if not both.any():
                continue
            rows = None if covariates is None else covariates[both]
            latents.append(encode_means(model.module, {other: arrays[other][both]}, None, model.device, rows))
            totals.append(np.asarray(arrays[domain][both], dtype=np.float64).sum(axis=1))
        if latents:
            predictor = fit_library_predictor(np.concatenate(latents), np.concatenate(totals))
            if predictor is not None:
                predictors[domain] = predictor
    return predictors


def _rows(present: Mapping[str, np.ndarray] | None, domain: str, n: int) -> np.ndarray:
    """Which rows hold `domain` (all without presence masks)."""
    if present is None or domain not in present:
        return np.ones(n, dtype=bool)
    return np.asarray(present[domain], dtype=bool)
