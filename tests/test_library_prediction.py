"""Count domains' totals predicted from the latent where none is observed (translations into them, generation)."""

from __future__ import annotations

import numpy as np
import pytest

from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import DomainConfig, ModelConfig, RunConfig, TrainConfig
from sharedlatent.errors import SharedLatentError
from sharedlatent.library_prediction import LibraryPredictor, fit_library_predictor


def test_the_fit_recovers_a_log_linear_total_calibrated_to_the_mean_and_clipped():
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(500, 3))
    totals = np.exp(6 + latent @ [0.8, 0.0, -0.3] + 0.1 * rng.normal(size=500))
    predictor = fit_library_predictor(latent, totals)
    np.testing.assert_allclose(predictor.weights, [0.8, 0.0, -0.3], atol=0.03)
    predicted = predictor.predict(latent)
    assert predicted.shape == (500, 1) and predicted.dtype == np.float32
    assert predicted.mean() == pytest.approx(totals.mean(), rel=1e-4)  # calibrated: the old constant on average
    assert np.corrcoef(predicted[:, 0], totals)[0, 1] > 0.95
    far = predictor.predict(np.full((1, 3), 50.0))
    assert far[0, 0] == pytest.approx(totals.max(), rel=1e-6)  # clipped to the training range
    assert fit_library_predictor(latent[:5], totals[:5]) is None  # too few samples: keep the constant mean


def test_a_stored_predictor_is_checked_as_data():
    good = {"intercept": 1.0, "weights": [0.1, 0.2], "scale": 1.1, "low": 2.0, "high": 900.0}
    assert LibraryPredictor.from_dict(good, 2, "x").predict(np.zeros((1, 2)))[0, 0] == pytest.approx(1.1 * np.e)
    for bad, message in (
        ({**good, "weights": [0.1]}, "weights must be a list of 2 numbers"),
        ({**good, "scale": float("nan")}, "not a finite number"),
        ({**good, "low": 0.0}, "0 < low <= high"),
        ({**good, "extra": 1}, "must hold exactly"),
        ({**good, "intercept": True}, "not a finite number"),
    ):
        with pytest.raises(SharedLatentError, match=message):
            LibraryPredictor.from_dict(bad, 2, "x")


def counts_pair(n: int = 400, seed: int = 0):
    """Protein levels and RNA counts whose totals follow the cell type, as a cell's RNA content does."""
    rng = np.random.default_rng(seed)
    types = rng.integers(0, 3, n)
    protein = rng.normal(np.array([[0.0, 2.0], [2.0, 0.0], [1.0, 1.0]])[types], 0.3).astype(np.float32)
    totals = np.array([300.0, 1500.0, 5000.0])[types] * rng.lognormal(0, 0.2, n)
    programs = rng.dirichlet(np.ones(30), 3)[types]
    rna = rng.poisson(programs * totals[:, None]).astype(np.float32)
    return {"rna": rna, "protein": protein}


def test_translations_into_counts_follow_the_predicted_total_and_survive_a_reload(tmp_path):
    data = counts_pair()
    config = RunConfig(
        model=ModelConfig(domains={"rna": DomainConfig(likelihood="negative_binomial", preprocessing="none")}),
        train=TrainConfig(epochs=40, progress=False, seed=0),
    )
    model = SharedLatentVAE({"rna": 30, "protein": 2}, config)
    model.fit({name: values[:300] for name, values in data.items()})
    assert set(model.library_predictors) == {"rna"}
    translated = model.translate(data["protein"][300:], "protein", "rna")
    truth = data["rna"][300:].sum(axis=1)
    assert np.corrcoef(translated.sum(axis=1), truth)[0, 1] > 0.8  # a constant total gave no correlation at all
    constant = translated / translated.sum(axis=1, keepdims=True) * data["rna"][:300].sum(axis=1).mean()
    assert np.mean((translated - data["rna"][300:]) ** 2) < 0.7 * np.mean((constant - data["rna"][300:]) ** 2)
    model.save(tmp_path / "m.safetensors")
    loaded = SharedLatentVAE.load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded.translate(data["protein"][300:], "protein", "rna"), translated)
    # reconstructing the counts from themselves still uses each cell's observed total
    own = model.reconstruct(data["rna"][300:], "rna")
    np.testing.assert_allclose(own.sum(axis=1), truth, rtol=1e-3)


def test_a_latent_unrelated_to_depth_gets_weights_near_zero():
    """GCV picks a strong penalty when the latent says nothing of the total: generated samples far out in the latent
    then keep totals near the mean (a fixed light penalty let noise weights of 0.1 push them 35% up)."""
    rng = np.random.default_rng(1)
    latent, totals = rng.normal(size=(300, 16)), rng.lognormal(7, 0.3, 300)
    predictor = fit_library_predictor(latent, totals)
    assert np.abs(predictor.weights).max() < 0.02
    far = predictor.predict(3 * rng.normal(size=(200, 16)))
    assert abs(far.mean() / totals.mean() - 1) < 0.05


def test_batch_columns_are_regressors_so_a_shallower_batch_gets_smaller_totals():
    """The latent is built not to hold the batch, so depth that differs by batch must come from the batch columns."""
    rng = np.random.default_rng(2)
    latent = rng.normal(size=(400, 4))
    batch = np.repeat(np.eye(2), 200, axis=0)  # one-hot: b1 then b2, b2 sequenced half as deep
    totals = np.exp(7 + 0.5 * latent[:, 0]) * np.where(batch[:, 1] > 0, 0.5, 1.0)
    predictor = fit_library_predictor(latent, totals, batch)
    as_b1 = predictor.predict(latent[:50], np.tile([1.0, 0.0], (50, 1)))
    as_b2 = predictor.predict(latent[:50], np.tile([0.0, 1.0], (50, 1)))
    np.testing.assert_allclose(as_b2 / as_b1, 0.5, rtol=0.05)
    with pytest.raises(SharedLatentError, match="takes 6 columns"):
        predictor.predict(latent[:5])
