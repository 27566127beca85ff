"""Reading and writing the samples a user translates or generates: .npy, .csv/.tsv, .parquet, .npz, .h5ad."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sharedlatent.errors import SharedLatentError, first_line

H5AD = ".h5ad"


@dataclass
class Samples:
    """Rows of one domain with the IDs and column names that came with them, if any."""

    values: np.ndarray
    sample_ids: np.ndarray | None = None
    feature_names: list[str] | None = None
    id_column: str | None = None  # the table's name for the IDs, kept in what is written from these samples


def read_samples(
    path: str | Path,
    id_column: str | None = None,
    label_column: str | None = None,
    domain: str | None = None,
    width: int | None = None,
    feature_names: list[str] | None = None,
) -> Samples:
    """Samples from a file, its format chosen by the suffix; IDs come from an ID column or obs_names. A table's
    `id_column` (else one named like an ID) and `label_column` (where present) are left out of the values. An NPZ
    without a 'values' array may hold `domain`'s samples under the domain's name, as `generate` writes them.
    A file of no samples is refused: on the command line it is a mistake, not a request for an empty output.
    A 1-D .npy is one sample, or, for a domain of `width` 1, one value per sample. A text table's first row of
    numbers is read as column names when it spells the domain's `feature_names`, else as a sample."""
    samples = _read_any(Path(path), id_column, label_column, domain, width, feature_names)
    if len(samples.values) == 0:
        raise SharedLatentError(f"input {path} holds no samples (0 rows)")
    return samples


def _read_any(
    path: Path,
    id_column: str | None,
    label_column: str | None,
    domain: str | None,
    width: int | None,
    feature_names: list[str] | None,
) -> Samples:
    """read_samples' reading, by the file's suffix."""
    if path.is_dir():
        raise SharedLatentError(f"input {path} is a folder, not a file")
    if not path.is_file():
        raise SharedLatentError(f"input file {path} does not exist")
    if path.suffix.lower() == ".npz" and domain is not None and (values := _domain_array(path, domain)) is not None:
        return Samples(values)
    if path.suffix.lower() == H5AD:
        from sharedlatent.datasets.anndata_files import choose_matrix, dense_rows, import_anndata

        try:
            adata = import_anndata().read_h5ad(path)
        except (OSError, ValueError, KeyError, TypeError) as error:  # TypeError: HDF5 that is not AnnData
            raise SharedLatentError(f"cannot read {path} as .h5ad: {first_line(error)}") from None
        modality = choose_matrix(adata, str(path))
        values = dense_rows(modality.matrix, np.arange(adata.n_obs))
        return Samples(values, np.asarray(adata.obs_names).astype(str), list(map(str, adata.var_names)))
    if path.suffix.lower() == ".h5mu":
        raise SharedLatentError(
            f"input {path}: this run was not trained on AnnData / MuData, so which matrix of a .h5mu holds the "
            "values is unknown: name it with --layer or --obsm"
        )
    if path.suffix.lower() == ".npy":
        values = read_npy(path)
        return Samples(values[:, None] if values.ndim == 1 and width == 1 else np.atleast_2d(values))
    from sharedlatent.datasets.tables import TABLE_SUFFIXES, read_table, table_kind

    try:
        table_kind(path)
    except SharedLatentError:  # its list names tables only; a sample file may be AnnData too
        known = ", ".join(dict.fromkeys([*TABLE_SUFFIXES, H5AD, ".h5mu"]))
        raise SharedLatentError(
            f"input {path}: unknown format {path.suffix or '(no suffix)'!r}; expected {known}"
        ) from None
    table = read_table(path, id_column, label_column, feature_names=feature_names or [])
    return Samples(table.values, table.sample_ids, table.feature_names, table.id_column)


def _domain_array(path: Path, domain: str) -> np.ndarray | None:
    """The `domain` array of an NPZ of one array per domain (generate's pairs), or None for an NPZ table."""
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as archive:
            if "values" in archive.files or domain not in archive.files:
                return None
            return np.atleast_2d(archive[domain])
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise SharedLatentError(f"{path} cannot be read as an NPZ archive: {error}") from None


def read_npy(path: Path) -> np.ndarray:
    """An .npy file's array; memory-mapped first, so a header claiming more rows than the file holds is refused."""
    try:
        mapped = np.load(path, allow_pickle=False, mmap_mode="r")
        return np.array(mapped)
    except (OSError, ValueError, EOFError) as error:
        raise SharedLatentError(f"cannot read {path} as .npy: {error}") from None


def aligned_values(samples: Samples, expected: list[str] | None, what: str) -> tuple[np.ndarray, str | None]:
    """The values with columns in the training order, matched by name where the file's names are the domain's.

    Names that share nothing with the domain's (generated feature_<i>, AnnData's default 0, 1, ...) are taken in
    the order given, with a note saying so; a partial match or a different set of the same names is an error."""
    names = samples.feature_names
    if not expected or not names or list(names) == list(expected):
        return samples.values, None
    shared = set(names) & set(expected)
    if not shared:
        return (
            samples.values,
            f"note: the columns of {what} are not named like the domain's features; taking them in the order given",
        )
    missing = [name for name in expected if name not in set(names)]
    unexpected = [name for name in names if name not in set(expected)]
    if missing or unexpected or len(names) != len(expected):
        raise SharedLatentError(
            f"{what}: columns do not match the domain's features: missing {missing[:5]}{' ...' if len(missing) > 5 else ''}, "
            f"unexpected {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}"
        )
    position = {name: i for i, name in enumerate(names)}
    return samples.values[:, [position[name] for name in expected]], None


def write_samples(
    path: str | Path,
    values: np.ndarray,
    feature_names: list[str] | None,
    sample_ids: np.ndarray | None = None,
    id_column: str | None = None,
    uns: dict | None = None,
) -> Path:
    """Write rows named by the target domain's features (and the input's IDs, under the input's ID column name,
    else "sample_id"), atomically, in the suffix's format; an .h5ad also carries `uns`."""
    path = Path(path)
    names = feature_names or [f"feature_{i}" for i in range(values.shape[1])]
    if path.suffix.lower() == H5AD:
        from sharedlatent.datasets.anndata_files import write_h5ad

        ids = sample_ids if sample_ids is not None else np.array([str(i) for i in range(values.shape[0])])
        return write_h5ad(path, values, ids, names, uns=uns)
    from sharedlatent.datasets.tables import write_table

    # pandas names a table's unnamed index column (R's write.csv) "Unnamed: 0": not a name to hand back
    unnamed = id_column is None or re.fullmatch(r"Unnamed: \d+", id_column) is not None
    return write_table(path, values, names, sample_ids, "sample_id" if unnamed else id_column)
