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
from sharedlatent.datasets.streaming import (  # noqa: E402
    H5Rows,
    NpyRows,
    ParquetRows,
    StreamedSplit,
    npy_split,
    parquet_split,
)
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


def write_parquet(path, values: np.ndarray, row_group_size: int) -> None:
    """`values` as columns g0, g1, ... after a string sample-ID column, in row groups of `row_group_size` rows."""
    frame = pd.DataFrame(values, columns=[f"g{i}" for i in range(values.shape[1])])
    frame.insert(0, "sample_id", [f"cell{i}" for i in range(len(frame))])
    frame.to_parquet(path, row_group_size=row_group_size)


def test_parquet_rows_read_across_row_groups_in_any_order(files, tmp_path):
    _, arrays = files
    write_parquet(tmp_path / "rna.parquet", arrays["left"], row_group_size=30)
    reader = ParquetRows(tmp_path / "rna.parquet", cached_groups=2)
    assert reader.shape == (N, 40) and reader.columns == [f"g{i}" for i in range(40)]  # the ID column is left out
    rows = np.array([399, 5, 3, 3, 61, 0, 250])
    assert np.array_equal(reader.read(rows), arrays["left"][rows])
    assert len(reader.cache) == 2  # the last two groups read stay decoded, no more
    assert np.array_equal(
        ParquetRows(tmp_path / "rna.parquet", columns=["g3", "g1"]).read(rows), arrays["left"][rows][:, [3, 1]]
    )


def test_parquet_in_one_row_group_trains_to_the_in_memory_weights(files, tmp_path):
    # One row group: the block-local order is the plain shuffle, so every batch is the in-memory one.
    _, arrays = files
    for name, values in arrays.items():
        write_parquet(tmp_path / f"{name}.parquet", values, row_group_size=N)
    in_memory = SharedLatentVAE({"left": 40, "right": 6}, config())
    in_memory.fit(arrays)
    readers = {name: ParquetRows(tmp_path / f"{name}.parquet") for name in arrays}
    on_disk = SharedLatentVAE({"left": 40, "right": 6}, config())
    on_disk.fit(StreamedSplit(readers, {name: np.arange(N) for name in arrays}))
    expected, got = in_memory.module.state_dict(), on_disk.module.state_dict()
    assert all(torch.equal(expected[key], got[key]) for key in expected)


def test_shuffled_parquet_batches_stay_within_a_few_row_groups(files, tmp_path):
    _, arrays = files
    write_parquet(tmp_path / "rna.parquet", arrays["left"], row_group_size=20)  # 20 groups
    reader = ParquetRows(tmp_path / "rna.parquet", cached_groups=4)
    split = StreamedSplit({"left": reader}, {"left": np.arange(N)})
    order = np.random.default_rng(0).permutation(N)
    local = split.local_order(order)
    assert sorted(local.tolist()) == list(range(N))
    assert not np.array_equal(local, order)
    touched = [len(set(reader.blocks(local[start : start + 32]).tolist())) for start in range(0, N, 32)]
    assert max(touched) <= reader.cached_groups  # each batch's groups are still decoded
    assert split.local_order(order[::-1]).tolist() != local.tolist()  # the order still follows the random draw
    np.save(tmp_path / "x.npy", arrays["left"])
    npy = StreamedSplit({"left": NpyRows(tmp_path / "x.npy")}, {"left": np.arange(N)})
    assert np.array_equal(npy.local_order(order), order)  # any row of a memory map is cheap: the plain shuffle


def test_training_from_many_parquet_row_groups_learns_as_a_full_shuffle_does(tmp_path):
    rng = np.random.default_rng(2)
    z = rng.normal(size=(N, 2))  # counts from two factors, so there is something to learn
    arrays = {
        "left": rng.poisson(np.exp(1 + z @ rng.normal(0, 0.8, (2, 40)))).astype(np.float32),
        "right": rng.poisson(np.exp(1 + z @ rng.normal(0, 0.8, (2, 6)))).astype(np.float32),
    }
    for name, values in arrays.items():
        write_parquet(tmp_path / f"{name}.parquet", values, row_group_size=25)  # 16 groups
    readers = {name: ParquetRows(tmp_path / f"{name}.parquet") for name in arrays}
    history = SharedLatentVAE({"left": 40, "right": 6}, config(epochs=10)).fit(
        StreamedSplit(readers, {name: np.arange(N) for name in arrays})
    )
    reference = SharedLatentVAE({"left": 40, "right": 6}, config(epochs=10)).fit(arrays)
    first, local, shuffled = (r.train_loss for r in (history.records[0], history.records[-1], reference.records[-1]))
    assert local < 0.92 * first  # the full shuffle reaches 0.90 of the first epoch
    assert abs(local - shuffled) < 0.2 * (first - shuffled)  # batches from 4 groups at a time learn as fast (8% apart)


