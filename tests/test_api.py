import numpy as np
import pytest
import torch

from conftest import small_config
from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import DomainConfig
from sharedlatent.errors import SharedLatentError


@pytest.fixture(scope="module")
def trained(digits):
    model = SharedLatentVAE(digits.input_sizes, small_config(epochs=4))
    model.fit(digits.train.domains)
    return model


def test_loss_falls(digits):
    model = SharedLatentVAE(digits.input_sizes, small_config(epochs=6))
    history = model.fit(digits.train.domains)
    losses = [r.train_loss for r in history.records]
    assert losses[-1] < 0.8 * losses[0]
    assert all(r.validation_loss is not None for r in history.records)
    terms = history.records[0].terms
    assert {(("left", "right"), "left"), (("left",), "right"), (("right",), "left")} <= set(terms.reconstruction)
    assert ("left", "right") in terms.kl


def test_output_shapes_and_types(trained, digits):
    left = digits.test.domains["left"][:5]
    assert trained.encode(left, "left").shape == (5, 4)
    assert trained.reconstruct(left, "left").shape == (5, 64)
    assert trained.translate(left, "left", "right").shape == (5, 64)
    assert trained.cycle(left, "left", "right").shape == (5, 64)
    assert trained.encode_joint({"left": left, "right": 1 - left}).shape == (5, 4)
    tensor_out = trained.translate(torch.from_numpy(left), "left", "right")
    assert isinstance(tensor_out, torch.Tensor) and tensor_out.shape == (5, 64)
    assert isinstance(trained.translate(left, "left", "right"), np.ndarray)
    single = trained.translate(left[0], "left", "right")
    assert single.shape == (1, 64)


def test_generate_box_and_prior(trained):
    for method in ("box", "prior"):
        pairs = trained.generate(7, method=method, seed=3)
        assert set(pairs) == {"left", "right"} and pairs["left"].shape == (7, 64)
    np.testing.assert_array_equal(trained.generate(3, seed=1)["left"], trained.generate(3, seed=1)["left"])
    low, high = trained.latent_box
    points = trained.sample_latent_points(500, method="box", seed=3)
    assert points.shape == (500, 4) and points.dtype == np.float32
    assert (points >= low).all() and (points <= high).all()
    assert (points.min(0) < low + 0.1 * (high - low)).all() and (points.max(0) > high - 0.1 * (high - low)).all()
    expected = trained.decode(trained.sample_latent_points(7, method="box", seed=3))["left"]
    np.testing.assert_array_equal(trained.generate(7, method="box", seed=3)["left"], expected)
    with pytest.raises(SharedLatentError, match="unknown generation method"):
        trained.generate(3, method="grid")


def test_save_load_gives_identical_outputs(trained, digits, tmp_path):
    path = tmp_path / "model.safetensors"
    trained.save(path)
    loaded = SharedLatentVAE.load(path)
    left = digits.test.domains["left"]
    np.testing.assert_array_equal(trained.translate(left, "left", "right"), loaded.translate(left, "left", "right"))
    np.testing.assert_array_equal(trained.generate(5, seed=2)["right"], loaded.generate(5, seed=2)["right"])
    assert loaded.config == trained.config


def test_same_seed_same_result(digits):
    runs = []
    for _ in range(2):
        model = SharedLatentVAE(digits.input_sizes, small_config(epochs=2, seed=5))
        model.fit(digits.train.domains)
        runs.append(model.translate(digits.test.domains["left"], "left", "right"))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_preprocessing_is_inverted_on_outputs(digits):
    config = small_config(epochs=2)
    config.model.domains = {"left": DomainConfig(preprocessing="minmax"), "right": DomainConfig(preprocessing="none")}
    scaled = {"left": digits.train.domains["left"] * 16.0, "right": digits.train.domains["right"]}
    model = SharedLatentVAE(digits.input_sizes, config)
    model.fit(scaled)
    back = model.translate(digits.test.domains["right"], "right", "left")
    assert back.max() > 2.0  # in the 0..16 units the left domain was given in


def test_sigmoid_outputs_refuse_data_outside_the_unit_interval(digits):
    config = small_config(epochs=1)
    config.model.domains = {"left": DomainConfig(likelihood="sigmoid_mse", preprocessing="none")}
    model = SharedLatentVAE(digits.input_sizes, config)
    with pytest.raises(SharedLatentError, match=r"domain 'left' has values from 0 to 16.*preprocessing"):
        model.fit({"left": digits.train.domains["left"] * 16, "right": digits.train.domains["right"]})


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m, x: m.translate(x[:, :10], "left", "right"), "expected 64 features per sample, got 10"),
        (lambda m, x: m.translate(np.full_like(x, np.nan), "left", "right"), "NaN or infinite"),
        (lambda m, x: m.translate(x, "left", "middle"), "unknown domain 'middle'"),
        (lambda m, x: m.encode(x[None], "left"), "expected a 2-D array"),
        (lambda m, x: m.fit({"left": x, "right": x[:5]}), "different sample counts"),
        (lambda m, x: m.fit({"left": x}), "lacks domains"),
        (lambda m, x: m.translate(np.array([["a"] * 64]), "left", "right"), "not numeric"),
    ],
)
def test_bad_input_is_a_clear_error(trained, digits, call, message):
    with pytest.raises(SharedLatentError, match=message):
        call(trained, digits.test.domains["left"][:20])


