"""Partially paired data: masks in the losses, NaN rows and present= at the API, Split masks, outer pairing."""

import numpy as np
import pandas as pd
import pytest
import torch

from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import DomainConfig, ModelConfig, RunConfig, TrainConfig
from sharedlatent.datasets.base import Split
from sharedlatent.datasets.pairing import pair_by_ids
from sharedlatent.datasets.registry import load_dataset
from sharedlatent.datasets.tables import load_table_pair
from sharedlatent.errors import SharedLatentError
from sharedlatent.nn.model import SharedLatentModule
from sharedlatent.nn.objective import LossWeights
from sharedlatent.training.schedules import joint_schedule


def tiny_config(epochs=3, **train) -> RunConfig:
    settings = dict(epochs=epochs, batch_size=32, progress=False, validation_fraction=0.0, threads=1)
    settings.update(train)
    return RunConfig(
        model=ModelConfig(private_widths=[16, 8], shared_widths=[8], latent_size=3), train=TrainConfig(**settings)
    )


@pytest.mark.parametrize("posterior", ["mean", "poe", "moe"])
def test_a_missing_sample_contributes_nothing_to_the_loss(posterior):
    torch.manual_seed(0)
    module = SharedLatentModule(
        {"a": 5, "b": 4},
        {"a": [6], "b": [6]},
        [4],
        2,
        {"a": "gaussian", "b": "negative_binomial"},
        joint_posterior=posterior,
    )
    routes = joint_schedule(["a", "b"], 1)[0].phases[0].routes
    a = torch.randn(6, 5, requires_grad=True)
    b = torch.poisson(torch.full((6, 4), 3.0))
    present = {"a": torch.tensor([1.0, 1, 1, 0, 1, 1]), "b": torch.tensor([1.0, 1, 0, 1, 1, 1])}
    config = TrainConfig(cycle_weight=0.5)

    def loss(a_values, b_values, generator_seed=0):
        batch = {"a": a_values, "b": b_values}
        generator = torch.Generator().manual_seed(generator_seed)
        return module.loss(batch, routes, LossWeights.from_config(config), present=present, generator=generator).total

    total = loss(a, b)
    total.backward()
    assert torch.all(a.grad[3] == 0) and a.grad[[0, 1, 2, 4, 5]].abs().sum() > 0
    changed_a, changed_b = a.detach().clone(), b.clone()
    changed_a[3] = 100.0
    changed_b[2] = 50.0
    assert torch.equal(loss(changed_a, changed_b), total.detach())


def test_all_present_masks_change_nothing(digits):
    config = tiny_config(epochs=2)
    data = {name: values[:200] for name, values in digits.train.domains.items()}
    plain = SharedLatentVAE(digits.input_sizes, config)
    plain.fit(data)
    masked = SharedLatentVAE(digits.input_sizes, tiny_config(epochs=2))
    masked.fit(data, present={"left": np.ones(200, dtype=bool)})
    np.testing.assert_array_equal(
        plain.translate(data["left"], "left", "right"), masked.translate(data["left"], "left", "right")
    )


def test_nan_rows_and_present_masks_train_the_same():
    dataset = load_dataset("synthetic_omics", n_samples=120, fraction_unpaired=0.3, n_genes=20, n_proteins=6)
    split = dataset.train
    config = tiny_config(epochs=2)
    config.model.domains = {
        "rna": DomainConfig(likelihood="negative_binomial"),
        "protein": DomainConfig(likelihood="gaussian", preprocessing="standardize"),
    }
    with_nan = {name: np.where(split.presence(name)[:, None], values, np.nan) for name, values in split.domains.items()}
    histories = []
    for arguments in ((split,), (split.domains, None, None, split.present), (with_nan,)):
        model = SharedLatentVAE(dataset.input_sizes, RunConfig.from_dict(config.to_dict()))
        histories.append([r.train_loss for r in model.fit(*arguments).records])
    assert histories[0] == histories[1] == histories[2]


