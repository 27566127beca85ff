"""Run metrics on hand-made outputs (no training): known answers for a perfect translator."""

from __future__ import annotations

import numpy as np
import pytest

from sharedlatent.evaluation.metrics_inputs import gather_metrics_inputs
from sharedlatent.evaluation.predictions import DomainOutputs, RunOutputs
from sharedlatent.evaluation.run_metrics import score_run


class _Likelihoods:
    latent_size = 2

    def likelihood_for(self, name: str) -> str:
        return "gaussian"


class _Config:
    model = _Likelihoods()


class PerfectModel:
    """Encodes every domain of a sample to the same point and translates, cycles and generates exactly."""

    config = _Config()

    def __init__(self, encodings: dict[str, np.ndarray]) -> None:
        from sharedlatent.preprocessing import make_preprocessor

        self.encodings = encodings
        self.preprocessors = {name: make_preprocessor("none") for name in ("left", "right")}

    def latent_distribution(self, values, name, *, batch=None):
        mean = np.asarray(values)[:, :2].astype(np.float64)
        return mean, np.zeros_like(mean)

    def cycle(self, values, source, target, *, batch=None):
        return np.asarray(values)

    def encode(self, values, name, *, batch=None):
        return np.asarray(values)[:, :2].astype(np.float64)

    def generate(self, n, method="box", seed=0, *, transform_batch=None):
        rng = np.random.default_rng(seed)
        shared = rng.random((n, 4))
        return {"left": shared, "right": shared}


def _outputs() -> tuple[RunOutputs, dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 10)
    truth = rng.random((20, 4)) + labels[:, None]
    train = rng.random((40, 4)) + np.repeat([0, 1], 20)[:, None]
    encoding = truth[:, :2]
    domains = {
        name: DomainOutputs(
            truth=truth,
            reconstruction=truth.copy(),
            translated={other: truth.copy()},
            cycled={other: truth.copy()},
            generated=truth.copy(),
            encoding=encoding.copy(),
        )
        for name, other in (("left", "right"), ("right", "left"))
    }
    outputs = RunOutputs(domains, labels=labels, joint_encoding=encoding, generated_method="box")
    return outputs, {"left": train, "right": train}, np.repeat([0, 1], 20)


def test_a_perfect_translator_scores_zero_error():
    outputs, train_domains, train_labels = _outputs()
    model = PerfectModel({name: out.encoding for name, out in outputs.domains.items()})
    metrics = score_run(gather_metrics_inputs(model, outputs, train_domains, train_labels))
    for direction in ("left->right", "right->left"):
        assert metrics["translation"][direction]["mse"] == 0.0
        assert metrics["translation"][direction]["mse_vs_mean_predictor"] == 0.0
    assert metrics["reconstruction"]["left"]["mse"] == 0.0
    assert metrics["latent"]["left~right"]["foscttm"] == 0.0
    assert metrics["latent"]["left~right"]["paired_distance_ratio"] == 0.0
    assert metrics["translation_scores"]["left->right"]["pearson_feature_mean"] == pytest.approx(1.0)
    assert "labels" in metrics and "translation_scores" in metrics
    assert metrics["labels"]["knn_transfer"].keys() == {"left->right", "right->left"}
    assert metrics["n_samples"] == 20
    assert metrics["baselines"]["left->right"]["standardized_mse"]["model"] == 0.0
    # ridge is exact here too (the fake target equals the source), so the verdict names it instead of dividing
    verdict = metrics["verdict"][0]
    assert verdict.startswith("right->left: ridge near-exact (") and verdict.endswith(
        "0.00x kNN, 0.00x mean (standardised MSE)"
    )
    assert metrics["latent_usage"]["active_dimensions"] == {"left": 2, "right": 2}


def test_batch_mixing_is_reported_only_with_batch_labels():
    outputs, train_domains, train_labels = _outputs()
    model = PerfectModel({name: out.encoding for name, out in outputs.domains.items()})
    assert "batch_mixing" not in score_run(gather_metrics_inputs(model, outputs, train_domains, train_labels))
    outputs.batches, outputs.generated_batch = np.tile(["a", "b"], 10), "a"  # alternating: batches well mixed
    mixing = score_run(gather_metrics_inputs(model, outputs, train_domains, train_labels))["batch_mixing"]
    assert mixing["entropy"] > 0.9 and mixing["batches"] == 2 and mixing["k"] == 19
    assert mixing["generated_as_batch"] == "a" and mixing["definition"].startswith("mean over samples")
    outputs.batches = np.repeat(["a"], 20)  # one batch: nothing to mix, said rather than failed
    assert (
        score_run(gather_metrics_inputs(model, outputs, train_domains, train_labels))["batch_mixing"]["entropy"] is None
    )
