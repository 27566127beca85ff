import dataclasses

import pytest

from sharedlatent.config import DomainConfig, RunConfig, TrainConfig, apply_overrides, original_config, seed_config
from sharedlatent.errors import SharedLatentError


def test_toml_round_trip(tmp_path):
    config = RunConfig()
    config.model.domains["right"] = DomainConfig(private_widths=[128, 64], preprocessing="minmax")
    path = tmp_path / "config.toml"
    path.write_text(config.to_toml())
    assert RunConfig.from_toml(path) == config


def test_defaults_keep_the_original_layout():
    config = RunConfig()
    assert config.model.private_widths == [96, 64]
    assert config.model.shared_widths == [32]
    assert config.model.latent_size == 16


def test_unknown_key_is_an_error_naming_it(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[train]\nepoch = 3\n")
    with pytest.raises(SharedLatentError, match=r"unknown config key train\.epoch"):
        RunConfig.from_toml(path)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[train]\nepochs = 0\n", "train.epochs must be at least 1"),
        ("[train]\nepochs = 'ten'\n", "train.epochs must be an integer"),
        ("[train]\nschedule = 'fancy'\n", "train.schedule must be one of"),
        ("[model]\nlatent_size = -2\n", "model.latent_size"),
        ("[model]\nshared_widths = [0]\n", r"each must be in \[1, 65536\]"),
        ("[train]\nvalidation_fraction = 1.5\n", "validation_fraction"),
        ("[model.domains.left]\npreprocessing = 'cube'\n", "preprocessing must be one of"),
    ],
)
def test_impossible_values_are_errors(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SharedLatentError, match=message):
        RunConfig.from_toml(path)


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(SharedLatentError, match="does not exist"):
        RunConfig.from_toml(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[train\n")
    with pytest.raises(SharedLatentError, match="not valid TOML"):
        RunConfig.from_toml(broken)


def test_overrides_parse_values_and_check_them():
    config = apply_overrides(
        RunConfig(), {"train.epochs": "7", "model.shared_widths": "[8, 4]", "train.schedule": "original"}
    )
    assert config.train.epochs == 7 and config.model.shared_widths == [8, 4] and config.train.schedule == "original"
    with pytest.raises(SharedLatentError, match="unknown config key train.speed"):
        apply_overrides(RunConfig(), {"train.speed": "3"})


def test_validation_against_data():
    config = RunConfig()
    config.model.domains["left"] = DomainConfig(private_widths=[10, 5])
    with pytest.raises(SharedLatentError, match="last private width"):
        config.validate({"left": 64, "right": 64})
    with pytest.raises(SharedLatentError, match="at least two domains"):
        RunConfig().validate({"left": 64})
    sized = RunConfig()
    sized.model.domains["left"] = DomainConfig(input_size=10)
    with pytest.raises(SharedLatentError, match="input_size is 10 but the data has 64"):
        sized.validate({"left": 64, "right": 64})


def test_original_config_is_the_original_setup():
    config = original_config()
    assert config.train.schedule == "original" and config.train.batch_size == 256 and config.train.learning_rate == 1e-3
    assert (
        config.train.kl_formula == "original" and config.train.patience == 3 and config.train.validation_fraction == 0
    )
    assert config.train.freeze_phases is False and config.train.epochs == 50
    assert original_config(epochs=7, freeze_phases=True).train.epochs == 7
    assert original_config(freeze_phases=True).train.freeze_phases is True


def test_seed_config_is_a_deprecated_alias():
    with pytest.warns(DeprecationWarning, match="original_config"):
        config = seed_config(epochs=5)
    assert config == original_config(epochs=5) and config.train.freeze_phases is False


def test_version_0_1_names_load_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="'seed' is deprecated"):
        config = RunConfig.from_dict({"train": {"schedule": "seed", "kl_formula": "seed"}})
    assert config.train.schedule == "original" and config.train.kl_formula == "original"


def test_seed_is_accepted_in_toml_overrides_and_python(tmp_path):
    path = tmp_path / "old.toml"
    path.write_text('[train]\nschedule = "seed"\n')
    with pytest.warns(DeprecationWarning):
        assert RunConfig.from_toml(path).train.schedule == "original"
    with pytest.warns(DeprecationWarning):
        assert apply_overrides(RunConfig(), {"train.kl_formula": "seed"}).train.kl_formula == "original"
    config = RunConfig(train=TrainConfig(schedule="seed"))
    with pytest.warns(DeprecationWarning):
        config.validate()
    assert config.train.schedule == "original"


def test_a_choice_error_is_one_line_naming_the_choices():
    with pytest.raises(SharedLatentError) as error:
        RunConfig.from_dict({"train": {"schedule": "fancy"}})
    assert str(error.value) == "train.schedule must be one of ('joint', 'original'), got 'fancy'"
    with pytest.raises(SharedLatentError, match="model.domains.left.likelihood must be one of"):
        RunConfig.from_dict({"model": {"domains": {"left": {"likelihood": 3}}}})


@pytest.mark.parametrize(
    "section, key, value, message",
    [
        ("train", "learning_rate", 0.0, "train.learning_rate must be positive, got 0.0"),
        ("train", "beta", -1.0, "train.beta must be non-negative, got -1.0"),
        ("train", "beta_warmup_epochs", -1, "train.beta_warmup_epochs must be non-negative"),
        ("train", "cross_weight", -0.5, "train.cross_weight must be non-negative"),
        ("train", "cycle_weight", -0.5, "train.cycle_weight must be non-negative"),
        ("train", "noise_level", -0.1, "train.noise_level must be non-negative"),
        ("train", "lr_decay", 1.5, "train.lr_decay must be in (0, 1], got 1.5"),
        ("train", "lr_decay", 0.0, "train.lr_decay must be in (0, 1]"),
        ("train", "lr_decay_patience", -1, "train.lr_decay_patience must be non-negative"),
        ("train", "patience", 0, "train.patience must be at least 1, got 0"),
        ("train", "batch_size", 0, "train.batch_size must be at least 1"),
        ("train", "validation_fraction", -0.1, "train.validation_fraction must be in [0, 1)"),
        ("train", "threads", -1, "train.threads must be non-negative"),
        ("train", "device", "tpu", "train.device must be"),
        ("train", "kl_formula", "approx", "train.kl_formula must be one of"),
        ("model", "latent_size", 0, "model.latent_size must be in [1, 65536], got 0"),
        ("model", "private_widths", [], "model.private_widths needs at least one layer"),
        ("model", "private_widths", [8, 0], "model.private_widths: each must be in [1, 65536], got [8, 0]"),
        ("model", "joint_posterior", "sum", "model.joint_posterior must be one of"),
    ],
)
def test_bounds_and_choices(section, key, value, message):
    config = RunConfig()
    setattr(getattr(config, section), key, value)
    with pytest.raises(SharedLatentError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        config.validate()


@pytest.mark.parametrize(
    "domain, message",
    [
        (DomainConfig(private_widths=[0]), "model.domains.left.private_widths: each must be in"),
        (DomainConfig(likelihood="gaussian_fixed", variance=0.0), "model.domains.left.variance must be positive"),
        (DomainConfig(variance=2.0), "variance applies only to likelihood 'gaussian_fixed'"),
        (DomainConfig(library="learned"), "library applies only to likelihoods"),
        (DomainConfig(likelihood="zinb", library="guess"), "model.domains.left.library must be one of"),
        (DomainConfig(likelihood="zinb", preprocessing="log1p"), "preprocessing must be 'none'"),
        (DomainConfig(preprocessing="cube"), "model.domains.left.preprocessing must be one of"),
        (DomainConfig(likelihood="poisson"), "model.domains.left.likelihood must be one of"),
    ],
)
def test_domain_settings_are_checked(domain, message):
    config = RunConfig()
    config.model.domains["left"] = domain
    with pytest.raises(SharedLatentError, match=message):
        config.validate()


def test_domain_named_like_the_shared_group_is_refused():
    with pytest.raises(SharedLatentError, match="may not be named 'shared'"):
        RunConfig().validate({"left": 4, "shared": 4})
    with pytest.raises(SharedLatentError, match=r"model.domains names \['extra'\]"):
        RunConfig(model=dataclasses.replace(RunConfig().model, domains={"extra": DomainConfig()})).validate(
            {"left": 4, "right": 4}
        )


def test_non_finite_numbers_are_refused():
    with pytest.raises(SharedLatentError, match="train.beta must be a finite number"):
        apply_overrides(RunConfig(), {"train.beta": "inf"})
    config = RunConfig()
    config.train.noise_level = float("nan")
    with pytest.raises(SharedLatentError, match="noise_level must be a finite number"):
        config.validate()
