import pytest

from sharedlatent.config import DomainConfig, RunConfig, apply_overrides, seed_config
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
        ("[model]\nshared_widths = [0]\n", "positive integers"),
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
        RunConfig(), {"train.epochs": "7", "model.shared_widths": "[8, 4]", "train.schedule": "seed"}
    )
    assert config.train.epochs == 7 and config.model.shared_widths == [8, 4] and config.train.schedule == "seed"
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


def test_seed_config_is_the_original_setup():
    config = seed_config()
    assert config.train.schedule == "seed" and config.train.batch_size == 256 and config.train.learning_rate == 1e-3
    assert config.train.kl_formula == "seed" and config.train.patience == 3 and config.train.validation_fraction == 0


def test_non_finite_numbers_are_refused():
    with pytest.raises(SharedLatentError, match="train.beta must be a finite number"):
        apply_overrides(RunConfig(), {"train.beta": "inf"})
    config = RunConfig()
    config.train.noise_level = float("nan")
    with pytest.raises(SharedLatentError, match="noise_level must be a finite number"):
        config.validate()
