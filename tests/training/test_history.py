"""History on disk: a structured form that round-trips, and version 0.1's flat string-keyed terms still load."""

import json

import pytest
import torch

from sharedlatent.nn.objective import LossTerms
from sharedlatent.training.history import EpochRecord, EpochSums, History, TermValues

OLD = {
    "records": [
        {
            "stage": 0,
            "phase": "joint",
            "epoch": 0,
            "train_loss": 10.0,
            "validation_loss": 11.0,
            "terms": {"left+right->left": 1.0, "left->right": 2.0, "left->right->left": 3.0, "kl(left+right)": 4.0},
            "seconds": 0.5,
        }
    ],
    "stopped_early": [],
    "seconds": 0.5,
}


def test_version_0_1_flat_terms_load_as_typed_terms():
    (record,) = History.from_dict(OLD).records
    assert record.terms.reconstruction == {(("left", "right"), "left"): 1.0, (("left",), "right"): 2.0}
    assert record.terms.cycle == {("left", "right"): 3.0}
    assert record.terms.kl == {("left", "right"): 4.0}
    assert (record.phase, record.train_loss, record.validation_loss, record.seconds) == ("joint", 10.0, 11.0, 0.5)


def test_structured_history_round_trips_through_json():
    terms = TermValues({(("a", "b"), "a"): 1.5, (("b",), "a"): 0.5}, {("a", "b"): 0.25}, {("b", "a"): 2.0})
    history = History([EpochRecord(1, "center", 3, 9.0, None, terms, 0.1)], ["x"], 2.0)
    written = json.loads(json.dumps(history.to_dict()))
    assert set(written["records"][0]["terms"]) == {"reconstruction", "kl", "cycle"}
    assert History.from_dict(written) == history
    assert terms.per_target() == {"a": 2.0}


def _batch_terms(scale: float) -> LossTerms:
    terms = LossTerms(torch.tensor(10.0 * scale))
    terms.reconstruction[(("left", "right"), "left")] = torch.tensor(1.5 * scale)
    terms.reconstruction[(("left",), "right")] = torch.tensor(2.5 * scale)
    terms.kl[("left", "right")] = torch.tensor(0.25 * scale)
    terms.cycle[("left", "right")] = torch.tensor(3.0 * scale)
    return terms


def test_deferred_epoch_sums_equal_the_per_batch_floats():
    """On an accelerator the sums stay on the device until the epoch ends; they must equal the CPU's floats."""
    immediate, deferred = EpochSums(deferred=False), EpochSums(deferred=True)
    for scale, rows in ((1.0, 64), (0.5, 64), (0.125, 7)):
        immediate.add(_batch_terms(scale), rows)
        deferred.add(_batch_terms(scale), rows)
    total, terms = immediate.result()
    deferred_total, deferred_terms = deferred.result()
    assert deferred_total == pytest.approx(total) and total == pytest.approx(16.25)
    assert deferred_terms == terms
    assert terms.kl == {("left", "right"): pytest.approx(0.25 * 64 + 0.125 * 64 + 0.03125 * 7)}
    other = _batch_terms(1.0)
    other.cycle.clear()
    with pytest.raises(ValueError, match="same loss terms"):
        deferred.add(other, 64)


def test_a_deferred_epoch_trains_exactly_as_the_per_batch_one(digits, monkeypatch):
    """run_epoch with the device-side sums (forced on the CPU) gives the same losses and weights."""
    from sharedlatent.api import SharedLatentVAE
    from sharedlatent.config import RunConfig, TrainConfig
    from sharedlatent.training import loop

    def fitted() -> SharedLatentVAE:
        config = RunConfig(train=TrainConfig(epochs=3, batch_size=64, progress=False, validation_fraction=0.1))
        model = SharedLatentVAE(digits.input_sizes, config)
        model.fit({name: values[:300] for name, values in digits.train.domains.items()})
        return model

    reference = fitted()
    monkeypatch.setattr(loop, "EpochSums", lambda deferred: EpochSums(deferred=True))
    deferred = fitted()
    for first, second in zip(reference.history.records, deferred.history.records, strict=True):
        assert second.train_loss == pytest.approx(first.train_loss, rel=1e-12)
        assert second.terms.reconstruction == pytest.approx(first.terms.reconstruction, rel=1e-12)
    for key, value in reference.module.state_dict().items():
        assert torch.equal(value, deferred.module.state_dict()[key]), key
