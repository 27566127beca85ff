"""A pair of .h5ad files kept on disk: training rows are read batch by batch (datasets/streaming.py), only a
bounded test sample is loaded, so memory stays flat as the files grow.

Chosen with the h5ad dataset's `backed=true`, or by `backed=auto` (the default) once the two matrices would take
more than BACKED_ABOVE_BYTES as dense float32."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sharedlatent.datasets.base import PairedDataset, Split
from sharedlatent.datasets.options import as_bool, as_float, as_int
from sharedlatent.datasets.pairing import check_unique_features, pair_by_ids
from sharedlatent.datasets.splits import split_rows
from sharedlatent.datasets.streaming import H5Rows, StreamedSplit
from sharedlatent.errors import SharedLatentError

BACKED_ABOVE_BYTES = 2 * 1024**3
TEST_ROWS = 2_000  # what the evaluation subsamples to anyway (runs/evaluate.py)
NAME_CHUNK = 65_536


def wants_backed(backed: bool | str, paths: dict[str, Path], in_memory_only: bool, pairing: str) -> bool:
    """`backed` as given, or for "auto" whether the dense matrices would pass BACKED_ABOVE_BYTES; `in_memory_only`
    (obsm, a label column or batch labels, which the backed reader lacks) keeps "auto" in memory."""
    if str(backed).lower() != "auto":
        return as_bool(backed, "backed")
    if in_memory_only or pairing != "inner":
        return False
    import h5py

    total = 0
    for path in paths.values():
        with h5py.File(path, "r") as file:
            node = file["X"]
            shape = node.attrs["shape"] if "shape" in node.attrs else node.shape  # noqa: SIM401 (a Group has no .shape)
            total += int(shape[0]) * int(shape[1]) * 4
    return total > BACKED_ABOVE_BYTES


def load_backed_pair(
    paths: dict[str, Path], layers: dict[str, str | None], test_fraction: float | str, seed: int | str, pairing: str
) -> PairedDataset:
    """Cells paired by obs_names; train is a StreamedSplit, test an in-memory seeded sample of the test cells."""
    if pairing != "inner":
        raise SharedLatentError("backed=true pairs cells with pairing=inner only")
    ids, names = {}, {}
    for domain, path in paths.items():
        ids[domain], names[domain] = index_names(path, "obs"), [str(n) for n in index_names(path, "var")]
        check_unique_features(names[domain], str(path))
    rows, shared, report = pair_by_ids(ids, {d: str(p) for d, p in paths.items()}, "obs_names", "inner")
    readers = {d: H5Rows(p, f"layers/{layers[d]}" if layers[d] else "X") for d, p in paths.items()}
    full = StreamedSplit(readers, rows)
    seed, fraction = as_int(seed, "seed"), as_float(test_fraction, "test_fraction", 0.0, 1.0)
    if fraction == 0:
        train_rows, test_rows, how = np.arange(len(shared)), np.zeros(0, dtype=int), "no test split"
    else:
        train_rows, test_rows, how = split_rows(len(shared), fraction, seed)
    kept = test_rows
    if len(test_rows) > TEST_ROWS:
        kept = np.sort(np.random.default_rng(seed).choice(test_rows, TEST_ROWS, replace=False))
    test = Split(full.read(kept), sample_ids=shared[kept])
    what = f"AnnData {', '.join(p.name for p in paths.values())} on disk (backed): {report.summary()}; {how}"
    dataset = PairedDataset("h5ad", full.subset(train_rows), test, feature_names=names, description=what)  # type: ignore[arg-type]
    dataset.notes.append(f"h5ad backed: {report.summary()}")  # cells dropped in pairing, as in memory
    dataset.notes.append(
        f"h5ad backed: training reads rows from disk; {len(kept)} of {len(test_rows)} test cells loaded"
    )
    if len(kept) < len(test_rows):
        dataset.test_subsample = (len(test_rows), int(seed))
    return dataset


def index_names(path: Path, frame: str) -> np.ndarray:
    """The index (obs_names or var_names) of an .h5ad's `frame` as a numpy string array, read NAME_CHUNK names at a
    time: a million Python strings at once left 0.25 GiB of fragmented heap behind."""
    import h5py

    with h5py.File(path, "r") as file:
        group = file.get(frame)
        column = group.attrs.get("_index") if isinstance(group, h5py.Group) else None
        if column is None or column not in group:  # an older layout: let anndata read it
            return _anndata_index(path, frame)
        names = group[column]
        reader = names.asstr() if h5py.check_string_dtype(names.dtype) else names
        return np.concatenate(
            [np.asarray(reader[start : start + NAME_CHUNK]).astype(str) for start in range(0, len(names), NAME_CHUNK)]
            or [np.zeros(0, dtype=str)]
        )


def _anndata_index(path: Path, frame: str) -> np.ndarray:
    import anndata

    adata = anndata.read_h5ad(path, backed="r")
    try:
        return np.asarray(getattr(adata, f"{frame}_names")).astype(str)
    finally:
        adata.file.close()
