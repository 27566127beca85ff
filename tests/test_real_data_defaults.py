"""Defaults on data that is not digits: k-fold epochs for tiny data, collapse detection, beating ridge where it
should, and "auto" settings resolved next to explicit ones."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sharedlatent.api import SharedLatentVAE
from sharedlatent.auto_settings import resolve_auto
from sharedlatent.config import DomainConfig, RunConfig
from sharedlatent.errors import SharedLatentError
from sharedlatent.evaluation.baselines import compare_direction
from sharedlatent.evaluation.latent_usage import active_latent_dimensions, gaussian_kl_per_dimension
from sharedlatent.runs.summary import uninformative_warnings
from sharedlatent.training.epoch_search import CV_FOLDS, search_epochs


def quick_config(**train) -> RunConfig:
    config = RunConfig()
    config.train.progress = False
    for key, value in train.items():
        setattr(config.train, key, value)
    return config


def low_rank_pair(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two wide views of 3 shared factors with noise (120 and 21 features)."""
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(n, 3))
    left = factors @ rng.normal(size=(3, 120)) + 0.5 * rng.normal(size=(n, 120))
    right = factors @ rng.normal(size=(3, 21)) + 0.5 * rng.normal(size=(n, 21))
    return left.astype(np.float32), right.astype(np.float32)


def test_search_epochs_records_each_folds_minimum_and_chooses_among_the_middle_ones():
    minima = iter([3, 9, 5, 7, 1])

    def losses(kept: np.ndarray, held_out: np.ndarray) -> list[float]:
        assert len(np.intersect1d(kept, held_out)) == 0 and len(kept) + len(held_out) == 50
        best = next(minima)
        return [abs(epoch - best) for epoch in range(1, 12)]

    search = search_epochs(50, seed=0, validation_losses=losses)
    assert search.per_fold == [3, 9, 5, 7, 1] and search.epochs == 4  # the median curve's lowest point


def test_one_fold_on_a_larger_loss_scale_that_stopped_early_does_not_choose_for_all():
    """A fold holding an outlier sample: losses a million times the others', best at epoch 1, stopped after 21
    epochs. Raw averages cut to the shortest curve chose 1 epoch; rescaled curves held at their last value do not."""
    folds = iter(range(CV_FOLDS))

    def losses(kept: np.ndarray, held_out: np.ndarray) -> list[float]:
        if next(folds) == 3:
            return [1e6 + epoch for epoch in range(1, 22)]
        return [10.0 / epoch + 0.001 * epoch for epoch in range(1, 201)]  # best at epoch 100

    search = search_epochs(50, seed=0, validation_losses=losses)
    assert search.per_fold == [100, 100, 100, 1, 100]
    assert 90 <= search.epochs <= 110


def test_a_fold_whose_loss_overflows_counts_it_as_its_worst_not_as_the_choice():
    folds = iter(range(CV_FOLDS))

    def losses(kept: np.ndarray, held_out: np.ndarray) -> list[float]:
        curve = [10.0 / epoch + 0.001 * epoch for epoch in range(1, 201)]  # best at epoch 100
        return [float("inf"), *curve[1:]] if next(folds) == 2 else curve

    assert 90 <= search_epochs(50, seed=0, validation_losses=losses).epochs <= 110


def test_thirty_samples_train_for_a_cross_validated_length_and_beat_the_mean():
    left, right = low_rank_pair(40)
    train, test = slice(0, 30), slice(30, None)
    model = SharedLatentVAE({"left": 120, "right": 21}, quick_config(epochs=60))
    model.fit({"left": left[train], "right": right[train]})
    assert model.epoch_search is not None and len(model.epoch_search.per_fold) == CV_FOLDS
    prediction = model.translate(left[test], "left", "right")
    mean = right[train].mean(axis=0)
    assert np.mean((prediction - right[test]) ** 2) < 0.8 * np.mean((mean - right[test]) ** 2)


def test_sixty_samples_learn_the_relation_where_a_glorot_output_layer_collapsed_to_the_mean():
    # Seed 3 of this pair: with Glorot-initialised output layers (model.zero_output_layers = false) the model
    # predicted little better than the mean (0.70x and 0.95x its MSE); zero-initialised, 0.12x and 0.15x.
    left, right = low_rank_pair(360, seed=3)
    config = quick_config(seed=3)
    model = SharedLatentVAE({"left": 120, "right": 21}, config)
    model.fit({"left": left[:60], "right": right[:60]})
    for source, target, values in (("left", "right", right), ("right", "left", left)):
        prediction = model.translate({"left": left, "right": right}[source][60:], source, target)
        mean_error = np.mean((values[:60].mean(axis=0) - values[60:]) ** 2)
        assert np.mean((prediction - values[60:]) ** 2) < 0.3 * mean_error


