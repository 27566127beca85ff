"""Baselines for one translation direction: cross-validated ridge, kNN regression and the mean predictor.

Pure functions of numpy arrays (no torch). The caller passes sources as the model's encoder sees them, targets as
the model predicts them (after its preprocessing; baseline_metrics.target_space) and an inverse that maps
predictions back to the data's scale; scores are then on the data's scale and on features z-scored by the training
target's standard deviation. The mean baseline is the training mean in that target space, mapped back: the
training mean itself for affine preprocessings and counts (not for a log1p target, where it is expm1 of the mean
log).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from sharedlatent.errors import SharedLatentError
from sharedlatent.svd import thin_svd

RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-3, 4, 15))  # 1e-3 .. 1e4, half a decade apart
KNN_NEIGHBOURS = (1, 3, 5, 10, 20, 50)  # k is chosen by 5-fold cross-validation among those below the sample count
CV_FOLDS = 5
SEARCH_ROWS = 20_000  # above this many training rows, kNN and the ridge penalty search use a seeded subsample
NEAR_EXACT = 1e-4  # a standardised MSE below this is an exact fit, not a baseline to divide by
STD_FLOOR = 1e-12  # below this a training feature is constant

Inverse = Callable[[np.ndarray], np.ndarray]


@dataclass
class BaselinePredictions:
    """Predictions of each baseline on the test rows, on the data's scale, with the choices made and notes."""

    predictions: dict[str, np.ndarray]
    ridge_alpha: float
    knn_neighbours: int
    notes: list[str] = field(default_factory=list)


@dataclass
class Scores:
    """How well one predictor matches the test truth (all floats; AUROC None unless the target is binary)."""

    mse: float
    standardized_mse: float
    pearson: float
    spearman: float
    auroc: float | None = None


@dataclass
class DirectionScores:
    """Scores of the model and every baseline for one direction, JSON-serialisable through to_dict()."""

    direction: str
    n_train: int
    n_test: int
    scores: dict[str, Scores]
    ridge_alpha: float
    knn_neighbours: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def observed_rows(*arrays: np.ndarray) -> np.ndarray:
    """Rows where no array has a NaN (an absent sample in partially paired data is an all-NaN row)."""
    keep = np.ones(len(arrays[0]), dtype=bool)
    for values in arrays:
        keep &= ~np.isnan(np.asarray(values, dtype=float)).any(axis=1)
    return keep


