import json

import numpy as np
import pytest
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KNeighborsRegressor

from sharedlatent.errors import SharedLatentError
from sharedlatent.evaluation.baselines import (
    KNN_NEIGHBOURS,
    RIDGE_ALPHAS,
    compare_direction,
    fit_baselines,
    ridge_penalty,
    verdict_line,
)


def linear_problem(n=200, noise=0.01, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6))
    y = x @ rng.standard_normal((6, 4)) + noise * rng.standard_normal((n, 4))
    return x[: n * 3 // 4], y[: n * 3 // 4], x[n * 3 // 4 :], y[n * 3 // 4 :]


def test_baselines_match_scikit_learn_fitted_directly():
    x, y, x_test, _ = linear_problem(noise=0.5)
    found = fit_baselines(x, y, x_test)
    alpha = RidgeCV(alphas=RIDGE_ALPHAS, cv=KFold(5, shuffle=True, random_state=0)).fit(x, y).alpha_
    assert found.ridge_alpha == pytest.approx(alpha)
    np.testing.assert_allclose(found.predictions["ridge"], Ridge(alpha=alpha).fit(x, y).predict(x_test))
    grid = GridSearchCV(
        KNeighborsRegressor(),
        {"n_neighbors": list(KNN_NEIGHBOURS)},
        cv=KFold(5, shuffle=True, random_state=0),
        scoring="neg_mean_squared_error",
    )
    k = grid.fit(x, y).best_params_["n_neighbors"]
    assert found.knn_neighbours == k
    np.testing.assert_allclose(found.predictions["knn"], KNeighborsRegressor(n_neighbors=k).fit(x, y).predict(x_test))
    np.testing.assert_allclose(found.predictions["mean"], np.tile(y.mean(0), (len(x_test), 1)))


def test_ridge_is_near_perfect_on_a_linear_problem_and_scores_serialise():
    x, y, x_test, y_test = linear_problem()
    scores = compare_direction("left->right", x, y, x_test, y_test, model_prediction=y_test + 0.1)
    assert scores.scores["ridge"].standardized_mse < 1e-3
    assert scores.scores["mean"].standardized_mse > 0.5
    assert scores.scores["ridge"].pearson > 0.999
    json.dumps(scores.to_dict())


def test_scores_are_on_the_data_scale_through_the_inverse():
    x, y, x_test, y_test = linear_problem()
    scale, shift = 10.0, 3.0
    scores = compare_direction(
        "a->b", x, y, x_test, y_test * scale + shift, y * scale + shift, inverse=lambda v: v * scale + shift
    )
    assert scores.scores["ridge"].standardized_mse < 1e-3
    assert scores.scores["mean"].mse == pytest.approx(scale**2 * np.mean((y_test - y.mean(0)) ** 2))


def test_verdict_line_gives_ratios_of_standardised_mse():
    scores = {
        "scores": {
            "model": {"standardized_mse": 0.31},
            "ridge": {"standardized_mse": 0.5},
            "knn": {"standardized_mse": 0.387},
            "mean": {"standardized_mse": 0.75},
        }
    }
    assert verdict_line("left->right", scores) == "left->right: 0.62x ridge, 0.80x kNN, 0.41x mean (standardised MSE)"


def test_subsampling_note_appears_above_the_threshold_only():
    x, y, x_test, _ = linear_problem(n=200)
    assert fit_baselines(x, y, x_test, search_rows=1000).notes == []
    notes = fit_baselines(x, y, x_test, search_rows=50).notes
    assert any("50 of 150" in note for note in notes)


def test_rows_missing_a_domain_are_dropped():
    x, y, x_test, y_test = linear_problem()
    x, y = x.copy(), y.copy()
    x[:5] = np.nan
    y[5:8] = np.nan
    source_test = x_test.copy()
    source_test[0] = np.nan
    scores = compare_direction("left->right", x, y, source_test, y_test)
    assert scores.n_test == len(y_test) - 1
    assert scores.n_train == len(y) - 8
    assert scores.scores["ridge"].standardized_mse < 1e-3


def test_auroc_for_binary_targets():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 3))
    y = (x[:, :2] + 0.3 * rng.standard_normal((300, 2)) > 0).astype(float)
    scores = compare_direction("a->b", x[:200], y[:200], x[200:], y[200:])
    assert scores.scores["ridge"].auroc > 0.9
    assert scores.scores["mean"].auroc == pytest.approx(0.5)


def test_a_one_feature_target_gets_two_dimensional_predictions():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4))
    y = x[:, :1] * 2 + 0.1 * rng.normal(size=(60, 1))
    predictions = fit_baselines(x[:50], y[:50], x[50:]).predictions
    assert all(values.shape == (10, 1) for values in predictions.values())