def test_parquet_problems_are_one_line_errors(tmp_path):
    values = np.arange(12, dtype=np.float64).reshape(6, 2)
    values[4, 1] = np.nan  # a null in the third row group
    write_parquet(tmp_path / "x.parquet", values, row_group_size=2)
    reader = ParquetRows(tmp_path / "x.parquet")
    assert np.array_equal(reader.read(np.array([0, 1])), values[:2])
    with pytest.raises(SharedLatentError, match="NaN or infinite value in row 4, column 1"):
        reader.read(np.array([5, 4]))
    with pytest.raises(SharedLatentError, match="column 'sample_id' is not numeric"):
        ParquetRows(tmp_path / "x.parquet", columns=["sample_id"])
    with pytest.raises(SharedLatentError, match="column 'g9' does not exist"):
        ParquetRows(tmp_path / "x.parquet", columns=["g9"])
    assert ParquetRows(tmp_path / "x.parquet", columns="g1").shape == (6, 1)  # one name, not its letters
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(SharedLatentError, match="cannot be read as Parquet"):
        ParquetRows(tmp_path / "bad.parquet")


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


def test_parquet_files_pair_by_an_id_column(files, tmp_path):
    _, arrays = files
    write_parquet(tmp_path / "rna.parquet", arrays["left"], row_group_size=50)
    shuffled = np.random.default_rng(3).permutation(N)[: N - 10]  # another order, ten cells missing
    frame = pd.DataFrame(arrays["right"][shuffled], columns=[f"p{i}" for i in range(6)])
    frame.insert(0, "sample_id", [f"cell{i}" for i in shuffled])
    frame.to_parquet(tmp_path / "protein.parquet", row_group_size=64)
    paths = {"left": tmp_path / "rna.parquet", "right": tmp_path / "protein.parquet"}
    split = parquet_split(paths, id_column="sample_id")
    assert split.n_samples == N - 10
    both = split.read(np.arange(split.n_samples))
    kept = np.setdiff1d(np.arange(N), np.setdiff1d(np.arange(N), shuffled))
    assert np.array_equal(both["left"], arrays["left"][kept]) and np.array_equal(both["right"], arrays["right"][kept])
    assert parquet_split(paths).n_samples == N - 10  # sample_id is in both and named like an ID: found
    frame.drop(columns="sample_id").to_parquet(tmp_path / "protein.parquet")
    with pytest.raises(SharedLatentError, match="different row counts \\[390, 400\\]: pair them with id_column="):
        parquet_split(paths)
    frame.iloc[[0, 1], 0] = "cell7"
    frame.to_parquet(tmp_path / "protein.parquet")
    with pytest.raises(SharedLatentError, match="'sample_id' repeats IDs \\(cell7\\)"):
        parquet_split(paths, id_column="sample_id")


def test_an_integer_id_column_pairs_parquet_files_and_is_never_a_feature(tmp_path):
    """A numeric ID column was read as a feature, and without id_column the files paired by position (a review)."""
    rng = np.random.default_rng(0)
    left, right = rng.random((60, 5)), rng.random((60, 3))
    order = np.arange(60)[::-1]
    first = pd.DataFrame(left, columns=list("abcde"))
    first.insert(0, "cell_id", np.arange(60))
    second = pd.DataFrame(right[order], columns=list("xyz"))
    second.insert(0, "cell_id", order)
    first.to_parquet(tmp_path / "l.parquet")
    second.to_parquet(tmp_path / "r.parquet")
    paths = {"l": tmp_path / "l.parquet", "r": tmp_path / "r.parquet"}
    for split in (parquet_split(paths, id_column="cell_id"), parquet_split(paths)):  # named like an ID: found
        assert split.input_sizes == {"l": 5, "r": 3}
        both = split.read(np.arange(60))
        np.testing.assert_array_equal(both["l"], left.astype(np.float32))
        np.testing.assert_array_equal(both["r"], right.astype(np.float32))


