"""Matrices that stay on disk: rows read by index from a backed .h5ad (h5py on X or a layer, CSR or dense), a
memory-mapped .npy or a Parquet file (by row groups), densified to float32 one batch at a time. A StreamedSplit is such a matrix per domain plus the
file rows of its samples: splits and hold-outs are index arrays, never copies."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sharedlatent.datasets.base import Split
from sharedlatent.errors import SharedLatentError, first_line, listed

CHUNK_ROWS = 4096  # rows per read when a whole split is streamed (statistics, encodings)


class RowReader:
    """A samples x features matrix in a file; `read(rows)` gives those rows (any order, repeats allowed) as float32."""

    def __init__(self, path: str | Path, shape: tuple[int, int]) -> None:
        self.path, self.shape = Path(path), shape
        self.stamp = _stamp(self.path)

    def read(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        unique, inverse = np.unique(rows, return_inverse=True)  # files read fastest in increasing row order
        if unique.size and (unique[0] < 0 or unique[-1] >= self.shape[0]):
            raise SharedLatentError(
                f"{self.path}: rows {unique[0]}..{unique[-1]} asked of a file of {self.shape[0]} rows"
            )
        # Before every read, not once per epoch: a memory map of a file truncated since would crash the process
        # (SIGBUS) instead of raising, and a file rewritten during the last epoch would go unnoticed.
        self.check_unchanged()
        try:
            block = self._read_sorted(unique)
        except (OSError, ValueError, KeyError, IndexError, TypeError) as error:
            raise SharedLatentError(f"{self.path}: could not read rows {unique[0]}..{unique[-1]}: {error}") from None
        bad = ~np.isfinite(block)
        if bad.any():
            row, column = np.argwhere(bad)[0]
            raise SharedLatentError(
                f"{self.path}: NaN or infinite value in row {unique[row]}, column {column} ({int(bad.sum())} such"
                f" values in rows {unique[0]}..{unique[-1]})"
            )
        return block[inverse]

    def blocks(self, rows: np.ndarray) -> np.ndarray | None:
        """The block (unit of reading) of each file row, for readers that read whole blocks; None: any row is cheap."""
        return None

    @property
    def window(self) -> int:
        """How many blocks a shuffled stretch of samples may come from (readers with blocks)."""
        return 1

    def check_unchanged(self) -> None:
        """Raise when the file's size or modification time differs from when it was opened."""
        if _stamp(self.path) != self.stamp:
            raise SharedLatentError(f"{self.path} changed on disk during training; train again on the finished file")

    def _read_sorted(self, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def _stamp(path: Path) -> tuple[int, int]:
    try:
        status = os.stat(path)
    except OSError as error:
        raise SharedLatentError(f"{path}: cannot be read any more ({error.strerror})") from None
    return status.st_size, status.st_mtime_ns


class NpyRows(RowReader):
    """A 2-D .npy file through a read-only memory map."""

    def __init__(self, path: str | Path) -> None:
        try:
            self.array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as error:  # missing, a folder, truncated, pickled, not .npy at all
            raise SharedLatentError(f"{path} cannot be read as a .npy array: {first_line(error)}") from None
        if not isinstance(self.array, np.ndarray) or self.array.ndim != 2:
            shape = getattr(self.array, "shape", "an .npz archive")
            raise SharedLatentError(f"{path}: expected a 2-D array (samples x features), got shape {shape}")
        if self.array.dtype.kind not in "biuf":
            raise SharedLatentError(f"{path}: values of dtype {self.array.dtype} are not real numbers")
        super().__init__(path, self.array.shape)

    def _read_sorted(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.array[rows], dtype=np.float32)


class ParquetRows(RowReader):
    """Numeric columns of a Parquet file, read a row group at a time (Parquet's unit of reading); the last
    `cached_groups` groups read stay decoded, so that batches drawn from a few groups do not read them again.

    Row groups of a few thousand rows keep a shuffled batch cheap; one huge group is read whole for every batch."""

    def __init__(
        self,
        path: str | Path,
        columns: list[str] | None = None,
        cached_groups: int = 8,
        exclude: tuple[str, ...] = (),
    ) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise SharedLatentError(
                f"{path}: reading Parquet needs pyarrow: pip install 'sharedlatent[tables]'"
            ) from None
        try:
            self.file = pq.ParquetFile(path)
        except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
            raise SharedLatentError(f"{path} cannot be read as Parquet: {first_line(error)}") from None
        schema = self.file.schema_arrow
        columns = [columns] if isinstance(columns, str) else columns
        numeric = [f.name for f in schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)]
        if columns is None:  # every numeric column but `exclude` (an ID column is not a feature)
            columns = [name for name in numeric if name not in exclude]
        missing = [name for name in columns if name not in numeric]
        if missing:
            kind = "is not numeric" if missing[0] in schema.names else "does not exist"
            raise SharedLatentError(f"{path}: column {missing[0]!r} {kind}; numeric columns: {listed(numeric)}")
        if not columns:
            raise SharedLatentError(f"{path}: no numeric columns")
        self.columns = list(columns)
        sizes = [self.file.metadata.row_group(g).num_rows for g in range(self.file.num_row_groups)]
        self.starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)  # group g holds starts[g]:starts[g+1]
        self.cached_groups = max(2, cached_groups)
        self.cache: OrderedDict[int, np.ndarray] = OrderedDict()
        super().__init__(path, (int(self.starts[-1]), len(self.columns)))

    def blocks(self, rows: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.starts, rows, side="right") - 1

    def column_values(self, column: str) -> np.ndarray:
        """Every value of one column (e.g. sample IDs) as strings, in file order."""
        if column not in self.file.schema_arrow.names:
            raise SharedLatentError(f"{self.path}: no column {column!r}")
        try:
            values = self.file.read(columns=[column]).column(0).to_pylist()
        except (OSError, ValueError) as error:
            raise SharedLatentError(f"{self.path}: cannot read column {column!r}: {first_line(error)}") from None
        if any(value is None for value in values):
            raise SharedLatentError(f"{self.path}: column {column!r} has empty IDs")
        return np.asarray([str(value) for value in values])

    @property
    def window(self) -> int:
        """Row groups a shuffled stretch of samples is drawn from: a batch that straddles two stretches then
        touches at most `cached_groups` groups, all of them decoded once per epoch."""
        return self.cached_groups // 2

    def _read_sorted(self, rows: np.ndarray) -> np.ndarray:
        groups = self.blocks(rows)
        out = np.empty((rows.size, self.shape[1]), dtype=np.float32)
        for group in np.unique(groups).tolist():
            chosen = groups == group
            out[chosen] = self._group(group)[rows[chosen] - self.starts[group]]
        return out

    def _group(self, group: int) -> np.ndarray:
        """Row group `group` as a float32 matrix (nulls as NaN, which `read` refuses)."""
        if group in self.cache:
            self.cache.move_to_end(group)
            return self.cache[group]
        table = self.file.read_row_group(group, columns=self.columns)
        block = np.empty((table.num_rows, len(self.columns)), dtype=np.float32)
        for index, column in enumerate(table.columns):
            block[:, index] = column.to_numpy(zero_copy_only=False)
        self.cache[group] = block
        if len(self.cache) > self.cached_groups:
            self.cache.popitem(last=False)
        return block


