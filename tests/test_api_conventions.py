"""The estimator conventions a scikit-learn or PyTorch user expects of SharedLatentVAE (a reviewer's findings):
its own copy of the config, fit that starts over, no answers before training, empty inputs, clear argument errors."""

import numpy as np
import pandas as pd
import pytest
import torch
from tests.conftest import small_config

from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import RunConfig
from sharedlatent.errors import SharedLatentError


def _pair(seed: int = 0, n: int = 200, scale: float = 1.0) -> dict[str, np.ndarray]:
    """Two views of 3 shared factors: 12 and 6 real-valued features."""
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(n, 3))
    left = factors @ rng.normal(size=(3, 12)) + 0.1 * rng.normal(size=(n, 12))
    right = factors @ rng.normal(size=(3, 6)) + 0.1 * rng.normal(size=(n, 6))
    return {"left": (scale * left).astype(np.float32), "right": right.astype(np.float32)}


def _weights(model: SharedLatentVAE) -> list[torch.Tensor]:
    return [tensor.clone() for tensor in model.module.state_dict().values()]


def test_the_model_keeps_its_own_copy_of_the_config(tmp_path):
    config = small_config(epochs=2, schedule="seed")
    with pytest.warns(DeprecationWarning, match="'seed' is deprecated"):
        model = SharedLatentVAE({"left": 12, "right": 6}, config)
    model.fit(_pair())
    assert config.train.schedule == "seed"  # the caller's object is not rewritten
    config.model.shared_widths[0] = 64  # reused for the next experiment: the fitted model must not change
    config.model.latent_size = 2
    model.save(tmp_path / "model.safetensors")
    loaded = SharedLatentVAE.load(tmp_path / "model.safetensors")
    assert loaded.config.model.shared_widths == [16] and loaded.module.latent_size == 4
    x = _pair(seed=1)["left"][:5]
    np.testing.assert_array_equal(loaded.translate(x, "left", "right"), model.translate(x, "left", "right"))


def test_a_second_fit_starts_over_and_equals_a_first():
    data = _pair()
    twice = SharedLatentVAE({"left": 12, "right": 6}, small_config(epochs=2))
    twice.fit(_pair(seed=5))
    twice.fit(data)
    once = SharedLatentVAE({"left": 12, "right": 6}, small_config(epochs=2))
    once.fit(data)
    for a, b in zip(_weights(twice), _weights(once), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert len(twice.history.records) == len(once.history.records)


def test_a_refit_chooses_its_auto_settings_from_the_new_data():
    model = SharedLatentVAE({"left": 12, "right": 6}, small_config(epochs=1))
    in_unit_box = {name: (v - v.min()) / (v.max() - v.min()) for name, v in _pair().items()}
    model.fit(in_unit_box)
    assert model.config.model.likelihood_for("left") == "sigmoid_mse"
    model.fit(_pair())  # real values: the first fit's sigmoid_mse must not stay
    assert model.config.model.likelihood_for("left") == "gaussian"


def test_a_failed_refit_leaves_the_trained_model_as_it_was():
    model = SharedLatentVAE({"left": 12, "right": 6}, small_config(epochs=1))
    data = _pair()
    model.fit(data)
    before = model.translate(data["left"][:5], "left", "right")
    with pytest.raises(SharedLatentError, match="different sample counts"):
        model.fit({"left": data["left"], "right": data["right"][:50]})
    np.testing.assert_array_equal(model.translate(data["left"][:5], "left", "right"), before)


@pytest.mark.parametrize(
    "call",
    [
        lambda m, x: m.translate(x, "left", "right"),
        lambda m, x: m.encode(x, "left"),
        lambda m, x: m.reconstruct(x, "left"),
        lambda m, x: m.predict({"left": x}, ["right"]),
        lambda m, x: m.decode(np.zeros((2, 4), np.float32)),
        lambda m, x: m.latent_distribution(x, "left"),
        lambda m, x: m.generate(3, method="prior"),
    ],
)
def test_an_untrained_model_refuses_to_answer(call):
    model = SharedLatentVAE({"left": 12, "right": 6}, small_config())
    with pytest.raises(SharedLatentError, match=r"needs a trained model: call fit\(\) first"):
        call(model, _pair()["left"][:4])


def test_zero_samples_give_empty_outputs_of_the_right_width():
    model = SharedLatentVAE({"left": 12, "right": 6}, small_config(epochs=1))
    model.fit(_pair())
    empty = np.zeros((0, 12), np.float32)
    assert model.encode(empty, "left").shape == (0, 4)
    assert model.translate(empty, "left", "right").shape == (0, 6)
    assert model.reconstruct(empty, "left").shape == (0, 12)
    assert model.cycle(empty, "left", "right").shape == (0, 12)
    assert {name: v.shape for name, v in model.decode(np.zeros((0, 4), np.float32)).items()} == {
        "left": (0, 12),
        "right": (0, 6),
    }


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ([12, 6], "must map each domain name to its feature count"),
        ({}, "must map each domain name"),
        ({"left": -3, "right": 6}, "domain 'left' needs a whole number of features of at least 1, got -3"),
        ({"left": 0, "right": 6}, "at least 1, got 0"),
        ({"left": 12.7, "right": 6}, "got 12.7"),
        ({"left": True, "right": 6}, "got True"),
    ],
)
def test_bad_input_sizes_are_one_clear_error(sizes, message):
    with pytest.raises(SharedLatentError, match=message):
        SharedLatentVAE(sizes, RunConfig())


