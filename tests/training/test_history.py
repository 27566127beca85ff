"""History on disk: a structured form that round-trips, and version 0.1's flat string-keyed terms still load."""

import json

from sharedlatent.training.history import EpochRecord, History, TermValues

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