def test_a_near_exact_baseline_is_named_instead_of_divided_by():
    scores = {
        "model": {"standardized_mse": 0.3},
        "ridge": {"standardized_mse": 1e-9},
        "mean": {"standardized_mse": 1.0},
    }
    line = verdict_line("a->b", {"scores": scores})
    assert "ridge near-exact" in line and "0.30x mean" in line and line.endswith("(standardised MSE)")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_penalty_and_neighbour_searches_pick_what_scikit_learns_searches_pick(seed):
    """On uneven target scales, a constant target feature and the integer pixels of the digits (where distance ties
    could, but on these rows do not, make the k differ: see knn_neighbours)."""
    from sklearn.datasets import load_digits

    from sharedlatent.evaluation.baselines import knn_neighbours, ridge_penalty

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((90, 12))
    y = np.column_stack([x[:, :3] @ rng.standard_normal(3) * 100, np.tanh(x[:, 4]) + rng.normal(0, 1, 90), np.ones(90)])
    digits = load_digits().data[seed * 300 : seed * 300 + 300]
    for source, target in ((x, y), (digits[:, :32], digits[:, 32:])):
        kfold = KFold(5, shuffle=True, random_state=seed)
        alpha = RidgeCV(alphas=RIDGE_ALPHAS, cv=kfold).fit(source, target).alpha_
        assert ridge_penalty(source, target, 5, seed) == pytest.approx(alpha)
        grid = GridSearchCV(
            KNeighborsRegressor(), {"n_neighbors": list(KNN_NEIGHBOURS)}, cv=kfold, scoring="neg_mean_squared_error"
        )
        k = grid.fit(source, target).best_params_["n_neighbors"]
        assert knn_neighbours(source, target, list(KNN_NEIGHBOURS), 5, seed) == k


def test_a_constant_prediction_at_a_large_scale_has_no_correlation_and_no_warning():
    import warnings

    from sharedlatent.evaluation.baselines import score_prediction

    rng = np.random.default_rng(0)
    truth, train = rng.normal(1e6, 1e5, (50, 4)), rng.normal(1e6, 1e5, (200, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = score_prediction(truth, np.tile(train.mean(0), (50, 1)), train)
        varied = score_prediction(truth, truth * 0.5 + 1e5, train)
    assert np.isnan(scores.pearson) and np.isnan(scores.spearman) and scores.standardized_mse > 0.5
    assert varied.pearson == pytest.approx(1.0) and varied.spearman == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: {**a, "target_train": a["target_train"][:-5]}, "source_train has 150 rows but target_train has 145"),
        (lambda a: {**a, "source_test": a["source_test"][:, :3]}, "source_train has 6 features but source_test has 3"),
        (lambda a: {**a, "target_test_raw": np.full((50, 4), np.inf)}, "target_test has infinite values"),
        (lambda a: {**a, "source_train": a["source_train"][None]}, "source_train must be samples x features"),
        (lambda a: {**a, "model_prediction": np.zeros((49, 4))}, "target_test has 50 rows but model_prediction has 49"),
        (lambda a: {**a, "source_train": np.full((150, 6), np.nan)}, "no training row has both"),
    ],
)
def test_compare_direction_refuses_bad_arrays_in_one_line(change, message):
    x, y, x_test, y_test = linear_problem()
    arrays = {"source_train": x, "target_train": y, "source_test": x_test, "target_test_raw": y_test}
    with pytest.raises(SharedLatentError, match=message):
        compare_direction("a->b", **change(arrays))


def test_compare_direction_takes_one_dimensional_targets_and_notes_dropped_test_rows():
    x, y, x_test, y_test = linear_problem()
    x_test = x_test.copy()
    x_test[0, 2] = np.nan
    scores = compare_direction("a->b", x, y[:, 0], x_test, y_test[:, 0])
    assert scores.n_test == len(x_test) - 1
    assert scores.notes == ["dropped 1 test rows with a missing (NaN) source value"]
    assert scores.scores["ridge"].standardized_mse < 0.01


def test_ridge_penalty_survives_an_svd_that_does_not_converge(monkeypatch):
    """numpy's gesdd failed on one centred gene matrix (OpenBLAS on one thread) and crashed a run's evaluation;
    gesvd then gives the same penalty."""
    from sharedlatent.evaluation import baselines
    from sharedlatent.svd import thin_svd

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 8)), rng.normal(size=(60, 3))
    expected = ridge_penalty(x, y, 5, 0)

    def failing(*args, **kwargs):
        raise np.linalg.LinAlgError("SVD did not converge")

    monkeypatch.setattr(baselines.np.linalg, "svd", failing)
    assert ridge_penalty(x, y, 5, 0) == expected
    u, singular, vt = thin_svd(x)
    np.testing.assert_allclose((u * singular) @ vt, x, atol=1e-10)
