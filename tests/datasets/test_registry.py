"""Datasets from installed plug-ins (entry points) and the settings a dataset suggests for its domains."""

import numpy as np

from sharedlatent.config import DomainConfig, RunConfig
from sharedlatent.datasets import PairedDataset, Split, available_datasets, load_dataset
from sharedlatent.runs.cli import main
from sharedlatent.runs.folder import with_dataset_settings

PLUGIN_MODULE = """
import numpy as np

from sharedlatent.datasets import PairedDataset, Split


def load_squares(n="40"):
    rng = np.random.default_rng(0)
    left = rng.uniform(size=(int(n), 5))
    half = int(n) // 2
    return PairedDataset(
        name="squares",
        train=Split({"left": left[:half], "right": left[:half] ** 2}),
        test=Split({"left": left[half:], "right": left[half:] ** 2}),
    )
"""


def install_fake_plugin(root, monkeypatch) -> None:
    """A distribution on sys.path whose entry point declares the dataset `squares_plugin`."""
    info = root / "sharedlatent_squares-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sharedlatent-squares\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[sharedlatent.datasets]\nsquares_plugin = squares_plugin_module:load_squares\n"
    )
    (root / "squares_plugin_module.py").write_text(PLUGIN_MODULE)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delitem(__import__("sys").modules, "squares_plugin_module", raising=False)


def test_an_entry_point_dataset_is_listed_and_loads(tmp_path, monkeypatch, capsys):
    install_fake_plugin(tmp_path, monkeypatch)
    specs = available_datasets()
    assert specs["squares_plugin"].loader_path == "squares_plugin_module:load_squares"
    assert "digits" in specs
    assert main(["datasets"]) == 0
    assert "squares_plugin" in capsys.readouterr().out
    dataset = load_dataset("squares_plugin", n="10")
    assert dataset.input_sizes == {"left": 5, "right": 5} and dataset.train.n_samples == 5


def test_a_plugin_cannot_replace_a_builtin_dataset(tmp_path, monkeypatch):
    info = tmp_path / "shadow-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shadow\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[sharedlatent.datasets]\ndigits = nowhere:load\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert available_datasets()["digits"].loader_path == "sharedlatent.datasets.digits:load_digits_pair"


def small_dataset(**domain_settings) -> PairedDataset:
    values = np.linspace(0, 1, 40).reshape(8, 5)
    split = Split({"left": values, "right": values})
    return PairedDataset(name="small", train=split, test=split, domain_settings=domain_settings)


def test_suggested_settings_fill_only_the_domains_the_config_leaves_unset():
    config = RunConfig()
    config.model.domains["left"] = DomainConfig(likelihood="bernoulli")
    suggested = {"likelihood": "gaussian", "preprocessing": "standardize"}
    dataset = small_dataset(left=suggested, right=suggested)
    filled = with_dataset_settings(config, dataset)
    assert filled.model.domains["left"] == DomainConfig(likelihood="bernoulli")
    assert filled.model.domains["right"] == DomainConfig(likelihood="gaussian", preprocessing="standardize")
    assert list(config.model.domains) == ["left"]  # the caller's config is left as it was


def test_without_suggestions_the_config_is_unchanged():
    config = RunConfig()
    assert with_dataset_settings(config, small_dataset()) is config
