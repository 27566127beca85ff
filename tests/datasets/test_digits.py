"""The embedded digits: read from scikit-learn's file without importing it, split by the stored test rows; both
equal what scikit-learn's load_digits and split_rows give."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import modules_imported_after
from sharedlatent.datasets import digits
from sharedlatent.datasets.registry import load_dataset
from sharedlatent.datasets.splits import split_rows
from sharedlatent.errors import SharedLatentError


def test_read_digits_equals_load_digits():
    from sklearn.datasets import load_digits

    pixels, labels = digits.read_digits()
    bunch = load_digits()
    np.testing.assert_array_equal(pixels, bunch.data)
    np.testing.assert_array_equal(labels, bunch.target)


def test_stored_test_rows_are_scikit_learns_stratified_split():
    _, labels = digits.read_digits()
    _, expected, how = split_rows(digits.N_DIGITS, digits.TEST_FRACTION, digits.SPLIT_SEED, labels, round_up=True)
    assert how.startswith("split stratified by label")
    np.testing.assert_array_equal(digits.stored_test_rows(), expected)


def test_the_dataset_splits_by_the_stored_rows():
    dataset = load_dataset("digits")
    pixels, labels = digits.read_digits()
    test = digits.stored_test_rows()
    assert (dataset.train.n_samples, dataset.test.n_samples) == (1437, 360)
    np.testing.assert_array_equal(dataset.test.domains["left"], (pixels[test] / 16).astype(np.float32))
    np.testing.assert_array_equal(dataset.test.domains["right"], 1 - dataset.test.domains["left"])
    np.testing.assert_array_equal(dataset.test.labels, labels[test])
    assert np.bincount(dataset.test.labels).min() >= 35  # stratified: every digit about 36 times


def test_loading_digits_does_not_import_scikit_learn():
    code = "from sharedlatent.datasets.registry import load_dataset\nload_dataset('digits')"
    assert modules_imported_after(code, ("sklearn",)) == []


def test_missing_scikit_learn_is_one_line(monkeypatch):
    monkeypatch.setattr(digits.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SharedLatentError, match="needs scikit-learn"):
        digits.read_digits()


def test_a_damaged_digits_file_is_refused(monkeypatch, tmp_path):
    import gzip

    damaged = tmp_path / "digits.csv.gz"
    with gzip.open(damaged, "wt") as handle:
        handle.write("1,2,3\n4,5,6\n")
    monkeypatch.setattr(digits, "digits_file", lambda: damaged)
    with pytest.raises(SharedLatentError, match="shape"):
        digits.read_digits()


def test_an_unreadable_digits_file_is_one_line(monkeypatch, tmp_path):
    broken = tmp_path / "digits.csv.gz"
    broken.write_bytes(b"not gzip at all")
    monkeypatch.setattr(digits, "digits_file", lambda: broken)
    with pytest.raises(SharedLatentError, match="cannot read"):
        digits.read_digits()