def test_output_layers_start_at_zero_unless_the_kl_is_summed():
    left, right = low_rank_pair(40)
    data = {"left": left, "right": right}
    labels = np.repeat(["a", "b"], 20)
    for batch, kl_reduction, wanted in ((None, "auto", True), (labels, "auto", False), (None, "sum", False)):
        model = SharedLatentVAE({"left": 120, "right": 21}, quick_config(epochs=2, kl_reduction=kl_reduction))
        model.fit(data, batch=batch)
        assert model.config.model.zero_output_layers is wanted and model.module.zero_output_layers is wanted
    explicit = quick_config(epochs=2)
    explicit.model.zero_output_layers = True
    model = SharedLatentVAE({"left": 120, "right": 21}, explicit)
    model.fit(data, batch=labels)
    assert model.config.model.zero_output_layers is True and model.module.zero_output_layers is True


def test_linnerud_translates_no_worse_than_the_mean_both_ways():
    # 16 training and 4 test samples with little signal: the smoke case. A Glorot output layer left the
    # exercise -> physiology translation 12% worse than the training mean on this split.
    from sharedlatent.datasets.linnerud import load_linnerud_pair

    data = load_linnerud_pair()
    model = SharedLatentVAE(data.input_sizes, quick_config())
    model.fit(data.train)
    for source, target in (("exercise", "physiological"), ("physiological", "exercise")):
        prediction = model.translate(data.test.domains[source], source, target)
        truth, mean = data.test.domains[target], data.train.domains[target].mean(axis=0)
        scale = data.train.domains[target].std(axis=0)
        error = np.mean(((prediction - truth) / scale) ** 2)
        assert error <= 1.05 * np.mean(((mean - truth) / scale) ** 2)


def test_a_model_forced_to_collapse_has_no_active_latent_dimension():
    left, right = low_rank_pair(300)
    collapsed = SharedLatentVAE({"left": 120, "right": 21}, quick_config(epochs=15, beta=1e5))
    collapsed.fit({"left": left, "right": right})
    mean, log_sigma = collapsed.latent_distribution(left[:100], "left")
    assert active_latent_dimensions(gaussian_kl_per_dimension(mean, log_sigma)) == 0
    working = SharedLatentVAE({"left": 120, "right": 21}, quick_config(epochs=15))
    working.fit({"left": left, "right": right})
    mean, log_sigma = working.latent_distribution(left[:100], "left")
    assert active_latent_dimensions(gaussian_kl_per_dimension(mean, log_sigma)) >= 2


def test_the_summary_warns_when_a_translation_is_the_mean():
    metrics = {"translation": {"a->b": {"mse_vs_mean_predictor": 1.0}, "b->a": {"mse_vs_mean_predictor": 0.4}}}
    (warning,) = uninformative_warnings(metrics)
    assert (
        warning.startswith("warning   a->b") and "the a encoding predicts b no better than its average does" in warning
    )


def two_way_metrics(raw: dict[str, float], standardized: dict[str, tuple[float, float]]) -> dict:
    """metrics.json's translation ratios (`raw`: direction -> MSE over the mean's) and baselines (`standardized`:
    direction -> the model's and the mean's standardised MSE), as uninformative_warnings reads them."""
    return {
        "translation": {d: {"mse_vs_mean_predictor": ratio} for d, ratio in raw.items()},
        "baselines": {d: {"standardized_mse": {"model": m, "mean": mean}} for d, (m, mean) in standardized.items()},
    }


def test_the_no_information_warning_reads_standardised_mse_where_the_baselines_have_it():
    """On the data's scale one huge feature decides the ratio; standardised, every feature counts alike."""
    metrics = two_way_metrics({"a->b": 1.03, "b->a": 0.5}, {"a->b": (0.87, 1.21), "b->a": (1.2, 1.2)})
    (warning,) = uninformative_warnings(metrics)
    assert warning.startswith("warning   b->a: no better than the training mean (1.00x its standardised MSE)")