class H5Rows(RowReader):
    """X or a layer of an .h5ad through h5py: a CSR group (indptr held in memory, data and indices read per row)
    or a dense dataset."""

    def __init__(self, path: str | Path, key: str = "X") -> None:
        import h5py

        try:  # no chunk cache: every read comes from the file as it is
            self.file = h5py.File(path, "r", rdcc_nbytes=0)
        except OSError as error:  # missing, a folder, not HDF5
            raise SharedLatentError(f"{path} cannot be read as HDF5 (.h5ad): {first_line(error)}") from None
        if key not in self.file:
            raise SharedLatentError(f"{path}: no matrix at {key!r}")
        self.node = self.file[key]
        self.indptr = None
        if isinstance(self.node, h5py.Group):
            encoding = str(self.node.attrs.get("encoding-type", ""))
            if encoding != "csr_matrix":
                raise SharedLatentError(
                    f"{path}: {key} is stored as {encoding or 'an unknown group'}; backed reading needs CSR"
                )
            self.indptr = self.node["indptr"][:].astype(np.int64)
            self.data, self.indices = self.node["data"], self.node["indices"]
            shape = tuple(int(s) for s in self.node.attrs["shape"])
        else:
            shape = self.node.shape
        if len(shape) != 2:
            raise SharedLatentError(f"{path}: {key} has shape {tuple(shape)}; expected samples x features")
        super().__init__(path, shape)

    def _read_sorted(self, rows: np.ndarray) -> np.ndarray:
        if self.indptr is None:
            return np.asarray(self.node[rows], dtype=np.float32)
        out = np.zeros((rows.size, self.shape[1]), dtype=np.float32)
        starts, ends = self.indptr[rows], self.indptr[rows + 1]
        values, columns = _read_ranges(self.data, starts, ends), _read_ranges(self.indices, starts, ends)
        if columns.size and (columns.min() < 0 or columns.max() >= self.shape[1]):
            raise ValueError(f"column indices outside 0..{self.shape[1] - 1}: the file is damaged")
        out[np.repeat(np.arange(rows.size), ends - starts), columns] = values
        return out