def test_unpaired_samples_train_and_translation_still_works():
    dataset = load_dataset("synthetic_omics", n_samples=400, fraction_unpaired=0.4, n_genes=40, n_proteins=8, seed=1)
    assert dataset.train.pairing_counts()["rna_only"] > 0 and dataset.test.is_paired
    config = tiny_config(epochs=25, batch_size=64, learning_rate=5e-3)
    config.model.domains = {
        "rna": DomainConfig(likelihood="negative_binomial"),
        "protein": DomainConfig(likelihood="gaussian", preprocessing="standardize"),
    }
    model = SharedLatentVAE(dataset.input_sizes, config)
    history = model.fit(dataset.train)
    assert all(np.isfinite(r.train_loss) for r in history.records)
    assert history.records[-1].train_loss < history.records[0].train_loss
    test = dataset.test.domains
    predicted = model.translate(test["rna"], "rna", "protein")
    assert np.isfinite(predicted).all()
    error = ((predicted - test["protein"]) ** 2).mean()
    shuffled = ((predicted[np.random.default_rng(0).permutation(len(predicted))] - test["protein"]) ** 2).mean()
    assert error < 0.6 * shuffled
    joint = model.encode_joint(
        {"rna": np.vstack([test["rna"][:2], np.full((1, 40), np.nan)]), "protein": test["protein"][:3]}
    )
    np.testing.assert_allclose(joint[2], model.encode(test["protein"][2:3], "protein")[0], rtol=1e-5, atol=1e-6)


def test_bad_missing_rows_are_errors(digits):
    model = SharedLatentVAE(digits.input_sizes, tiny_config())
    left, right = digits.train.domains["left"][:10].copy(), digits.train.domains["right"][:10].copy()
    left[0, 3] = np.nan
    with pytest.raises(SharedLatentError, match="missing values inside a sample are not supported"):
        model.fit({"left": left, "right": right})
    left[0] = np.nan
    right[0] = np.nan
    with pytest.raises(SharedLatentError, match="absent from every domain"):
        model.fit({"left": left, "right": right})
    with pytest.raises(SharedLatentError, match="must be a boolean array of 10"):
        model.fit(
            {"left": digits.train.domains["left"][:10], "right": right}, present={"right": np.ones(9, dtype=bool)}
        )


def test_domains_that_share_no_sample_are_refused(digits):
    """Absent rows everywhere but one domain per sample: nothing links the domains (two AnnData objects whose
    obs_names share nothing trained silently and translated)."""
    model = SharedLatentVAE(digits.input_sizes, tiny_config())
    left, right = digits.train.domains["left"][:20].copy(), digits.train.domains["right"][:20].copy()
    left[10:], right[:10] = np.nan, np.nan
    with pytest.raises(SharedLatentError, match="no sample has more than one domain"):
        model.fit({"left": left, "right": right})
    right[:] = np.nan  # a modality of 0 cells
    with pytest.raises(SharedLatentError, match="domain 'right' has no samples"):
        model.fit({"left": digits.train.domains["left"][:20], "right": right})


def test_split_masks_zero_rows_and_count_pairs():
    present = {"a": np.array([True, True, False, True]), "b": np.array([True, False, True, True])}
    split = Split({"a": np.ones((4, 2)), "b": np.ones((4, 3))}, labels=np.array(list("wxyz")), present=present)
    assert split.domains["a"][2].sum() == 0 and split.domains["b"][1].sum() == 0
    assert split.pairing_counts() == {"paired": 2, "a_only": 1, "b_only": 1}
    assert list(split.paired().labels) == ["w", "z"] and split.paired().is_paired
    assert split.subset(np.array([1, 2])).present["a"].tolist() == [True, False]
    assert Split({"a": np.ones((2, 1)), "b": np.ones((2, 1))}, present={"a": np.ones(2, dtype=bool)}).present is None
    with pytest.raises(SharedLatentError, match="present in no domain"):
        Split({"a": np.ones((1, 1)), "b": np.ones((1, 1))}, present={"a": np.zeros(1, bool), "b": np.zeros(1, bool)})


