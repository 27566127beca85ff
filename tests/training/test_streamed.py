"""Training from files on disk: same weights as in memory, preprocessing fitted in chunks, one-line errors for
files that go bad or change during training."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

anndata = pytest.importorskip("anndata")
import h5py  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from sharedlatent.api import SharedLatentVAE  # noqa: E402
from sharedlatent.config import RunConfig  # noqa: E402
from sharedlatent.datasets.streaming import H5Rows, NpyRows, StreamedSplit, npy_split  # noqa: E402
from sharedlatent.errors import SharedLatentError  # noqa: E402
from sharedlatent.preprocessing import fit_preprocessor, fit_streamed  # noqa: E402
from sharedlatent.runs.cli import main  # noqa: E402
from sharedlatent.training import sources  # noqa: E402

N = 400


@pytest.fixture()
def files(tmp_path):
    """A sparse count .h5ad (CSR X) and a dense one, cells paired by obs_names, plus the same data as arrays."""
    rng = np.random.default_rng(0)
    rna = sp.random(N, 40, density=0.1, random_state=0, format="csr", dtype=np.float32)
    rna.data = np.ceil(rna.data * 20)
    protein = rng.poisson(5, (N, 6)).astype(np.float32)
    obs = pd.DataFrame(index=[f"cell{i}" for i in range(N)])
    paths = {"left": tmp_path / "rna.h5ad", "right": tmp_path / "protein.h5ad"}
    anndata.AnnData(rna, obs=obs).write_h5ad(paths["left"])
    anndata.AnnData(protein, obs=obs).write_h5ad(paths["right"])
    return paths, {"left": rna.toarray(), "right": protein}


def config(epochs: int = 2) -> RunConfig:
    run = RunConfig()
    run.train.epochs, run.train.progress = epochs, False
    return run


def test_backed_training_gives_the_in_memory_weights(files):
    # torch.equal, not allclose: every batch holds the same float32 values in the same order, so the arithmetic is
    # the same; a tolerance would hide a reordering or a preprocessing that differs.
    paths, arrays = files
    in_memory = SharedLatentVAE({"left": 40, "right": 6}, config())
    in_memory.fit(arrays)
    split = StreamedSplit({d: H5Rows(p) for d, p in paths.items()}, {d: np.arange(N) for d in paths})
    on_disk = SharedLatentVAE({"left": 40, "right": 6}, config())
    on_disk.fit(split)
    expected, got = in_memory.module.state_dict(), on_disk.module.state_dict()
    assert all(torch.equal(expected[key], got[key]) for key in expected)
    assert [r.train_loss for r in in_memory.history.records] == [r.train_loss for r in on_disk.history.records]


@pytest.mark.parametrize("name", ["minmax", "minmax_per_feature", "standardize", "log1p_minmax"])
def test_streamed_preprocessing_matches_the_whole_array_fit(name):
    values = np.random.default_rng(1).poisson(3.0, (1000, 7)).astype(np.float64)
    whole, chunked = fit_preprocessor(name, values), fit_streamed(name, np.array_split(values, 7))
    assert np.allclose(whole.transform(values), chunked.transform(values), rtol=1e-6, atol=1e-6)


def test_rows_read_in_any_order_from_csr_dense_and_npy(files, tmp_path):
    paths, arrays = files
    rows = np.array([5, 3, 3, 399, 0])
    assert np.array_equal(H5Rows(paths["left"]).read(rows), arrays["left"][rows])
    assert np.array_equal(H5Rows(paths["right"]).read(rows), arrays["right"][rows])
    np.save(tmp_path / "x.npy", arrays["right"])
    assert np.array_equal(NpyRows(tmp_path / "x.npy").read(rows), arrays["right"][rows])


def test_memory_mapped_npy_files_train_to_the_in_memory_weights(files, tmp_path):
    _, arrays = files
    for name, values in arrays.items():
        np.save(tmp_path / f"{name}.npy", values)
    in_memory = SharedLatentVAE({"left": 40, "right": 6}, config())
    in_memory.fit(arrays)
    mapped = SharedLatentVAE({"left": 40, "right": 6}, config())
    mapped.fit(npy_split({name: tmp_path / f"{name}.npy" for name in arrays}))
    expected, got = in_memory.module.state_dict(), mapped.module.state_dict()
    assert all(torch.equal(expected[key], got[key]) for key in expected)


def test_npy_files_with_different_row_counts_are_refused(files, tmp_path):
    _, arrays = files
    np.save(tmp_path / "left.npy", arrays["left"])
    np.save(tmp_path / "right.npy", arrays["right"][:-1])
    with pytest.raises(SharedLatentError, match="different row counts: \\[399, 400\\]"):
        npy_split({"left": tmp_path / "left.npy", "right": tmp_path / "right.npy"})


def train_backed_cli(paths, out, capsys, spoil, monkeypatch) -> str:
    """`sharedlatent train h5ad ... backed=true`, with `spoil` run on the files after the first epoch; its stderr."""
    original, calls = sources.StreamedData.shuffled, []

    def shuffled(self, order):
        calls.append(1)
        if len(calls) == 2:
            spoil(paths["left"])
        return original(self, order)

    monkeypatch.setattr(sources.StreamedData, "shuffled", shuffled)
    options = [f"left_path={paths['left']}", f"right_path={paths['right']}", "backed=true"]
    args = ["train", "h5ad", "--epochs", "3", "--no-evaluate", "--out", str(out)]
    for option in options:
        args += ["--data-option", option]
    assert main(args) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # the progress bar of the first epoch comes before it
    assert last.startswith("error: ") and err.count("error: ") == 1 and "Traceback" not in err, err
    assert not out.exists()
    return err


def garble_indices(path) -> None:
    """Overwrite the stored CSR column indices with garbage, keeping the file's size and modification time."""
    stamp = os.stat(path)
    with h5py.File(path, "r") as file:
        stored = file["X/indices"].id
        if stored.get_offset() is not None:
            offset, size = stored.get_offset(), stored.get_storage_size()
        else:  # chunked (as anndata writes it): garble the first chunk
            chunk = stored.get_chunk_info(0)
            offset, size = chunk.byte_offset, chunk.size
    with open(path, "r+b") as raw:
        raw.seek(offset)
        raw.write(b"\xff" * size)
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))


def test_corrupt_file_mid_training_is_one_error_line(files, tmp_path, capsys, monkeypatch):
    err = train_backed_cli(files[0], tmp_path / "run", capsys, garble_indices, monkeypatch)
    assert "rna.h5ad" in err and "could not read rows" in err


def test_file_changed_between_epochs_is_one_error_line(files, tmp_path, capsys, monkeypatch):
    def append(path):
        with open(path, "ab") as raw:
            raw.write(b"\0" * 16)

    err = train_backed_cli(files[0], tmp_path / "run", capsys, append, monkeypatch)
    assert "rna.h5ad changed on disk during training" in err