def test_a_fractional_sample_count_and_missing_values_are_named():
    model = SharedLatentVAE({"left": 12, "right": 6}, small_config(epochs=1))
    data = _pair()
    model.fit(data)
    with pytest.raises(SharedLatentError, match="whole number of at least 1, got 2.5"):
        model.generate(2.5)
    frame = pd.DataFrame(data["left"][:4]).astype("Float64")
    frame.iloc[1, 2] = pd.NA
    with pytest.raises(SharedLatentError, match="1 values are missing"):
        model.translate(frame, "left", "right")


def test_misaligned_integer_indexes_are_printed_plainly():
    model = SharedLatentVAE({"left": 12, "right": 6}, small_config(epochs=1))
    data = _pair()
    frames = {"left": pd.DataFrame(data["left"]), "right": pd.DataFrame(data["right"], index=range(5, 205))}
    with pytest.raises(SharedLatentError, match="row 0 is 0 in one and 5 in the other"):
        model.fit(frames)


def test_a_misspelt_config_attribute_is_an_error_not_ignored():
    config = RunConfig()
    with pytest.raises(AttributeError, match="'epoch'"):
        config.train.epoch = 3


def test_a_refit_forgets_the_first_fits_batch_labels(tmp_path):
    data = _pair()
    labels = np.array(["A", "B", "C"] * 66 + ["A", "B"])
    model = SharedLatentVAE({"left": 12, "right": 6}, small_config(epochs=1))
    model.fit(data, batch=labels)
    model.fit(data)  # no batch now: a plain model, as a fresh fit gives
    assert model.batch_encoder is None and model.config.model.batch_categories == 0
    assert model.translate(data["left"][:3], "left", "right").shape == (3, 6)
    model.save(tmp_path / "plain.safetensors")
    SharedLatentVAE.load(tmp_path / "plain.safetensors")
    two = np.where(labels == "C", "A", labels)
    model.fit(data, batch=two)
    fresh = SharedLatentVAE({"left": 12, "right": 6}, small_config(epochs=1))
    fresh.fit(data, batch=two)
    assert model.batch_encoder.categories == fresh.batch_encoder.categories == ("A", "B")
    x = data["left"][:5]
    np.testing.assert_array_equal(
        model.translate(x, "left", "right", batch="A"), fresh.translate(x, "left", "right", batch="A")
    )


def test_settings_edited_on_model_config_before_the_first_fit_are_used():
    model = SharedLatentVAE({"left": 12, "right": 6}, small_config(epochs=5))
    model.config.train.epochs = 2
    model.fit(_pair())
    assert len(model.history.records) == 2 and model.config.train.epochs == 2


def test_untrained_models_are_not_saved_and_errors_name_the_call(tmp_path):
    model = SharedLatentVAE({"left": 12, "right": 6}, small_config())
    x = _pair()["left"][:3]
    for call, name in [
        (lambda: model.save(tmp_path / "m.safetensors"), "save"),
        (lambda: model.encode(x, "left"), "encode"),
        (lambda: model.encode_joint({"left": x}), "encode_joint"),
        (lambda: model.generate(3, method="prior"), "generate"),
    ]:
        with pytest.raises(SharedLatentError, match=rf"^{name}\(\) needs a trained model"):
            call()
    assert not (tmp_path / "m.safetensors").exists()


def test_a_config_of_the_wrong_type_is_one_clear_error():
    with pytest.raises(SharedLatentError, match="config must be a RunConfig, not dict"):
        SharedLatentVAE({"left": 12, "right": 6}, {"train": {"epochs": 2}})