def _read_ranges(dataset: Any, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """dataset[starts[i]:ends[i]] for every i, concatenated, in one HDF5 read (a union of hyperslabs) rather than
    one h5py slice per row, which cost most of a small batch's read time."""
    from h5py import h5s

    out = np.empty(int((ends - starts).sum()), dtype=dataset.dtype)
    if out.size == 0:
        return out
    space = dataset.id.get_space()
    space.select_none()
    # ranges that touch (consecutive rows) are merged, then each is added to the selection
    breaks = np.flatnonzero(starts[1:] != ends[:-1]) + 1
    for low, high in zip(
        starts[np.r_[0, breaks]].tolist(), ends[np.r_[breaks - 1, ends.size - 1]].tolist(), strict=True
    ):
        if high > low:
            space.select_hyperslab((low,), (high - low,), op=h5s.SELECT_OR)
    dataset.id.read(h5s.create_simple((out.size,)), space, out)
    return out


@dataclass
class StreamedSplit:
    """One split kept on disk: a reader per domain and, per domain, the file row of each sample (rows aligned)."""

    domains: dict[str, RowReader]
    rows: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        """Refuse rows that would mis-pair or fail later: one 1-D integer array per domain, all of one length,
        each inside its file."""
        if set(self.rows) != set(self.domains) or not self.domains:
            raise SharedLatentError(
                f"rows are given for domains {listed(self.rows)} but the readers are for {listed(self.domains)}"
            )
        checked = {}
        for name, rows in self.rows.items():
            rows = np.asarray(rows)
            if rows.ndim != 1 or (rows.size and rows.dtype.kind not in "iu"):
                raise SharedLatentError(
                    f"rows of domain {name!r} must be a 1-D array of integer file rows, got {rows.dtype} of shape"
                    f" {rows.shape}"
                )
            n_file = self.domains[name].shape[0]
            if rows.size and (rows.min() < 0 or rows.max() >= n_file):
                raise SharedLatentError(
                    f"rows of domain {name!r} run from {rows.min()} to {rows.max()}, outside its file's 0..{n_file - 1}"
                )
            checked[name] = rows.astype(np.int64, copy=False)
        lengths = {name: len(rows) for name, rows in checked.items()}
        if len(set(lengths.values())) > 1:
            raise SharedLatentError(
                f"every domain needs one row per sample; got {', '.join(f'{n}: {k}' for n, k in lengths.items())}"
            )
        self.rows = checked

    @property
    def n_samples(self) -> int:
        return len(next(iter(self.rows.values())))

    @property
    def input_sizes(self) -> dict[str, int]:
        return {name: reader.shape[1] for name, reader in self.domains.items()}

    def pairing_counts(self) -> dict[str, int]:
        return {"paired": self.n_samples}  # streamed splits pair cells with pairing=inner only

    def paired(self) -> StreamedSplit:
        return self

    def in_memory(self) -> Split:
        """Every sample read into an in-memory Split (for bounded subsets only)."""
        return Split(self.read(np.arange(self.n_samples)))

    def subset(self, samples: np.ndarray) -> StreamedSplit:
        """The samples at `samples` (indices into this split): index arrays only."""
        return StreamedSplit(self.domains, {name: rows[samples] for name, rows in self.rows.items()})

    def read(self, samples: np.ndarray) -> dict[str, np.ndarray]:
        """Each domain's float32 rows for the samples at `samples`, in that order."""
        return {name: reader.read(self.rows[name][samples]) for name, reader in self.domains.items()}

    def read_domain(self, name: str, samples: np.ndarray) -> np.ndarray:
        return self.domains[name].read(self.rows[name][samples])

    def chunk_rows(self, chunk_rows: int = CHUNK_ROWS) -> Iterator[np.ndarray]:
        """Sample indices covering the split in order, `chunk_rows` at a time."""
        for start in range(0, self.n_samples, chunk_rows):
            yield np.arange(start, min(start + chunk_rows, self.n_samples))

    def chunks(self, chunk_rows: int = CHUNK_ROWS) -> Iterator[dict[str, np.ndarray]]:
        """The whole split in order, `chunk_rows` samples at a time."""
        for rows in self.chunk_rows(chunk_rows):
            yield self.read(rows)

    def check_unchanged(self) -> None:
        for reader in self.domains.values():
            reader.check_unchanged()

    def local_order(self, order: np.ndarray) -> np.ndarray:
        """`order` (a random permutation of the samples) made local for block readers (Parquet row groups):
        blocks in a random order, cut into windows of `window` blocks, samples shuffled within each window.
        Unchanged when no domain reads by blocks, so .h5ad and .npy batches are exactly the in-memory ones."""
        for name, reader in self.domains.items():
            blocks = reader.blocks(self.rows[name])
            if blocks is not None:
                break
        else:
            return order
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))  # each sample's place in the random permutation
        shuffled_blocks = blocks[order]
        first_seen = np.unique(shuffled_blocks, return_index=True)  # blocks in the order the permutation meets them
        block_rank = np.empty(int(blocks.max()) + 1, dtype=np.int64)
        block_rank[first_seen[0][np.argsort(first_seen[1])]] = np.arange(len(first_seen[0]))
        window = block_rank[blocks] // reader.window
        return np.lexsort((rank, window))  # by window, then by the random rank inside it