def test_a_translation_far_worse_than_the_mean_in_the_data_units_is_warned_whatever_the_verdict():
    """One outlier in training (a value of 1e6) made translated values of a feature with test values within +-4 run
    to -8,895: 9.6x the mean's MSE in the data's units while the standardised verdict read 0.18x."""
    metrics = two_way_metrics({"a->b": 9.6, "b->a": 1.03}, {"a->b": (0.18, 1.0), "b->a": (0.5, 1.0)})
    (warning,) = uninformative_warnings(metrics)
    assert warning.startswith("warning   a->b: in the data's units the MSE is 9.60x the training mean's")


def test_a_nonlinear_task_is_won_against_ridge_by_a_margin():
    rng = np.random.default_rng(0)
    angle, radius = rng.uniform(0, 2 * np.pi, 400), rng.uniform(0.5, 1.5, 400)
    circle = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)
    left = circle @ rng.normal(size=(2, 6)) + 0.05 * rng.normal(size=(400, 6))
    harmonics = np.stack([np.cos(2 * angle), np.sin(2 * angle), radius**2, np.cos(3 * angle)], 1)
    right = harmonics @ rng.normal(size=(4, 5)) + 0.05 * rng.normal(size=(400, 5))
    train, test = slice(0, 320), slice(320, None)
    model = SharedLatentVAE({"left": 6, "right": 5}, quick_config(epochs=60))
    model.fit({"left": left[train].astype(np.float32), "right": right[train].astype(np.float32)})
    prediction = model.translate(left[test].astype(np.float32), "left", "right")
    scores = compare_direction(
        "left->right", left[train], right[train], left[test], right[test], model_prediction=prediction
    )
    assert scores.scores["model"].standardized_mse < 0.5 * scores.scores["ridge"].standardized_mse


@pytest.mark.parametrize(
    "own, expected",
    [
        (DomainConfig(likelihood="gaussian_fixed"), ("gaussian_fixed", "standardize")),
        (DomainConfig(preprocessing="minmax"), ("sigmoid_mse", "minmax")),
        (DomainConfig(likelihood="nb"), ("negative_binomial", "none")),
        (DomainConfig(likelihood="bernoulli", preprocessing="none"), None),
    ],
)
def test_auto_fills_only_what_the_domain_leaves_unset(own, expected):
    config = RunConfig.from_dict({"model": {"domains": {"left": dataclasses.asdict(own) | {"private_widths": None}}}})
    values = np.random.default_rng(0).poisson(3.0, size=(50, 4)).astype(float) * 1.5
    resolved, chosen = resolve_auto(config, {"left": values})
    if expected is None:
        assert "left" not in chosen
    else:
        domain = resolved.model.domains["left"]
        assert (domain.likelihood, domain.preprocessing) == expected


def test_cycling_counts_warns_about_the_users_input_only():
    import warnings

    from sharedlatent.count_inputs import CountInputWarning

    rng = np.random.default_rng(0)
    counts = rng.poisson(5.0, size=(200, 12)).astype(np.float32)
    values = (counts[:, :4] @ rng.normal(size=(4, 3))).astype(np.float32)
    config = quick_config(epochs=2)
    config.model.domains = {"counts": DomainConfig(likelihood="nb")}
    model = SharedLatentVAE({"counts": 12, "scores": 3}, config)
    model.fit({"counts": counts, "scores": values})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.cycle(counts[:10], "counts", "scores")
        model.cycle(values[:10], "scores", "counts")
    assert not [w for w in caught if issubclass(w.category, CountInputWarning)]
    with pytest.warns(CountInputWarning, match="did you pass X"):
        model.translate(np.log1p(counts[:10]), "counts", "scores")


def test_a_domain_named_like_a_module_dict_method_is_refused_in_one_line():
    from sharedlatent.errors import SharedLatentError

    with pytest.raises(SharedLatentError, match="domain name 'values' is taken"):
        SharedLatentVAE({"values": 3, "other": 4}, quick_config())


def real_and_image(seed: int) -> dict[str, np.ndarray]:
    """A real-valued domain on its natural scale (standardised by "auto") and one inside [0, 1] (left as it is)."""
    rng = np.random.default_rng(seed)
    return {
        "real": rng.normal(50, 10, (120, 5)).astype(np.float32),
        "image": rng.uniform(0, 1, (120, 4)).astype(np.float32),
    }


def fitted(config: RunConfig, data: dict[str, np.ndarray]) -> SharedLatentVAE:
    model = SharedLatentVAE({name: values.shape[1] for name, values in data.items()}, config)
    model.fit(data)
    return model