def test_outer_pairing_keeps_everyone_and_reports_counts():
    rows, ids, report = pair_by_ids(
        {"l": np.array(["s1", "s2", "s3"]), "r": np.array(["s3", "s4", "s1"])}, {"l": "L", "r": "R"}, "id", "outer"
    )
    assert ids.tolist() == ["s1", "s2", "s3", "s4"]
    assert rows["l"].tolist() == [0, 1, 2, -1] and rows["r"].tolist() == [2, -1, 0, 1]
    assert report.matched == 2 and dict(report.only) == {"l": 1, "r": 1}
    assert "2 paired, 1 l-only, 1 r-only" in report.summary()
    inner_rows, inner_ids, inner = pair_by_ids(
        {"l": np.array(["s1", "s2", "s3"]), "r": np.array(["s3", "s4", "s1"])}, {"l": "L", "r": "R"}, "id"
    )
    assert inner_ids.tolist() == ["s1", "s3"] and inner.matched == 2
    with pytest.raises(SharedLatentError, match="pairing must be one of"):
        pair_by_ids({"l": ids, "r": ids}, {"l": "L", "r": "R"}, "id", "left")


def test_tables_outer_pairing(tmp_path):
    rng = np.random.default_rng(0)
    left_ids, right_ids = [f"s{i}" for i in range(30)], [f"s{i}" for i in range(10, 45)]
    pd.DataFrame({"sample_id": left_ids, "g1": rng.random(30), "g2": rng.random(30)}).to_csv(
        tmp_path / "l.csv", index=False
    )
    pd.DataFrame({"sample_id": right_ids, "p1": rng.random(35)}).to_csv(tmp_path / "r.csv", index=False)
    inner = load_table_pair(left_path=tmp_path / "l.csv", right_path=tmp_path / "r.csv")
    assert inner.train.n_samples + inner.test.n_samples == 20 and inner.train.is_paired
    outer = load_table_pair(
        left_path=tmp_path / "l.csv", right_path=tmp_path / "r.csv", pairing="outer", test_fraction=0.25
    )
    assert outer.pairing_counts() == {"paired": 20, "left_only": 10, "right_only": 15}
    assert outer.test.is_paired and outer.test.n_samples == 5 and outer.train.n_samples == 40
    assert "20 paired, 10 left-only, 15 right-only" in outer.description


def test_outer_pairing_with_labels_in_one_file_leaves_the_other_files_samples_unlabelled(tmp_path):
    """Samples only the unlabelled file has cannot carry a label; they are unpaired, so no split or metric reads it.
    Before, the run was refused with "add it to every file", which cannot be done (a new-user review)."""
    rng = np.random.default_rng(0)
    left_ids, right_ids = [f"s{i}" for i in range(30)], [f"s{i}" for i in range(10, 45)]
    kinds = ["a" if i % 2 else "b" for i in range(30)]
    pd.DataFrame({"sample_id": left_ids, "g1": rng.random(30), "kind": kinds}).to_csv(tmp_path / "l.csv", index=False)
    pd.DataFrame({"sample_id": right_ids, "p1": rng.random(35)}).to_csv(tmp_path / "r.csv", index=False)
    outer = load_table_pair(
        left_path=tmp_path / "l.csv",
        right_path=tmp_path / "r.csv",
        pairing="outer",
        test_fraction=0.25,
        label_column="kind",
    )
    assert set(outer.test.labels) == {"a", "b"}  # the test split is paired: every sample has its label
    assert set(outer.train.paired().labels) == {"a", "b"}
    assert sorted(set(outer.train.labels)) == ["", "a", "b"]  # the 15 right-only samples
    assert int((outer.train.labels == "").sum()) == 15