def test_load_rejects_other_files(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a model")
    with pytest.raises(SharedLatentError, match="not a readable safetensors"):
        SharedLatentVAE.load(junk)
    with pytest.raises(SharedLatentError, match="does not exist"):
        SharedLatentVAE.load(tmp_path / "missing.safetensors")


def test_infinite_values_are_refused_not_taken_as_missing(digits):
    left = digits.train.domains["left"].copy()
    left[0] = np.inf
    model = SharedLatentVAE(digits.input_sizes, small_config(epochs=1))
    with pytest.raises(SharedLatentError, match="infinite"):
        model.fit({"left": left, "right": digits.train.domains["right"]})


def test_divergence_is_a_clear_error(digits):
    config = small_config(epochs=2)
    config.train.learning_rate = 1e30
    model = SharedLatentVAE(digits.input_sizes, config)
    with pytest.raises(SharedLatentError, match="training diverged") as raised:
        model.fit(digits.train.domains)
    assert "input noise" not in str(raised.value)  # digits get none


def test_divergence_under_huge_input_noise_names_the_noise():
    config = small_config(epochs=2)
    config.train.noise_level = 1e30  # real values are not clipped, so this overflows
    rng = np.random.default_rng(0)
    data = {"a": rng.normal(50, 10, (100, 4)).astype(np.float32), "b": rng.normal(0, 3, (100, 3)).astype(np.float32)}
    model = SharedLatentVAE({"a": 4, "b": 3}, config)
    with pytest.raises(SharedLatentError, match=r"or the input noise \(a 1e\+30, b 1e\+30\)"):
        model.fit(data)


def test_a_domain_may_not_be_called_shared():
    with pytest.raises(SharedLatentError, match="may not be named 'shared'"):
        SharedLatentVAE({"shared": 4, "other": 4}, small_config())


def test_predict_is_the_one_entry_behind_translate_and_encode_joint(trained, digits):
    left, right = digits.test.domains["left"][:6], digits.test.domains["right"][:6]
    both = trained.predict({"left": left, "right": right}, ["left", "right"])
    np.testing.assert_array_equal(both.latent, trained.encode_joint({"left": left, "right": right}))
    single = trained.predict({"left": left}, ["right"])
    np.testing.assert_array_equal(single.decoded["right"], trained.translate(left, "left", "right"))
    assert set(both.decoded) == {"left", "right"} and trained.predict({"left": left}).decoded == {}


def test_auto_settings_are_chosen_from_the_training_data_and_saved(digits, tmp_path):
    model = SharedLatentVAE(digits.input_sizes, small_config(epochs=1))
    scaled = {"left": digits.train.domains["left"] * 16 - 3.5, "right": digits.train.domains["right"]}
    model.fit(scaled)
    assert (
        model.config.model.likelihood_for("left") == "gaussian"
        and model.config.model.preprocessing_for("left") == "standardize"
    )
    assert (
        model.config.model.likelihood_for("right") == "sigmoid_mse"
        and model.config.model.preprocessing_for("right") == "none"
    )
    assert set(model.auto_choices) == {"left", "right"} and "real values" in model.auto_choices["left"].reason
    model.save(tmp_path / "m.safetensors")
    again = SharedLatentVAE.load(tmp_path / "m.safetensors")
    assert again.config.model.likelihood_for("left") == "gaussian"
    x = digits.test.domains["right"][:5]
    assert np.allclose(again.translate(x, "right", "left"), model.translate(x, "right", "left"))


def test_scipy_sparse_samples_translate_and_encode_as_their_dense_values(trained, digits):
    """The README promises scipy.sparse input; it gives the dense input's numpy output."""
    import scipy.sparse as sp

    left = digits.test.domains["left"][:6]
    for matrix in (sp.csr_matrix(left), sp.csc_matrix(left), sp.coo_matrix(left)):
        np.testing.assert_array_equal(
            trained.translate(matrix, "left", "right"), trained.translate(left, "left", "right")
        )
        np.testing.assert_array_equal(trained.encode(matrix, "left"), trained.encode(left, "left"))
        np.testing.assert_array_equal(trained.cycle(matrix, "left", "right"), trained.cycle(left, "left", "right"))
    both = {"left": sp.csr_matrix(left), "right": sp.csr_matrix(digits.test.domains["right"][:6])}
    assert trained.predict(both, ["right"]).decoded["right"].shape == (6, 64)


def test_dataframes_with_different_row_indexes_are_refused_not_paired_by_position(digits):
    pd = pytest.importorskip("pandas")
    ids = [f"s{i}" for i in range(120)]
    left = pd.DataFrame(digits.train.domains["left"][:120], index=ids)
    right = pd.DataFrame(digits.train.domains["right"][:120], index=ids)
    model = SharedLatentVAE(digits.input_sizes, small_config(epochs=1))
    with pytest.raises(SharedLatentError, match="row 0 is 's0' in one and 's119' in the other"):
        model.fit({"left": left, "right": right[::-1]})
    with pytest.raises(SharedLatentError, match="120 and 100 rows"):
        model.fit({"left": left, "right": right.iloc[:100]})
    model.fit({"left": left, "right": right})
    with pytest.raises(SharedLatentError, match="predict: the DataFrames of 'left' and 'right' have different"):
        model.predict({"left": left, "right": right.sort_index()}, ["right"])
    np.testing.assert_array_equal(
        model.translate(left.iloc[:4], "left", "right"), model.translate(left.to_numpy()[:4], "left", "right")
    )
