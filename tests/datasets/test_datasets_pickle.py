"""Prototype pickle files: refused without opt-in, read with it (tuple and dict layouts, gzipped or not)."""

import gzip
import pickle

import numpy as np
import pytest

from sharedlatent.datasets.pickle_file import load_pickle_pair
from sharedlatent.datasets.registry import load_dataset
from sharedlatent.errors import SharedLatentError

RNG = np.random.default_rng(0)


def write(path, contents, gz=True):
    opener = gzip.open if gz else open
    with opener(path, "wb") as stream:
        pickle.dump(contents, stream)
    return path


def prototype_arrays():
    return (RNG.random((8, 28, 28)), RNG.random((8, 784)), RNG.random((3, 28, 28)), RNG.random((3, 784)))


def test_refused_without_opt_in(tmp_path):
    path = write(tmp_path / "data.pkl.gz", prototype_arrays())
    with pytest.raises(SharedLatentError, match="arbitrary code.*allow_pickle=True.*--allow-pickle"):
        load_pickle_pair(path=str(path))


@pytest.mark.parametrize("gz", [True, False])
def test_tuple_layout_with_opt_in(tmp_path, gz):
    arrays = prototype_arrays()
    path = write(tmp_path / "data.pkl", arrays, gz=gz)
    dataset = load_pickle_pair(path=str(path), allow_pickle="true")
    assert dataset.input_sizes == {"left": 784, "right": 784}
    assert dataset.train.n_samples == 8 and dataset.test.n_samples == 3
    np.testing.assert_allclose(dataset.train.domains["left"][0], arrays[0][0].ravel(), rtol=1e-6)
    assert dataset.renderer("left").height == 28


def test_dict_layout_names_domains_and_labels(tmp_path):
    contents = {
        "rna_train": RNG.random((6, 5)),
        "protein_train": RNG.random((6, 2)),
        "rna_test": RNG.random((2, 5)),
        "protein_test": RNG.random((2, 2)),
        "labels_train": np.arange(6),
        "labels_test": np.arange(2),
    }
    dataset = load_dataset("pickle", path=str(write(tmp_path / "d.pkl.gz", contents)), allow_pickle=True)
    assert sorted(dataset.domain_names) == ["protein", "rna"]
    np.testing.assert_array_equal(dataset.test.labels, [0, 1])


def test_wrong_number_of_arrays(tmp_path):
    path = write(tmp_path / "d.pkl.gz", prototype_arrays()[:3])
    with pytest.raises(SharedLatentError, match="expected 4 arrays"):
        load_pickle_pair(path=path, allow_pickle=True)


def test_mismatched_sample_counts(tmp_path):
    a, b, c, d = prototype_arrays()
    path = write(tmp_path / "d.pkl.gz", (a, b[:5], c, d))
    with pytest.raises(SharedLatentError, match="train split.*same number of samples"):
        load_pickle_pair(path=path, allow_pickle=True)


def test_missing_file_and_garbage(tmp_path):
    with pytest.raises(SharedLatentError, match="does not exist"):
        load_pickle_pair(path=tmp_path / "nope.pkl", allow_pickle=True)
    (tmp_path / "bad.pkl").write_bytes(b"not a pickle")
    with pytest.raises(SharedLatentError, match="cannot unpickle"):
        load_pickle_pair(path=tmp_path / "bad.pkl", allow_pickle=True)
