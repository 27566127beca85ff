"""Preprocessors: round trips, fit on train only, JSON round trip, constant columns."""

import json

import numpy as np
import pytest

from sharedlatent.errors import SharedLatentError
from sharedlatent.preprocessing import PREPROCESSORS, fit_preprocessor, make_preprocessor, preprocessor_from_dict

RNG = np.random.default_rng(0)
COUNTS = RNG.poisson(5.0, size=(50, 6)).astype(np.float64) * np.array([1, 10, 100, 1, 1, 1000])


@pytest.mark.parametrize("name", list(PREPROCESSORS))
def test_round_trip(name):
    preprocessor = fit_preprocessor(name, COUNTS)
    restored = preprocessor.inverse_transform(preprocessor.transform(COUNTS))
    np.testing.assert_allclose(restored, COUNTS, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("name", ["minmax", "minmax_per_feature", "log1p_minmax"])
def test_bounded_to_unit_interval_on_train(name):
    transformed = fit_preprocessor(name, COUNTS).transform(COUNTS)
    assert transformed.dtype == np.float32
    assert transformed.min() >= 0.0 and transformed.max() <= 1.0 + 1e-6


def test_standardize_gives_zero_mean_unit_variance():
    transformed = fit_preprocessor("standardize", COUNTS).transform(COUNTS)
    np.testing.assert_allclose(transformed.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(transformed.std(axis=0), 1.0, atol=1e-5)


def test_fit_uses_train_only():
    train, test = np.array([[0.0], [10.0]]), np.array([[20.0]])
    preprocessor = fit_preprocessor("minmax_per_feature", train)
    np.testing.assert_allclose(preprocessor.transform(test), [[2.0]])


@pytest.mark.parametrize("name", list(PREPROCESSORS))
def test_serialisation_round_trip(name):
    preprocessor = fit_preprocessor(name, COUNTS)
    restored = preprocessor_from_dict(json.loads(json.dumps(preprocessor.to_dict())))
    np.testing.assert_array_equal(restored.transform(COUNTS), preprocessor.transform(COUNTS))


@pytest.mark.parametrize("name", list(PREPROCESSORS))
def test_constant_columns_do_not_divide_by_zero(name):
    constant = np.full((5, 3), 7.0)
    transformed = fit_preprocessor(name, constant).transform(constant)
    assert np.isfinite(transformed).all()


def test_unknown_name_lists_choices():
    with pytest.raises(SharedLatentError, match="unknown preprocessing 'zscore'.*standardize"):
        make_preprocessor("zscore")


def test_transform_before_fit_and_wrong_width():
    with pytest.raises(SharedLatentError, match="call fit"):
        make_preprocessor("minmax_per_feature").transform(COUNTS)
    with pytest.raises(SharedLatentError, match="fitted on 6 features, got 2"):
        fit_preprocessor("standardize", COUNTS).transform(COUNTS[:, :2])


def test_log1p_refuses_negative_values():
    with pytest.raises(SharedLatentError, match="values >= 0"):
        fit_preprocessor("log1p_minmax", -COUNTS)


def test_from_dict_rejects_bad_keys():
    with pytest.raises(SharedLatentError, match="expected keys"):
        preprocessor_from_dict({"name": "minmax", "offset": [0.0]})


def test_registry_matches_the_declared_names():
    from sharedlatent import names

    assert tuple(PREPROCESSORS) == names.PREPROCESSINGS
    assert all(make_preprocessor(name).name == name for name in names.PREPROCESSINGS)


def test_a_near_constant_feature_is_not_blown_up_by_standardising():
    from sharedlatent.preprocessing import make_preprocessor

    rng = np.random.default_rng(0)
    train = np.column_stack([rng.normal(0, 10, 500), rng.normal(0, 10, 500), np.r_[np.zeros(499), 1.0]])
    scaler = make_preprocessor("standardize").fit(train)
    # The almost-always-zero feature (std 0.045) is divided by a quarter of its own range (0.25; 5% of the median
    # spread, about 0.5, would squash it beside the others' larger units), not by 0.045: a value of 100 there
    # becomes about 400, not about 2,200, and its one training 1 about 4.
    assert 350 < abs(scaler.transform(np.array([[0.0, 0.0, 100.0]]))[0, 2]) < 450
    assert np.allclose(scaler.inverse_transform(scaler.transform(train)), train, atol=1e-4)


def test_a_feature_in_small_units_keeps_its_own_spread_in_memory_and_streamed():
    """Units are not spread: a continuous feature of std 0.05 beside features of std 100 is standardised by its own
    std (its input noise is 0.2 of its spread, not of the floor's), while a mostly-zero one is still floored, to a
    quarter of its range where 5% of the median spread would be more; a balanced 0/1 one keeps its own std."""
    from sharedlatent.preprocessing import fit_streamed

    rng = np.random.default_rng(0)
    mostly_zero = np.where(rng.uniform(size=1000) < 0.02, 1.0, 0.0)
    balanced = (rng.uniform(size=1000) < 0.4).astype(float)  # smoker / sex beside dollars
    dollars = rng.normal(0, 100, (1000, 4))
    train = np.column_stack([dollars, rng.normal(3, 0.05, 1000), mostly_zero, balanced])
    for scaler in (fit_preprocessor("standardize", train), fit_streamed("standardize", np.array_split(train, 7))):
        scale = np.asarray(scaler.scale)
        assert scale[4] == pytest.approx(train[:, 4].std(), rel=1e-9)
        assert scale[5] == pytest.approx(0.25, rel=1e-9)  # min(5% of the median spread, a quarter of its range)
        assert scale[5] > 1.5 * train[:, 5].std()
        assert scale[6] == pytest.approx(train[:, 6].std(), rel=1e-9)
        assert np.asarray(scaler.transform(train))[:, 4].std() == pytest.approx(1.0, rel=1e-5)


def test_the_standardised_score_keeps_small_units_and_says_which_features_it_leaves_out():
    from sharedlatent.evaluation.baselines import compare_direction

    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 3))
    border = np.where(rng.uniform(size=400) < 0.01, 0.3, 0.0)  # mostly one value, tiny spread: nothing to predict
    big = x @ rng.normal(0, 100, (3, 3))  # three features in large units
    y = np.column_stack([big, x @ [0.0, 0.02, 0.05] + 7.0, border])
    scores = compare_direction("x->y", x[:300], y[:300], x[300:], y[300:])
    assert any("scores 4 of 5 features" in note for note in scores.notes)
    # the small-unit feature counts: a prediction wrong only there is far worse than the mean predictor's
    wrong = y[300:].copy()
    wrong[:, 3] = y[:300, 3].mean() + 5 * y[:300, 3].std()
    scored = compare_direction("x->y", x[:300], y[:300], x[300:], y[300:], model_prediction=wrong)
    assert scored.scores["model"].standardized_mse > 4


