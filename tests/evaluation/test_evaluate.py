"""Known-answer tests for the metrics in sharedlatent.evaluation.metrics and .correlation."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from scipy.stats import spearmanr
from sklearn.datasets import make_blobs

from sharedlatent.errors import SharedLatentError
from sharedlatent.evaluation import correlation
from sharedlatent.evaluation import metrics as evaluate


def _random(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


def _brute_force_foscttm(a: np.ndarray, b: np.ndarray) -> float:
    distances = cdist(a, b)
    match = np.diag(distances)
    from_a = (distances < match[:, None]).sum(axis=1) / (len(a) - 1)
    from_b = (distances < match[None, :]).sum(axis=0) / (len(a) - 1)
    return float((from_a.mean() + from_b.mean()) / 2)


def test_errors_are_zero_for_identical_arrays_and_known_otherwise():
    x = _random((20, 3))
    assert evaluate.mean_squared_error(x, x) == 0.0
    assert evaluate.mean_squared_error(x, x + 2.0) == pytest.approx(4.0)
    assert evaluate.mean_absolute_error(x, x - 3.0) == pytest.approx(3.0)


@pytest.mark.parametrize(
    "metric",
    [
        evaluate.mean_squared_error,
        evaluate.mean_absolute_error,
        correlation.per_feature_pearson,
        correlation.per_sample_pearson,
        correlation.per_feature_spearman,
        evaluate.foscttm,
        evaluate.paired_distance_ratio,
        evaluate.auroc_auprc,
    ],
)
def test_shape_mismatch_raises_user_error(metric):
    with pytest.raises(SharedLatentError, match="shape"):
        metric(np.zeros((10, 3)), np.zeros((10, 4)))


def test_non_finite_input_raises_user_error():
    x = _random((5, 2))
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(SharedLatentError, match="NaN"):
        evaluate.foscttm(x, bad)


def test_mean_predictor_mse_equals_variance_when_train_is_test():
    x = _random((200, 4))
    errors = evaluate.mean_predictor_errors(x, x)
    assert errors["mse"] == pytest.approx(float(np.mean(np.var(x, axis=0))))
    assert errors["mae"] == pytest.approx(float(np.mean(np.abs(x - x.mean(axis=0)))))


def test_mean_predictor_rejects_different_feature_counts():
    with pytest.raises(SharedLatentError, match="features"):
        evaluate.mean_predictor_errors(np.zeros((5, 3)), np.zeros((5, 2)))


def test_pearson_of_linear_map_is_one_and_constant_feature_is_nan():
    x = _random((50, 3))
    x[:, 2] = 7.0
    correlations = correlation.per_feature_pearson(x, 2 * x + 1)
    np.testing.assert_allclose(correlations[:2], 1.0)
    assert np.isnan(correlations[2])
    summary = correlation.summarize_correlations(correlations)
    assert summary.mean == pytest.approx(1.0)
    assert summary.median == pytest.approx(1.0)
    assert (summary.n_defined, summary.n_total) == (2, 3)


def test_per_sample_pearson_of_linear_map_is_one():
    x = _random((10, 6))
    np.testing.assert_allclose(correlation.per_sample_pearson(x, 2 * x + 1), 1.0)
    np.testing.assert_allclose(correlation.per_sample_pearson(x, -x), -1.0)


def test_spearman_matches_scipy_and_is_one_for_monotone_maps():
    x, y = _random((40, 3), seed=1), _random((40, 3), seed=2)
    expected = [spearmanr(x[:, j], y[:, j]).statistic for j in range(3)]
    np.testing.assert_allclose(correlation.per_feature_spearman(x, y), expected)
    np.testing.assert_allclose(correlation.per_feature_spearman(x, np.exp(x)), 1.0)


def test_summary_of_all_nan_is_nan():
    summary = correlation.summarize_correlations(np.array([np.nan, np.nan]))
    assert np.isnan(summary.mean) and np.isnan(summary.median) and summary.n_defined == 0


def test_foscttm_of_identical_encodings_is_zero():
    x = _random((300, 8))
    assert evaluate.foscttm(x, x) == 0.0


def test_foscttm_of_shuffled_pairs_is_about_half():
    x = _random((500, 8))
    shuffled = x[np.random.default_rng(1).permutation(500)]
    assert evaluate.foscttm(x, shuffled) == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize("block_rows", [1, 7, 64, 1024])
def test_foscttm_blockwise_equals_brute_force(block_rows):
    a = _random((150, 5), seed=3)
    b = a + 0.8 * _random((150, 5), seed=4)
    assert evaluate.foscttm(a, b, block_rows=block_rows) == pytest.approx(_brute_force_foscttm(a, b), abs=1e-12)


def test_foscttm_needs_two_samples():
    with pytest.raises(SharedLatentError, match="at least 2"):
        evaluate.foscttm(np.zeros((1, 2)), np.zeros((1, 2)))


def test_paired_distance_ratio_is_zero_for_identical_and_about_one_for_unrelated():
    x = _random((400, 6))
    assert evaluate.paired_distance_ratio(x, x) == 0.0
    assert evaluate.paired_distance_ratio(x, _random((400, 6), seed=9)) == pytest.approx(1.0, abs=0.1)


def test_paired_distance_ratio_of_constant_encodings_raises():
    with pytest.raises(SharedLatentError, match="identical"):
        evaluate.paired_distance_ratio(np.ones((5, 2)), np.ones((5, 2)))


def test_knn_transfer_on_identical_separable_encodings_is_perfect():
    x, labels = make_blobs(n_samples=200, centers=3, cluster_std=0.5, random_state=0)
    assert evaluate.knn_label_transfer_accuracy(x, labels, x, labels, k=5) == 1.0


def test_knn_transfer_rejects_k_larger_than_training_set():
    x = _random((4, 2))
    with pytest.raises(SharedLatentError, match="k must be"):
        evaluate.knn_label_transfer_accuracy(x, np.arange(4), x, np.arange(4), k=5)


def _blobs(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y = make_blobs(n_samples=600, centers=4, n_features=10, cluster_std=1.0, random_state=seed)
    return x[:400], y[:400], x[400:], y[400:]


def test_perfect_translator_is_coherent_and_random_labels_are_chance():
    train_x, train_y, held_out_x, held_out_y = _blobs(seed=0)
    classifier = evaluate.fit_domain_classifier(train_x, train_y)
    assert evaluate.coherence_accuracy(classifier, held_out_x, held_out_y) > 0.98
    random_labels = np.random.default_rng(0).integers(0, 4, size=len(held_out_y))
    assert evaluate.coherence_accuracy(classifier, held_out_x, random_labels) == pytest.approx(0.25, abs=0.1)


def test_coherence_rejects_outputs_of_the_wrong_width():
    train_x, train_y, _, _ = _blobs(seed=0)
    classifier = evaluate.fit_domain_classifier(train_x, train_y)
    with pytest.raises(SharedLatentError, match="expects 10"):
        evaluate.coherence_accuracy(classifier, np.zeros((3, 4)), np.zeros(3))


def test_pair_agreement_is_one_for_matching_pairs_and_chance_for_shuffled():
    train_a, labels, held_a, held_labels = _blobs(seed=0)
    rng = np.random.default_rng(5)
    # Domain b: an invertible linear view of domain a plus a little noise, so labels carry over.
    mixing = rng.normal(size=(10, 6))
    train_b = train_a @ mixing + 0.1 * rng.normal(size=(400, 6))
    held_b = held_a @ mixing + 0.1 * rng.normal(size=(200, 6))
    classifier_a = evaluate.fit_domain_classifier(train_a, labels)
    classifier_b = evaluate.fit_domain_classifier(train_b, labels)
    assert evaluate.pair_agreement(classifier_a, held_a, classifier_b, held_b) > 0.95
    shuffled_b = held_b[rng.permutation(len(held_b))]
    assert evaluate.pair_agreement(classifier_a, held_a, classifier_b, shuffled_b) == pytest.approx(
        float(np.sum((np.bincount(held_labels) / len(held_labels)) ** 2)), abs=0.1
    )


def test_fit_domain_classifier_needs_two_classes():
    with pytest.raises(SharedLatentError, match="2 classes"):
        evaluate.fit_domain_classifier(_random((10, 2)), np.zeros(10))


def test_auroc_auprc_perfect_scores_and_single_class_features_are_skipped():
    truth = np.array([[0, 1, 1], [0, 1, 0], [1, 1, 1], [1, 1, 0]])
    scores = np.array([[0.1, 0.3, 0.2], [0.2, 0.1, 0.9], [0.8, 0.5, 0.3], [0.9, 0.7, 0.8]])
    result = evaluate.auroc_auprc(truth, scores)
    assert result.auroc[0] == 1.0 and result.auprc[0] == 1.0
    assert np.isnan(result.auroc[1]) and np.isnan(result.auprc[1])
    assert result.auroc[2] == 0.0
    assert result.n_scored == 2
    assert result.mean_auroc == pytest.approx(0.5)


def test_auroc_auprc_rejects_non_binary_truth():
    with pytest.raises(SharedLatentError, match="0 and 1"):
        evaluate.auroc_auprc(np.full((3, 1), 2.0), np.zeros((3, 1)))