def test_input_noise_is_on_for_standardised_domains_only_and_reproduced_from_the_config(tmp_path):
    from sharedlatent.config import AUTO_NOISE

    def noise_levels(model: SharedLatentVAE) -> dict[str, float]:
        return model.config.noise_levels(model.domain_names)

    data = real_and_image(0)
    model = fitted(quick_config(epochs=1), data)
    assert model.config.model.domains["real"].preprocessing == "standardize"
    assert noise_levels(model) == {"real": AUTO_NOISE, "image": 0.0}
    (tmp_path / "config.toml").write_text(model.config.to_toml())
    again = RunConfig.from_toml(tmp_path / "config.toml")  # the chosen preprocessing is written out, so
    assert [again.model.noise_for(name, again.train.noise_level) for name in data] == [AUTO_NOISE, 0.0]  # same levels
    again.train.noise_level = 0.0  # and a global level given later still applies (`--noise 0` on a rerun)
    assert [again.model.noise_for(name, again.train.noise_level) for name in data] == [0.0, 0.0]

    explicit = quick_config(epochs=1, noise_level=0.0)  # --noise 0 turns it off everywhere
    explicit.model.domains["image"] = DomainConfig(noise_level=0.05)  # a domain's own level wins
    assert noise_levels(fitted(explicit, data)) == {"real": 0.0, "image": 0.05}


def test_weight_decay_is_on_when_a_domain_is_standardised_and_reaches_the_optimiser(monkeypatch, tmp_path):
    from sharedlatent.config import AUTO_WEIGHT_DECAY, original_config
    from sharedlatent.training import loop

    used = []

    def recording_optimizers(parameters, learning_rate, weight_decay=0.0, per_phase=False):
        used.append(weight_decay)
        return phase_optimizers(parameters, learning_rate, weight_decay, per_phase)

    phase_optimizers = loop.PhaseOptimizers
    monkeypatch.setattr(loop, "PhaseOptimizers", recording_optimizers)
    data = real_and_image(0)
    model = fitted(quick_config(epochs=1), data)
    # every fit (the epoch search's folds and the final one) decays
    assert model.config.weight_decay(model.domain_names) == AUTO_WEIGHT_DECAY and set(used) == {AUTO_WEIGHT_DECAY}
    (tmp_path / "config.toml").write_text(model.config.to_toml())  # the chosen preprocessing is written out, so a
    assert RunConfig.from_toml(tmp_path / "config.toml").weight_decay(list(data)) == AUTO_WEIGHT_DECAY  # rerun decays
    images = {"image": data["image"], "inverse": 1 - data["image"]}  # in [0, 1]: no decay, as on the digits task
    assert fitted(quick_config(epochs=1), images).config.weight_decay(list(images)) == 0.0 and used[-1] == 0.0
    explicit = fitted(quick_config(epochs=1, weight_decay=0.05), data)
    assert explicit.config.weight_decay(explicit.domain_names) == 0.05 and used[-1] == 0.05
    assert original_config().weight_decay(["left", "right"]) == 0.0  # the original used plain Adam


def test_noise_values_of_the_wrong_type_are_one_line_errors():
    for config in (quick_config(noise_level="auto"), quick_config()):
        if config.train.noise_level is None:
            config.model.domains["real"] = DomainConfig(noise_level="0.1")
        with pytest.raises(SharedLatentError, match="noise_level must be a number, got"):
            fitted(config, real_and_image(0))


def test_the_noise_rule_changes_training_only_where_it_applies():
    data = real_and_image(1)
    automatic = fitted(quick_config(epochs=2), data)
    explicit = quick_config(epochs=2)
    explicit.model.domains["real"] = DomainConfig(noise_level=0.2)
    explicit.model.domains["image"] = DomainConfig(noise_level=0.0)
    same = fitted(explicit, data)
    silent = fitted(quick_config(epochs=2, noise_level=0.0), data)
    losses = [[r.train_loss for r in m.history.records] for m in (automatic, same, silent)]
    assert losses[0] == losses[1] and losses[0] != losses[2]


def test_the_summary_names_each_domains_noise():
    from sharedlatent.runs.summary import noise_text

    config = RunConfig()
    config.model.domains = {"rna": DomainConfig(preprocessing="standardize"), "adt": DomainConfig(preprocessing="none")}
    assert noise_text(config, ["rna", "adt"]) == "rna 0.2, adt 0"
    config.train.noise_level = 0.1
    assert noise_text(config, ["rna", "adt"]) == "0.1"