@pytest.mark.parametrize("name", ["standardize", "minmax_per_feature", "minmax", "log1p_minmax", "none", "log1p"])
def test_outputs_of_features_never_negative_in_training_are_never_negative(name):
    """A translation of TPM or intensities answers no negative amounts; a feature that had negative values may."""
    rng = np.random.default_rng(0)
    train = np.column_stack([rng.lognormal(2, 1.5, 200), rng.normal(0, 1, 200)])
    if name in ("log1p_minmax", "minmax", "log1p"):  # log1p needs counts; minmax has one flag for all features
        train = np.abs(train)
    scaler = fit_preprocessor(name, train)
    far_below = scaler.inverse_transform(np.full((3, 2), -50.0))
    assert (far_below[:, 0] == 0).all()
    if name in ("standardize", "minmax_per_feature", "none"):
        assert (far_below[:, 1] < -10).all()
    again = preprocessor_from_dict(json.loads(json.dumps(scaler.to_dict())))
    np.testing.assert_array_equal(again.inverse_transform(np.full((3, 2), -50.0)), far_below)


def test_settings_saved_before_the_nonnegative_flags_load_and_do_not_clip():
    old = {"name": "standardize", "offset": [1.0, 2.0], "scale": [2.0, 1.0]}
    restored = preprocessor_from_dict(old).inverse_transform(np.array([[-5.0, -5.0]]))
    np.testing.assert_array_equal(restored, [[-9.0, -3.0]])


def test_a_rare_border_pixel_is_floored_to_a_quarter_of_its_own_range():
    """A pixel of values 3 and 5 in 3% of 0..255 images: its training values stay within about 4 units once scaled
    (the cap), where 5% of the median spread (3.7) would squash them to about 1; an unseen 255 becomes about 200."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (500, 6)).astype(float)
    border = np.where(rng.uniform(size=500) < 0.03, rng.choice([3.0, 5.0], 500), 0.0)
    train = np.column_stack([image, border])
    scaler = fit_preprocessor("standardize", train)
    assert scaler.scale[6] == pytest.approx(0.25 * 5.0)
    assert np.abs(np.asarray(scaler.transform(train))[:, 6]).max() < 4.5
