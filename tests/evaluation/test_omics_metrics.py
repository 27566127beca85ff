"""Omics translation metrics: the right numbers per target likelihood, known answers, and every direction of a model."""

import numpy as np
import pytest

from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import DomainConfig, ModelConfig, RunConfig, TrainConfig
from sharedlatent.datasets.registry import load_dataset
from sharedlatent.errors import SharedLatentError
from sharedlatent.evaluation.correlation import per_sample_spearman
from sharedlatent.evaluation.omics import domain_metrics, target_kind, translation_metrics

CORRELATION_KEYS = {
    f"{name}_{kind}_{stat}"
    for name in ("pearson", "spearman")
    for kind in ("feature", "sample")
    for stat in ("mean", "median")
}


def test_kinds_follow_the_likelihood():
    assert target_kind("bernoulli") == "binary"
    assert target_kind("zinb") == target_kind("negative_binomial") == "counts"
    assert target_kind("gaussian") == target_kind("sigmoid_mse") == "continuous"


def test_perfect_continuous_prediction_scores_one():
    truth = np.random.default_rng(0).normal(size=(20, 5))
    scores = domain_metrics(truth, truth, "gaussian")
    assert set(scores) == CORRELATION_KEYS | {"mse"}
    assert all(scores[key] == pytest.approx(1.0) for key in CORRELATION_KEYS) and scores["mse"] == 0


def test_counts_are_compared_on_log1p_scale():
    truth = np.array([[0.0, 3.0, 10.0], [1.0, 100.0, 7.0], [20.0, 0.0, 2.0], [5.0, 8.0, 0.0]])
    prediction = np.array([[1.0, 2.0, 12.0], [0.0, 90.0, 7.0], [25.0, 1.0, 4.0], [4.0, 30.0, 1.0]])
    scores = domain_metrics(truth, prediction, "negative_binomial")
    on_log1p = float(np.mean((np.log1p(truth) - np.log1p(prediction)) ** 2))
    on_counts = float(np.mean((truth - prediction) ** 2))
    assert abs(on_counts - on_log1p) > 1.0  # the two scales give different answers here
    assert scores["mse"] == pytest.approx(on_log1p)
    assert domain_metrics(truth, prediction, "gaussian")["mse"] == pytest.approx(on_counts)
    monotone = domain_metrics(truth, truth**3, "zinb")  # ranks kept, values not
    assert monotone["spearman_sample_mean"] == pytest.approx(1.0) and monotone["pearson_sample_mean"] < 1.0
    with pytest.raises(SharedLatentError, match=">= 0"):
        domain_metrics(truth, -truth, "zinb")


def test_binary_targets_get_auroc_and_auprc():
    rng = np.random.default_rng(2)
    truth = (rng.random((50, 4)) < 0.3).astype(float)
    perfect = domain_metrics(truth, truth * 0.8 + 0.1, "bernoulli")
    assert perfect["auroc_mean"] == 1.0 and perfect["auprc_mean"] == 1.0 and perfect["features_scored"] == 4
    flat = domain_metrics(truth, np.full_like(truth, 0.3), "bernoulli")
    assert flat["auroc_mean"] == 0.5
    assert flat["prevalence"] == pytest.approx(truth.mean())


def test_per_sample_spearman_ranks_across_features():
    truth = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    np.testing.assert_allclose(per_sample_spearman(truth, truth**2), [1.0, 1.0])
    np.testing.assert_allclose(per_sample_spearman(truth, truth[::-1]), [-1.0, -1.0])


def test_translation_metrics_every_direction_by_target_likelihood():
    dataset = load_dataset("synthetic_omics", n_samples=150, n_domains=3, n_genes=20, n_proteins=5, n_mutations=10)
    config = RunConfig(
        model=ModelConfig(private_widths=[12, 8], shared_widths=[8], latent_size=3),
        train=TrainConfig(epochs=2, progress=False, validation_fraction=0.0, threads=1),
    )
    config.model.domains = {
        "rna": DomainConfig(likelihood="negative_binomial"),
        "protein": DomainConfig(likelihood="gaussian", preprocessing="standardize"),
        "mutation": DomainConfig(likelihood="bernoulli"),
    }
    model = SharedLatentVAE(dataset.input_sizes, config)
    model.fit(dataset.train)
    results = translation_metrics(model, dataset.test)
    assert set(results) == {
        "rna->protein",
        "rna->mutation",
        "protein->rna",
        "protein->mutation",
        "mutation->rna",
        "mutation->protein",
    }
    assert "auroc_mean" in results["rna->mutation"] and "pearson_feature_mean" in results["mutation->protein"]
    assert "rna->rna" in translation_metrics(model, dataset.test.domains, include_reconstruction=True)


def test_count_targets_baselines_predict_raw_counts_and_the_notes_say_which_scale_each_number_is_on():
    from sharedlatent.evaluation.baseline_metrics import baseline_comparison
    from sharedlatent.evaluation.metrics_inputs import DomainScales
    from sharedlatent.runs.predictions import compute_outputs

    dataset = load_dataset("synthetic_omics", n_samples=150, n_genes=20, n_proteins=5)
    config = RunConfig(
        model=ModelConfig(private_widths=[12], shared_widths=[8], latent_size=3),
        train=TrainConfig(epochs=2, progress=False, validation_fraction=0.0, threads=1),
    )
    model = SharedLatentVAE(dataset.input_sizes, config)
    model.fit(dataset.train)
    outputs = compute_outputs(model, dataset.test)
    comparison = baseline_comparison(DomainScales.of(model), outputs, dataset.train.domains)
    notes = comparison["baseline_notes"]
    counts = [name for name in dataset.domain_names if model.config.model.likelihood_for(name) == "negative_binomial"]
    assert counts and all(
        any(note.startswith(f"{source}->{counts[0]}: the baselines predict raw counts") for note in notes)
        for source in dataset.domain_names
        if source != counts[0]
    )
    # The mean baseline of a count target is the training mean of the counts (the model's "x mean" reference), not
    # expm1 of the mean log1p, which sits below it
    train, test = dataset.train.domains[counts[0]], dataset.test.domains[counts[0]]
    for source in dataset.domain_names:
        if source != counts[0]:
            scores = comparison["baselines"][f"{source}->{counts[0]}"]
            expected = np.mean((train.astype(float).mean(axis=0) - test) ** 2)
            assert scores["mse"]["mean"] == pytest.approx(expected, rel=1e-6)
    assert not any("log1p(counts)" in note for note in notes if not note.split(":")[0].endswith(counts[0]))
