"""Evaluation reads a bounded, seeded subsample and says so."""

import numpy as np

from sharedlatent.datasets import Split
from sharedlatent.runs.evaluate import EVALUATION_SAMPLES, Evaluation, sample_note, seeded_rows


def split(n):
    return Split({"a": np.arange(n, dtype=np.float32)[:, None], "b": np.zeros((n, 2), np.float32)})


def test_large_splits_are_subsampled_the_same_way_every_time():
    first, second = seeded_rows(split(5000), EVALUATION_SAMPLES), seeded_rows(split(5000), EVALUATION_SAMPLES)
    assert first.n_samples == EVALUATION_SAMPLES
    np.testing.assert_array_equal(first.domains["a"], second.domains["a"])
    assert np.all(np.diff(first.domains["a"][:, 0]) > 0)  # rows keep their order, no repeats


def test_small_splits_are_kept_whole():
    small = split(300)
    assert seeded_rows(small, EVALUATION_SAMPLES) is small


def test_the_note_names_the_subsample():
    evaluation = Evaluation("test", seeded_rows(split(5000), 2000), 5000, None, {}, {}, frozenset())
    assert sample_note(evaluation) == "computed on 2000 of 5000 test samples, seed 0"
    whole = Evaluation("test", split(30), 30, None, {}, {}, frozenset())
    assert sample_note(whole) == "computed on all 30 test samples"