def fit_baselines(
    source_train: np.ndarray,
    target_train: np.ndarray,
    source_test: np.ndarray,
    inverse: Inverse | None = None,
    seed: int = 0,
    search_rows: int = SEARCH_ROWS,
) -> BaselinePredictions:
    """Fit ridge (penalty by CV), kNN (k by CV) and the mean on the training rows; predict the test rows.

    Rows with a NaN in the source or target training arrays are dropped. `inverse` maps predictions from the
    (preprocessed) training space to the data's scale; identity when None."""
    from sklearn.linear_model import Ridge
    from sklearn.neighbors import KNeighborsRegressor

    inverse = inverse or (lambda values: values)
    keep = observed_rows(source_train, target_train)
    x, y = np.asarray(source_train, dtype=float)[keep], np.asarray(target_train, dtype=float)[keep]
    x_test = np.asarray(source_test, dtype=float)
    notes = []
    if keep.sum() < len(keep):
        notes.append(f"dropped {len(keep) - int(keep.sum())} training rows missing a domain")
    search = np.arange(len(x))
    if len(x) > search_rows:
        search = np.sort(np.random.default_rng(seed).choice(len(x), search_rows, replace=False))
        notes.append(
            f"kNN and the ridge penalty search used {search_rows} of {len(x)} training rows (seeded subsample)"
        )
    folds = min(CV_FOLDS, len(search))
    alpha = ridge_penalty(x[search], y[search], folds, seed) if folds >= 2 else 1.0
    ridge = Ridge(alpha=alpha).fit(x, y)
    candidates = [k for k in KNN_NEIGHBOURS if k <= len(search) * (folds - 1) // max(folds, 1)] or [1]
    if folds >= 2 and len(candidates) > 1:
        k = knn_neighbours(x[search], y[search], candidates, folds, seed)
    else:
        k = candidates[0]
    knn = KNeighborsRegressor(n_neighbors=min(k, len(search))).fit(x[search], y[search])
    mean = np.broadcast_to(y.mean(axis=0), (len(x_test), y.shape[1]))
    shape = (len(x_test), y.shape[1])  # scikit-learn gives 1-D predictions for a one-feature target
    predictions = {
        "ridge": inverse(ridge.predict(x_test).reshape(shape)),
        "knn": inverse(knn.predict(x_test).reshape(shape)),
        "mean": inverse(np.array(mean)),
    }
    return BaselinePredictions({n: np.asarray(p, dtype=float) for n, p in predictions.items()}, alpha, k, notes)


def _folds(n_rows: int, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (train, test) row indices of scikit-learn's KFold(folds, shuffle=True, random_state=seed)."""
    from sklearn.model_selection import KFold

    return list(KFold(folds, shuffle=True, random_state=seed).split(np.zeros((n_rows, 1))))


def ridge_penalty(x: np.ndarray, y: np.ndarray, folds: int, seed: int) -> float:
    """The RIDGE_ALPHAS penalty RidgeCV(alphas, cv=KFold(folds, shuffle, seed)) picks: the best R^2 (averaged over
    target features, then folds). Every penalty of a fold comes from one SVD of its centred rows instead of a fit
    per penalty (scikit-learn's 75 fits took most of a digits run's evaluation).

    One difference: below 2 * folds rows some fold holds a single row, whose R^2 scikit-learn leaves undefined
    (every penalty then scores NaN and it takes the smallest); here such a fold scores 0 (or 1 if exact), so
    the other folds decide."""
    scores = np.zeros(len(RIDGE_ALPHAS))
    for train, test in _folds(len(x), folds, seed):
        x_mean, y_mean = x[train].mean(axis=0), y[train].mean(axis=0)
        u, singular, vt = thin_svd(x[train] - x_mean)
        projected_y = u.T @ (y[train] - y_mean)
        projected_test = (x[test] - x_mean) @ vt.T
        for index, alpha in enumerate(RIDGE_ALPHAS):
            shrink = singular / (singular**2 + alpha)
            scores[index] += _r2(y[test], projected_test @ (shrink[:, None] * projected_y) + y_mean)
    return RIDGE_ALPHAS[int(np.argmax(scores))]  # the first of equal scores, as scikit-learn ranks them


def _r2(truth: np.ndarray, prediction: np.ndarray) -> float:
    """R^2 averaged over features as scikit-learn's r2_score scores it (a constant feature: 1 if predicted
    exactly, else 0)."""
    residual = ((truth - prediction) ** 2).sum(axis=0)
    total = ((truth - truth.mean(axis=0)) ** 2).sum(axis=0)
    per_feature = np.where(total > 0, 1 - residual / np.where(total > 0, total, 1), np.where(residual > 0, 0.0, 1.0))
    return float(per_feature.mean())


def knn_neighbours(x: np.ndarray, y: np.ndarray, candidates: list[int], folds: int, seed: int) -> int:
    """The neighbour count among `candidates` with the lowest mean squared error over KFold(folds, shuffle, seed),
    as GridSearchCV over KNeighborsRegressor picks it; one neighbour query per fold serves every count.

    Where distances tie (binary or duplicated rows), which of the tied rows count among the k nearest depends on
    the neighbour search, so the k chosen here can differ from GridSearchCV's; each is a cross-validated choice."""
    from sklearn.neighbors import NearestNeighbors

    errors = np.zeros(len(candidates))
    for train, test in _folds(len(x), folds, seed):
        _, nearest = NearestNeighbors(n_neighbors=max(candidates)).fit(x[train]).kneighbors(x[test])
        neighbour_targets = y[train][nearest]  # (test rows, neighbours, features), nearest first
        for index, k in enumerate(candidates):
            errors[index] += float(((neighbour_targets[:, :k].mean(axis=1) - y[test]) ** 2).mean())
    return candidates[int(np.argmin(errors))]


def scored_features(train_truth: np.ndarray) -> np.ndarray:
    """The features the standardised MSE scores: all but the constant and near-constant ones of the training
    truth (mostly one value, rare others and spread below 5% of the median feature's, preprocessing.near_constant:
    an image's border pixels), whose tiny errors would become huge z-scores while they hold almost nothing to
    predict. A feature whose values spread counts however small its units, and so does a balanced 0/1 column."""
    from sharedlatent.preprocessing import concentrated_features, near_constant

    scale = train_truth.std(axis=0)
    spans = np.ptp(train_truth, axis=0)
    return (scale > STD_FLOOR) & ~near_constant(scale, concentrated_features(train_truth), spans)


def score_prediction(
    truth: np.ndarray, prediction: np.ndarray, train_truth: np.ndarray, scored: np.ndarray | None = None
) -> Scores:
    """MSE on the data's scale, MSE z-scored by the training truth, mean per-feature Pearson/Spearman, AUROC if binary."""
    from sharedlatent.evaluation.correlation import per_feature_spearman

    truth, prediction = np.asarray(truth, dtype=float), np.asarray(prediction, dtype=float)
    train_truth = np.asarray(train_truth, dtype=float)
    train_truth = train_truth[observed_rows(train_truth)]
    scale = train_truth.std(axis=0)
    informative = scored_features(train_truth) if scored is None else scored  # `scored`: computed once per direction
    mse = float(np.mean((truth - prediction) ** 2))
    if informative.any():
        standardized = float(np.mean(((truth - prediction)[:, informative] / scale[informative]) ** 2))
    else:
        standardized = float("nan")
    varying = _varies(truth) & _varies(prediction)
    pearson = spearman = float("nan")
    if varying.any():
        t, p = truth[:, varying], prediction[:, varying]
        tc, pc = t - t.mean(axis=0), p - p.mean(axis=0)
        pearson = float(np.mean((tc * pc).sum(0) / np.sqrt((tc**2).sum(0) * (pc**2).sum(0))))
        spearman = float(np.nanmean(per_feature_spearman(t, p)))  # ranks of varying columns vary: all defined
    return Scores(mse, standardized, pearson, spearman, _auroc(truth, prediction))


def _varies(values: np.ndarray) -> np.ndarray:
    """Per column: spread beyond float rounding (relative to the column's size: a constant column of values near 1e6
    shows a std of about 1e-10 from rounding alone, and a correlation with it is noise)."""
    size = np.abs(values).max(axis=0) if len(values) else np.zeros(values.shape[1])
    return values.std(axis=0) > STD_FLOOR * np.maximum(size, 1.0)


def _auroc(truth: np.ndarray, prediction: np.ndarray) -> float | None:
    """Mean AUROC over features with both classes when every target value is 0 or 1, else None."""
    from sklearn.metrics import roc_auc_score

    if not np.isin(truth, (0.0, 1.0)).all():
        return None
    both = [j for j in range(truth.shape[1]) if 0 < truth[:, j].sum() < len(truth)]
    if not both:
        return None
    return float(np.mean([roc_auc_score(truth[:, j], prediction[:, j]) for j in both]))


def score_direction(
    direction: str,
    target_test: np.ndarray,
    target_train_raw: np.ndarray,
    model_prediction: np.ndarray | None,
    baselines: BaselinePredictions,
) -> DirectionScores:
    """Scores of the model (when given) and each baseline on the test rows that have the target (NaN rows dropped).

    `target_train_raw` is the training target on the data's scale (its mean/std standardise the scores)."""
    target_test = np.asarray(target_test, dtype=float)
    keep = observed_rows(target_test)
    if model_prediction is not None:
        keep &= observed_rows(np.asarray(model_prediction, dtype=float))
    predictors: dict[str, np.ndarray] = dict(baselines.predictions)
    if model_prediction is not None:
        predictors = {"model": np.asarray(model_prediction, dtype=float), **predictors}
    for values in predictors.values():
        keep &= observed_rows(values)
    train = np.asarray(target_train_raw, dtype=float)
    scored = scored_features(train[observed_rows(train)])
    scores = {
        name: score_prediction(target_test[keep], values[keep], target_train_raw, scored)
        for name, values in predictors.items()
    }
    notes = list(baselines.notes)
    if not scored.all():
        notes.append(
            f"the standardised MSE scores {int(scored.sum())} of {scored.size} features; the other"
            f" {int((~scored).sum())} are (near-)constant in training: mostly one value, spread below 5% of the"
            " median feature's"
        )
    if keep.sum() < len(keep):
        notes.append(f"scored {int(keep.sum())} of {len(keep)} test rows (the rest miss a domain)")
    n_train = int(observed_rows(np.asarray(target_train_raw, dtype=float)).sum())
    return DirectionScores(
        direction, n_train, int(keep.sum()), scores, baselines.ridge_alpha, baselines.knn_neighbours, notes
    )


def compare_direction(
    direction: str,
    source_train: np.ndarray,
    target_train: np.ndarray,
    source_test: np.ndarray,
    target_test_raw: np.ndarray,
    target_train_raw: np.ndarray | None = None,
    model_prediction: np.ndarray | None = None,
    inverse: Inverse | None = None,
    seed: int = 0,
    search_rows: int = SEARCH_ROWS,
) -> DirectionScores:
    """Fit the baselines in the preprocessed space and score them, and the model's prediction, on the data's scale.

    Arrays are samples x features (a 1-D array is one feature); NaN marks an absent value, and rows with one
    are dropped (noted); infinite values and mismatched shapes raise SharedLatentError."""
    source_train, source_test = _table(source_train, "source_train"), _table(source_test, "source_test")
    target_train, target_test_raw = _table(target_train, "target_train"), _table(target_test_raw, "target_test")
    _same_rows(("source_train", source_train), ("target_train", target_train))
    _same_rows(("source_test", source_test), ("target_test", target_test_raw))
    _same_columns(("source_train", source_train), ("source_test", source_test))
    _same_columns(("target_train", target_train), ("target_test", target_test_raw))
    if target_train_raw is not None:
        target_train_raw = _table(target_train_raw, "target_train_raw")
        _same_rows(("target_train", target_train), ("target_train_raw", target_train_raw))
        _same_columns(("target_test", target_test_raw), ("target_train_raw", target_train_raw))
    if model_prediction is not None:
        model_prediction = _table(model_prediction, "model_prediction", allow_inf=True)
        _same_rows(("target_test", target_test_raw), ("model_prediction", model_prediction))
        _same_columns(("target_test", target_test_raw), ("model_prediction", model_prediction))
    test_keep = observed_rows(source_test)
    target_test_raw = target_test_raw[test_keep]
    if model_prediction is not None:
        model_prediction = model_prediction[test_keep]
    train_keep = observed_rows(source_train, target_train)
    if not train_keep.any():
        raise SharedLatentError("no training row has both the source and the target (all miss a value)")
    baselines = fit_baselines(source_train, target_train, source_test[test_keep], inverse, seed, search_rows)
    raw = target_train if target_train_raw is None else target_train_raw
    raw = np.asarray(raw, dtype=float)[train_keep]
    scores = score_direction(direction, target_test_raw, raw, model_prediction, baselines)
    if not test_keep.all():
        scores.notes.append(f"dropped {int((~test_keep).sum())} test rows with a missing (NaN) source value")
    return scores


def _table(values: Any, name: str, allow_inf: bool = False) -> np.ndarray:
    """`values` as a float samples x features array (1-D: one feature); raises on other shapes and infinities."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise SharedLatentError(f"{name} is not an array of numbers: {error}") from None
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise SharedLatentError(f"{name} must be samples x features, got shape {array.shape}")
    if not allow_inf and np.isinf(array).any():
        raise SharedLatentError(f"{name} has infinite values; NaN marks a missing one")
    return array


def _same_rows(first: tuple[str, np.ndarray], second: tuple[str, np.ndarray]) -> None:
    """Raise unless both named arrays have as many rows."""
    if len(first[1]) != len(second[1]):
        raise SharedLatentError(f"{first[0]} has {len(first[1])} rows but {second[0]} has {len(second[1])}")


def _same_columns(first: tuple[str, np.ndarray], second: tuple[str, np.ndarray]) -> None:
    """Raise unless both named arrays have as many features."""
    if first[1].shape[1] != second[1].shape[1]:
        raise SharedLatentError(f"{first[0]} has {first[1].shape[1]} features but {second[0]} has {second[1].shape[1]}")


def verdict_line(direction: str, scores: DirectionScores | Mapping[str, Any]) -> str:
    """One line such as "left->right: 0.62x ridge, 0.80x kNN, 0.41x mean" (ratios of standardised MSE)."""
    table = scores.scores if isinstance(scores, DirectionScores) else scores["scores"]

    def standardized(name: str) -> float:
        entry = table[name]
        return entry.standardized_mse if isinstance(entry, Scores) else float(entry["standardized_mse"])

    model = standardized("model")
    shown = {"ridge": "ridge", "knn": "kNN", "mean": "mean"}
    parts = [_ratio_text(model, standardized(name), label) for name, label in shown.items() if name in table]
    return f"{direction}: " + ", ".join(parts) + " (standardised MSE)"


def _ratio_text(model: float, baseline: float, label: str) -> str:
    """ "0.62x ridge", or a plain word where the baseline is (near) exact and a ratio would be meaningless."""
    if baseline < NEAR_EXACT:
        return f"{label} near-exact ({baseline:.1e}; the relation is {'linear' if label == 'ridge' else 'simple'})"
    return f"{_ratio(model, baseline):.2f}x {label}"


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("inf")
