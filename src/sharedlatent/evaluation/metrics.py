"""Metrics for reconstruction, translation, alignment and generation, each a pure function of numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from sharedlatent.errors import SharedLatentError
from sharedlatent.evaluation.checks import label_vector, matching_pair, matrix

FOSCTTM_BLOCK_ROWS = 1024


@dataclass(frozen=True)
class RankingScores:
    """Per-feature AUROC and AUPRC (NaN where a feature has a single class) with their means over scored features."""

    auroc: np.ndarray
    auprc: np.ndarray
    mean_auroc: float
    mean_auprc: float
    n_scored: int


def mean_squared_error(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Mean of squared differences over all entries."""
    truth, prediction = matching_pair(truth, prediction, "truth", "prediction")
    return float(np.mean((truth - prediction) ** 2))


def mean_absolute_error(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Mean of absolute differences over all entries."""
    truth, prediction = matching_pair(truth, prediction, "truth", "prediction")
    return float(np.mean(np.abs(truth - prediction)))


def mean_predictor_errors(train_target: np.ndarray, test_target: np.ndarray) -> dict[str, float]:
    """MSE and MAE on `test_target` of always predicting each feature's training mean (the baseline row)."""
    train_target, test_target = matrix(train_target, "train_target"), matrix(test_target, "test_target")
    if train_target.shape[1] != test_target.shape[1]:
        raise SharedLatentError(
            f"train_target has {train_target.shape[1]} features but test_target has {test_target.shape[1]}."
        )
    prediction = np.broadcast_to(train_target.mean(axis=0), test_target.shape)
    return {
        "mse": mean_squared_error(test_target, prediction),
        "mae": mean_absolute_error(test_target, prediction),
    }


def _mean_defined(values: np.ndarray) -> float:
    """Mean of the non-NaN entries, or NaN (without a warning) when there are none."""
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else float("nan")


def _closer_than_match_fractions(queries: np.ndarray, references: np.ndarray, block_rows: int) -> np.ndarray:
    """For each query i, the fraction of references j != i strictly closer to it than reference i."""
    n_samples = queries.shape[0]
    reference_norms = np.sum(references**2, axis=1)
    fractions = np.empty(n_samples)
    for start in range(0, n_samples, block_rows):
        stop = min(start + block_rows, n_samples)
        # Squared distances up to the per-row constant |q|^2, which cannot change a within-row comparison.
        distances = queries[start:stop] @ references.T
        distances *= -2.0
        distances += reference_norms
        rows = np.arange(stop - start)
        match = distances[rows, np.arange(start, stop)]
        # The match itself is never strictly closer than itself, so j == i drops out of the count.
        fractions[start:stop] = np.count_nonzero(distances < match[:, None], axis=1) / (n_samples - 1)
    return fractions


def foscttm(encodings_a: np.ndarray, encodings_b: np.ndarray, block_rows: int = FOSCTTM_BLOCK_ROWS) -> float:
    """Fraction of samples closer than the true match (Euclidean), averaged both ways; 0 is perfect, ~0.5 random.

    Computed in blocks of `block_rows` rows so memory stays at about block_rows x n floats.
    """
    encodings_a, encodings_b = matching_pair(encodings_a, encodings_b, "encodings_a", "encodings_b")
    if encodings_a.shape[0] < 2:
        raise SharedLatentError(f"foscttm needs at least 2 paired samples, got {encodings_a.shape[0]}.")
    if block_rows < 1:
        raise SharedLatentError(f"block_rows must be at least 1, got {block_rows}.")
    from_a = _closer_than_match_fractions(encodings_a, encodings_b, block_rows)
    from_b = _closer_than_match_fractions(encodings_b, encodings_a, block_rows)
    return float((from_a.mean() + from_b.mean()) / 2.0)


def paired_distance_ratio(encodings_a: np.ndarray, encodings_b: np.ndarray, seed: int = 0) -> float:
    """Mean paired distance over mean distance after a random re-pairing; ~1 means unaligned, 0 perfect."""
    encodings_a, encodings_b = matching_pair(encodings_a, encodings_b, "encodings_a", "encodings_b")
    if encodings_a.shape[0] < 2:
        raise SharedLatentError(f"paired_distance_ratio needs at least 2 paired samples, got {encodings_a.shape[0]}.")
    permutation = np.random.default_rng(seed).permutation(encodings_a.shape[0])
    paired = np.linalg.norm(encodings_a - encodings_b, axis=1).mean()
    unpaired = np.linalg.norm(encodings_a - encodings_b[permutation], axis=1).mean()
    if unpaired == 0:
        raise SharedLatentError("paired_distance_ratio is undefined because all encodings are identical.")
    return float(paired / unpaired)


def knn_label_transfer_accuracy(
    train_encodings: np.ndarray,
    train_labels: np.ndarray,
    query_encodings: np.ndarray,
    query_labels: np.ndarray,
    k: int = 5,
) -> float:
    """Accuracy of a k-nearest-neighbour classifier fitted on one domain's encodings and applied to another's."""
    train_encodings = matrix(train_encodings, "train_encodings")
    query_encodings = matrix(query_encodings, "query_encodings")
    train_labels = label_vector(train_labels, "train_labels", train_encodings.shape[0])
    query_labels = label_vector(query_labels, "query_labels", query_encodings.shape[0])
    if train_encodings.shape[1] != query_encodings.shape[1]:
        raise SharedLatentError(
            f"train_encodings have {train_encodings.shape[1]} dimensions but query_encodings have "
            f"{query_encodings.shape[1]}."
        )
    if not 1 <= k <= train_encodings.shape[0]:
        raise SharedLatentError(f"k must be between 1 and the {train_encodings.shape[0]} training samples, got {k}.")
    classifier = KNeighborsClassifier(n_neighbors=k).fit(train_encodings, train_labels)
    return float(np.mean(classifier.predict(query_encodings) == query_labels))


def fit_domain_classifier(x: np.ndarray, y: np.ndarray, seed: int = 0) -> Pipeline:
    """Fit a standardised logistic regression on real data of one domain, to judge translated or generated samples."""
    x = matrix(x, "classifier training data")
    y = label_vector(y, "classifier training labels", x.shape[0])
    if np.unique(y).size < 2:
        raise SharedLatentError("classifier training labels must contain at least 2 classes, got 1.")
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    return classifier.fit(x, y)


def _predict(classifier: Pipeline, outputs: np.ndarray, name: str) -> np.ndarray:
    """Predict labels for `outputs`, checking their width matches what the classifier was fitted on."""
    outputs = matrix(outputs, name)
    expected = classifier.n_features_in_
    if outputs.shape[1] != expected:
        raise SharedLatentError(f"{name} have {outputs.shape[1]} features but the classifier expects {expected}.")
    return classifier.predict(outputs)


def coherence_accuracy(classifier: Pipeline, outputs: np.ndarray, expected_labels: np.ndarray) -> float:
    """Fraction of `outputs` (e.g. translated samples) that the target domain's classifier labels as expected."""
    predicted = _predict(classifier, outputs, "outputs")
    expected_labels = label_vector(expected_labels, "expected_labels", predicted.shape[0])
    return float(np.mean(predicted == expected_labels))


def pair_agreement(
    classifier_a: Pipeline, generated_a: np.ndarray, classifier_b: Pipeline, generated_b: np.ndarray
) -> float:
    """Fraction of jointly generated pairs whose two halves each domain's classifier gives the same label."""
    predicted_a = _predict(classifier_a, generated_a, "generated_a")
    predicted_b = _predict(classifier_b, generated_b, "generated_b")
    if predicted_a.shape[0] != predicted_b.shape[0]:
        raise SharedLatentError(
            f"generated_a has {predicted_a.shape[0]} samples but generated_b has {predicted_b.shape[0]}; "
            "they must be pairs."
        )
    return float(np.mean(predicted_a == predicted_b))


def auroc_auprc(truth_binary: np.ndarray, scores: np.ndarray) -> RankingScores:
    """Per-feature AUROC and AUPRC of `scores` against 0/1 `truth_binary`, skipping features with a single class."""
    truth, scores = matching_pair(truth_binary, scores, "truth_binary", "scores")
    if not np.all((truth == 0) | (truth == 1)):
        raise SharedLatentError("truth_binary must contain only 0 and 1.")
    n_features = truth.shape[1]
    auroc, auprc = np.full(n_features, np.nan), np.full(n_features, np.nan)
    for feature in range(n_features):
        column = truth[:, feature]
        if column.min() == column.max():
            continue
        auroc[feature] = roc_auc_score(column, scores[:, feature])
        auprc[feature] = average_precision_score(column, scores[:, feature])
    n_scored = int(np.count_nonzero(~np.isnan(auroc)))
    return RankingScores(
        auroc=auroc,
        auprc=auprc,
        mean_auroc=_mean_defined(auroc),
        mean_auprc=_mean_defined(auprc),
        n_scored=n_scored,
    )
