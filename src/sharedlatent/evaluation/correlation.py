"""Pearson and Spearman correlations per feature (across samples) and per sample (across features), and their
summary; NaN marks a constant row or column, where a correlation is undefined."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sharedlatent.evaluation.checks import matching_pair


@dataclass(frozen=True)
class CorrelationSummary:
    """Mean and median of per-feature or per-sample correlations, ignoring undefined (NaN) entries."""

    mean: float
    median: float
    n_defined: int
    n_total: int


def _column_pearson(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column pair; NaN where either column is constant (up to float rounding)."""
    truth_centred = truth - truth.mean(axis=0)
    prediction_centred = prediction - prediction.mean(axis=0)
    covariance = np.sum(truth_centred * prediction_centred, axis=0)
    truth_spread, prediction_spread = np.sum(truth_centred**2, axis=0), np.sum(prediction_centred**2, axis=0)
    scale = np.sqrt(truth_spread * prediction_spread)
    correlation = np.full(truth.shape[1], np.nan)
    defined = (truth_spread > _rounding_floor(truth)) & (prediction_spread > _rounding_floor(prediction))
    correlation[defined] = np.clip(covariance[defined] / scale[defined], -1.0, 1.0)
    return correlation


def _rounding_floor(values: np.ndarray) -> np.ndarray:
    """Sum of squared deviations a constant column can show from float rounding alone."""
    magnitude = np.max(np.abs(values), axis=0) if values.size else np.zeros(values.shape[1])
    return values.shape[0] * (1e-12 * np.maximum(magnitude, 1e-30)) ** 2


def per_feature_pearson(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """Pearson correlation across samples for each feature; NaN for constant features."""
    truth, prediction = matching_pair(truth, prediction, "truth", "prediction")
    return _column_pearson(truth, prediction)


def per_sample_pearson(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """Pearson correlation across features for each sample; NaN for constant samples."""
    truth, prediction = matching_pair(truth, prediction, "truth", "prediction")
    return _column_pearson(truth.T, prediction.T)


def per_feature_spearman(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """Spearman rank correlation across samples for each feature (ties get average ranks); NaN for constant features."""
    from scipy.stats import rankdata  # scipy comes with scikit-learn; imported here, the feature scatter stays light

    truth, prediction = matching_pair(truth, prediction, "truth", "prediction")
    return _column_pearson(rankdata(truth, axis=0), rankdata(prediction, axis=0))


def per_sample_spearman(truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """Spearman rank correlation across features for each sample; NaN for constant samples."""
    return per_feature_spearman(np.asarray(truth).T, np.asarray(prediction).T)


def summarize_correlations(correlations: np.ndarray) -> CorrelationSummary:
    """Mean and median of correlations, skipping NaN; both are NaN when none is defined."""
    values = np.asarray(correlations, dtype=np.float64).ravel()
    defined = values[~np.isnan(values)]
    if defined.size == 0:
        return CorrelationSummary(mean=float("nan"), median=float("nan"), n_defined=0, n_total=values.size)
    return CorrelationSummary(
        mean=float(defined.mean()), median=float(np.median(defined)), n_defined=defined.size, n_total=values.size
    )