def npy_split(paths: dict[str, str | Path]) -> StreamedSplit:
    """A StreamedSplit over one .npy file per domain, rows paired by position."""
    readers = {name: NpyRows(path) for name, path in paths.items()}
    return _paired_by_position(readers, "the .npy files have different row counts: {counts}")


def parquet_split(paths: dict[str, str | Path], id_column: str | None = None) -> StreamedSplit:
    """A StreamedSplit over one Parquet file per domain: rows paired by `id_column` (only samples in every file,
    in the first file's order; IDs must be unique) or, without it, by position (equal row counts required).

    The ID column is never a feature. Without `id_column`, a column every file has and whose name looks like an ID
    (the `tables` loader's rule: sample_id, cell_id, barcode, ...) is taken as it, as `tables` does."""
    if id_column is None:
        id_column = _shared_id_column(paths)
    readers = {name: ParquetRows(path, exclude=(id_column,) if id_column else ()) for name, path in paths.items()}
    if id_column is None:
        mismatch = "the Parquet files have different row counts {counts}: pair them with id_column="
        return _paired_by_position(readers, mismatch)
    ids = {name: reader.column_values(id_column) for name, reader in readers.items()}
    first = next(iter(ids))
    common = np.asarray(ids[first])
    for name, values in ids.items():
        unique, counts = np.unique(values, return_counts=True)
        if (counts > 1).any():
            raise SharedLatentError(
                f"{readers[name].path}: {id_column!r} repeats IDs ({listed(unique[counts > 1], 5)})"
            )
        common = common[np.isin(common, values)]
    if common.size == 0:
        raise SharedLatentError(f"no {id_column!r} value is in every file: nothing to pair")
    rows = {}
    for name, values in ids.items():
        order = np.argsort(values, kind="stable")
        rows[name] = order[np.searchsorted(values[order], common)]
    return StreamedSplit(readers, rows)


def _shared_id_column(paths: dict[str, str | Path]) -> str | None:
    """The ID-like column name (datasets/tables.py's rule) that every Parquet file's schema has, if any."""
    from sharedlatent.datasets.tables import detect_id_column

    try:
        import pyarrow.parquet as pq

        names = [pq.read_schema(path).names for path in paths.values()]
    except (ImportError, OSError, ValueError):  # ParquetRows reports these, naming the file
        return None
    found = detect_id_column(names[0])
    return found if found is not None and all(found in other for other in names) else None


def _paired_by_position(readers: dict[str, RowReader], mismatch: str) -> StreamedSplit:
    """A StreamedSplit pairing the files' rows by position; the error `mismatch` (its {counts}: the row counts)
    when they differ in length."""
    counts = {reader.shape[0] for reader in readers.values()}
    if len(counts) != 1:
        raise SharedLatentError(mismatch.format(counts=sorted(counts)))
    n_samples = counts.pop()
    return StreamedSplit(readers, {name: np.arange(n_samples) for name in readers})