def test_rows_that_would_mis_pair_are_refused(files, tmp_path):
    _, arrays = files
    for name, values in arrays.items():
        np.save(tmp_path / f"{name}.npy", values)
    readers = {name: NpyRows(tmp_path / f"{name}.npy") for name in arrays}
    rows = np.arange(N)
    for bad, message in [
        ({"left": rows[:300], "right": rows}, "one row per sample; got left: 300, right: 400"),
        ({"left": rows, "right": np.r_[rows[:-1], -1]}, "rows of domain 'right' run from -1 to 398, outside"),
        ({"left": rows, "right": rows + 1}, "run from 1 to 400, outside its file's 0..399"),
        ({"left": rows, "right": rows + 0.5}, "must be a 1-D array of integer file rows, got float64"),
        (
            {"left": rows, "protein": rows},
            "rows are given for domains left, protein but the readers are for left, right",
        ),
    ]:
        with pytest.raises(SharedLatentError, match=message):
            StreamedSplit(readers, bad)
    assert StreamedSplit(readers, {"left": list(range(5)), "right": list(range(5))}).n_samples == 5  # lists are fine


def test_unreadable_npy_and_h5_files_are_one_line_errors(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([[{"a": 1}]], dtype=object), allow_pickle=True)
    np.save(tmp_path / "complex.npy", np.ones((3, 2), dtype=complex))
    np.save(tmp_path / "whole.npy", np.ones((100, 4)))
    (tmp_path / "half.npy").write_bytes((tmp_path / "whole.npy").read_bytes()[:2000])
    (tmp_path / "text.npy").write_text("sample,a\nx,1\n")
    for name, message in [
        ("missing.npy", "missing.npy cannot be read as a .npy array"),
        ("objects.npy", "objects.npy cannot be read as a .npy array"),
        ("half.npy", "half.npy cannot be read as a .npy array"),
        ("text.npy", "text.npy cannot be read as a .npy array"),
        ("complex.npy", "values of dtype complex128 are not real numbers"),
    ]:
        with pytest.raises(SharedLatentError, match=message):
            NpyRows(tmp_path / name)
    with h5py.File(tmp_path / "flat.h5", "w") as handle:
        handle["X"] = np.ones(10)
    with pytest.raises(SharedLatentError, match="X has shape \\(10,\\); expected samples x features"):
        H5Rows(tmp_path / "flat.h5")
    with pytest.raises(SharedLatentError, match="text.npy cannot be read as HDF5"):
        H5Rows(tmp_path / "text.npy")


def test_a_memory_mapped_file_truncated_between_reads_is_an_error_not_a_crash(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((2000, 50), dtype=np.float32))
    reader = NpyRows(tmp_path / "x.npy")
    assert reader.read(np.arange(5)).shape == (5, 50)
    os.truncate(tmp_path / "x.npy", 1000)  # reading the memory map past the end now would be SIGBUS
    with pytest.raises(SharedLatentError, match="changed on disk during training"):
        reader.read(np.arange(1900, 2000))


def test_a_backed_test_split_kept_as_a_subsample_is_reported_as_one(files, monkeypatch):
    """The backed loader keeps a seeded subsample of a large test split; evaluate said "all" of it (a review)."""
    from sharedlatent.datasets import backed_files, load_dataset
    from sharedlatent.runs.evaluate import prepare, sample_note

    paths, _ = files
    monkeypatch.setattr(backed_files, "TEST_ROWS", 30)
    options = {"left_path": str(paths["left"]), "right_path": str(paths["right"]), "backed": "true", "seed": 4}
    dataset = load_dataset("h5ad", **options)
    assert dataset.test.n_samples == 30 and dataset.test_subsample == (80, 4)
    model = SharedLatentVAE(dataset.input_sizes, config(epochs=1))
    model.fit(dataset.train)
    assert sample_note(prepare(model, dataset, "test")) == "computed on 30 of 80 test samples, seed 4"


def test_backed_pairing_reports_the_cells_it_dropped(files, tmp_path):
    """In memory, pairing says how many rows of each file it kept; backed it said nothing (a review)."""
    from sharedlatent.datasets import load_dataset

    paths, arrays = files
    fewer = tmp_path / "protein_fewer.h5ad"
    obs = pd.DataFrame(index=[f"cell{i}" for i in range(N - 20)])
    anndata.AnnData(arrays["right"][: N - 20], obs=obs).write_h5ad(fewer)
    dataset = load_dataset("h5ad", left_path=str(paths["left"]), right_path=str(fewer), backed="true")
    assert any(f"{N - 20} of {N} rows kept, 20 dropped" in note for note in dataset.notes)
