"""Two table files, one per domain (CSV, TSV, Parquet, NPZ or NPY), with rows paired by a sample-ID column.

The ID column is `id_column` when given; otherwise the first column whose name looks like an ID: "id", "ids",
"index", "sample(s)", "barcode(s)", "sample_id", "cell_id", "obs_names", any name ending in "_id" or " id", or the
"Unnamed: 0" column pandas writes for an index (case-insensitive; numeric ID columns are only found this way or by
name). Without an ID column in either file, rows are paired by position and the row counts must agree; a column
every file has, holding the same unique whole numbers in another order, gets a warning (likely unrecognised IDs).
With pairing="outer", samples found in only one file are kept too (partially paired data; see datasets/pairing.py).
NPZ files hold `values` (samples x features) and optionally `feature_names`, `sample_ids` and `labels`.
"""

from __future__ import annotations

import logging
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from sharedlatent.datasets.base import PairedDataset, Split
from sharedlatent.datasets.options import as_float, as_int, domain_files, refuse_one_matrix_twice
from sharedlatent.datasets.pairing import (
    DomainMatch,
    MatchReport,
    check_unique,
    gather_rows,
    pair_by_ids,
    presence_of,
)
from sharedlatent.datasets.splits import split_into_dataset
from sharedlatent.datasets.text_tables import TEXT_SUFFIXES, check_header_option, check_unique_names, read_text_frame
from sharedlatent.errors import SharedLatentError
from sharedlatent.optional_deps import require_module
from sharedlatent.plain_values import FLOAT32_MAX
from sharedlatent.storage import atomic_path

if TYPE_CHECKING:
    import pandas

log = logging.getLogger(__name__)

ID_NAME = re.compile(
    r"^(unnamed: 0|index|ids?|obs_names|samples?|barcodes?|(sample|cell|barcode|subject|patient)[ _-]?(id|ids|name|barcode)|.*[ _-]id)$",
    re.IGNORECASE,
)
TABLE_SUFFIXES = (*TEXT_SUFFIXES, ".parquet", ".npz", ".npy")


@dataclass
class Table:
    """One domain's file after reading: numeric values plus the IDs, labels and column names that came with them."""

    path: Path
    values: np.ndarray
    feature_names: list[str]
    sample_ids: np.ndarray | None = None
    id_column: str | None = None
    labels: np.ndarray | None = None


def table_kind(path: Path) -> str:
    """The format from the file name, ignoring a trailing .gz on text tables."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes[-1:] == [".gz"]:
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    if suffix not in TABLE_SUFFIXES:
        raise SharedLatentError(
            f"{path}: unknown table format {suffix or '(no suffix)'!r}; expected one of {', '.join(TABLE_SUFFIXES)}"
        )
    return suffix


def import_pandas() -> ModuleType:
    """pandas, or an error naming the extra that installs it."""
    return require_module("pandas", "reading tables", "tables")


def read_frame(
    path: Path,
    id_column: str | None,
    label_column: str | None,
    header: str = "auto",
    feature_names: list[str] | None = None,
) -> pandas.DataFrame:
    """The file as a pandas DataFrame (NPZ / NPY arrays become columns); `header` and `feature_names`: see
    read_text_frame."""
    pd = import_pandas()
    kind = table_kind(path)
    if path.is_dir():
        raise SharedLatentError(f"table file {path} is a folder; name a file in it")
    if not path.is_file():
        raise SharedLatentError(f"table file {path} does not exist")
    if kind in TEXT_SUFFIXES:
        return read_text_frame(path, kind, id_column, label_column, header, feature_names)
    if kind == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except ImportError:
            raise SharedLatentError(
                f"{path}: reading Parquet needs pyarrow: pip install 'sharedlatent[tables]'"
            ) from None
        except (ValueError, OSError) as error:  # pyarrow's ArrowInvalid is a ValueError
            raise SharedLatentError(f"{path} cannot be read as Parquet: {str(error).strip()[:200]}") from None
        if frame.shape[0] == 0:
            raise SharedLatentError(f"{path} has columns but no data rows")
        return frame
    if kind == ".npy":
        values = load_numbers(path)
        if values.ndim != 2:
            raise SharedLatentError(f"{path}: expected a 2-D array (samples x features), got shape {values.shape}")
        return pd.DataFrame(values, columns=[f"feature_{i}" for i in range(values.shape[1])])
    return frame_from_npz(path, id_column, label_column)


def load_numbers(path: Path, key: str | None = None) -> np.ndarray:
    """The array in a .npy file (or `key` of an .npz archive), refusing pickled objects instead of unpickling them."""
    try:
        if key is None:  # memory-mapped first, so a header claiming more rows than the file holds is refused
            return np.array(np.load(path, allow_pickle=False, mmap_mode="r"))
        with np.load(path, allow_pickle=False) as archive:
            return archive[key]
    except ValueError as error:
        if "pickle" in str(error) or "Object arrays" in str(error) or "Python objects" in str(error):
            raise SharedLatentError(
                f"{path} holds Python objects, not numbers; sharedlatent never unpickles {path.suffix} files"
            ) from None
        raise SharedLatentError(f"{path} cannot be read as {path.suffix}: {error}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise SharedLatentError(f"{path} cannot be read as {path.suffix}: {error}") from None


def frame_from_npz(path: Path, id_column: str | None, label_column: str | None) -> pandas.DataFrame:
    """An NPZ archive (values, feature_names, sample_ids, labels) as a DataFrame with ID and label columns first."""
    pd = import_pandas()
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.files)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise SharedLatentError(f"{path} cannot be read as an NPZ archive: {error}") from None
    arrays = {key: load_numbers(path, key) for key in keys}
    if "values" not in arrays:
        raise SharedLatentError(f"{path}: an NPZ table needs a 'values' array, found keys {sorted(arrays)}")
    values = arrays["values"]
    if values.ndim != 2:
        raise SharedLatentError(f"{path}: 'values' should be 2-D (samples x features), got shape {values.shape}")
    names = [str(n) for n in arrays.get("feature_names", [f"feature_{i}" for i in range(values.shape[1])])]
    if len(names) != values.shape[1]:
        raise SharedLatentError(f"{path}: {len(names)} feature_names for {values.shape[1]} columns of 'values'")
    check_unique_names(path, names)
    for key in ("labels", "sample_ids"):
        if key in arrays and len(arrays[key]) != values.shape[0]:
            raise SharedLatentError(f"{path}: {len(arrays[key])} {key} for {values.shape[0]} rows of 'values'")
    frame = pd.DataFrame(values, columns=names)
    if "labels" in arrays:
        frame.insert(0, label_column or "label", arrays["labels"])
    if "sample_ids" in arrays:
        frame.insert(0, id_column or "sample_id", arrays["sample_ids"].astype(str))
    return frame


def detect_id_column(columns: list[str]) -> str | None:
    """The first column whose name looks like a sample ID (see the module docstring for the rule)."""
    return next((name for name in columns if ID_NAME.match(str(name))), None)


def read_table(
    path: str | Path,
    id_column: str | None = None,
    label_column: str | None = None,
    header: str = "auto",
    feature_names: list[str] | None = None,
) -> Table:
    """One table with its ID and label columns taken out and every other column checked to be numeric and complete
    (`header`, `feature_names`: how a first row of numbers is read, see read_text_frame)."""
    path = Path(path)
    check_header_option(header)
    frame = read_frame(path, id_column, label_column, header, feature_names)
    frame.columns = [str(name) for name in frame.columns]
    if id_column is not None and id_column not in frame.columns:
        raise SharedLatentError(f"{path}: no ID column {id_column!r}; columns are {list(frame.columns)[:10]}")
    id_name = id_column or detect_id_column([c for c in frame.columns if c != label_column])
    sample_ids = labels = None
    if id_name is not None:
        id_series = frame.pop(id_name)
        blank = (id_series.isna() | (id_series.astype(str).str.strip() == "")).to_numpy()
        if blank.any():  # as text they would read "nan" and pair with another file's blank ID
            rows = listed_rows(np.flatnonzero(blank))
            count = int(blank.sum())
            raise SharedLatentError(
                f"{path}: {count} row{'s have' if count > 1 else ' has'} no sample ID in column {id_name!r}"
                f" (data {rows}); fill or drop them"
            )
        sample_ids = id_series.astype(str).to_numpy()
        check_unique(sample_ids, str(path), f"IDs in column {id_name!r}")
    if label_column is not None and label_column in frame.columns:
        label_series = frame.pop(label_column)
        if label_series.isna().any():
            raise SharedLatentError(
                f"{path}: label column {label_column!r} has {int(label_series.isna().sum())} missing values"
            )
        labels = label_series.to_numpy()
    check_numeric(frame, path)
    if frame.shape[1] == 0:
        raise SharedLatentError(f"{path}: no numeric feature columns left after taking out the ID and label columns")
    return Table(path, frame.to_numpy(dtype=np.float32), list(frame.columns), sample_ids, id_name, labels)


def listed_rows(indices: np.ndarray, shown: int = 5) -> str:
    """'rows 11, 21' (1-based data rows, the header not counted), the first `shown` of them."""
    rows = ", ".join(str(int(i) + 1) for i in indices[:shown])
    more = f" and {len(indices) - shown} more" if len(indices) > shown else ""
    return f"row{'s' if len(indices) > 1 else ''} {rows}{more}"


def _missing_summary(frame: pandas.DataFrame, first: str, in_first: int) -> str:
    """ "column 'P1' has 182 NaN or infinite values", with how many other columns and values have them too."""
    numeric = frame.select_dtypes(include="number").to_numpy(dtype=float)
    per_column = (~np.isfinite(numeric)).sum(axis=0)
    columns, values = int((per_column > 0).sum()), int(per_column.sum())
    text = f"column {first!r} has {in_first} NaN or infinite values"
    if columns > 1:
        text += f" ({columns} columns have them, {values} values in all)"
    return text


def check_numeric(frame: pandas.DataFrame, path: Path) -> None:
    """Every column numeric and free of NaN, or an error naming the file and the column."""
    pd = import_pandas()
    for name in frame.columns:
        column = frame[name]
        if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
            example = column.dropna().iloc[0] if column.notna().any() else None
            raise SharedLatentError(
                f"{path}: column {name!r} is not numeric (e.g. {str(example)[:40]!r}); name it as the ID or label "
                "column (data options id_column / label_column; translate: --id-column / --label-column), or remove it"
            )
        values = column.to_numpy(dtype=float)
        missing = int(column.isna().sum()) + int(np.isinf(values).sum())
        if missing:
            raise SharedLatentError(f"{path}: {_missing_summary(frame, name, missing)}; fill or drop them first")
        beyond = values[np.abs(values) > FLOAT32_MAX]  # training is in float32: these would become infinite
        if beyond.size:
            raise SharedLatentError(
                f"{path}: column {name!r} has values beyond float32's range (e.g. {beyond[0]:g}, largest allowed "
                f"{FLOAT32_MAX:.3g}); rescale it first"
            )


def match_tables(
    tables: dict[str, Table], pairing: str = "inner"
) -> tuple[dict[str, np.ndarray], np.ndarray, MatchReport]:
    """Row indices per domain that pair the tables (-1 where an outer pairing lacks a sample), the sample IDs, and a report."""
    named = {domain: t for domain, t in tables.items() if t.sample_ids is not None}
    if named and len(named) != len(tables):
        without = [f"{t.path} ({domain})" for domain, t in tables.items() if t.sample_ids is None]
        with_ids = [f"{t.path} ({t.id_column!r})" for t in named.values()]
        raise SharedLatentError(
            f"{', '.join(with_ids)} has an ID column but {', '.join(without)} has none; give each file an ID column "
            f"or set id_column, so rows are not paired by position by mistake"
        )
    if not named:
        if pairing == "outer":
            raise SharedLatentError(
                "pairing='outer' needs a sample-ID column in every file; without one, rows can only be paired by position"
            )
        counts = {domain: t.values.shape[0] for domain, t in tables.items()}
        if len(set(counts.values())) > 1:
            detail = ", ".join(f"{tables[d].path} has {n}" for d, n in counts.items())
            raise SharedLatentError(
                f"no ID column found, so rows would be paired by position, but the row counts differ: {detail}"
            )
        n = next(iter(counts.values()))
        rows = {domain: np.arange(n) for domain in tables}
        ids, paired_by = np.array([str(i) for i in range(n)]), "row order (no ID column)"
        suspect = shared_id_like_column(tables)
        if suspect is not None:
            hint = (
                f"column {suspect!r} holds the same unique whole numbers in every file, in a different order: if "
                f"it names the samples, set id_column={suspect} (pairing by row order now, and training on it as a "
                "feature)"
            )
            warnings.warn(hint, UserWarning, stacklevel=3)
            paired_by = f"row order (no ID column; {hint})"
        report = MatchReport(paired_by, tuple(DomainMatch(d, str(t.path), n, n) for d, t in tables.items()))
    else:
        paired_by = "sample ID (" + ", ".join(f"{d}: {t.id_column!r}" for d, t in tables.items()) + ")"
        sources = {d: str(t.path) for d, t in tables.items()}
        rows, ids, report = pair_by_ids({d: t.sample_ids for d, t in tables.items()}, sources, paired_by, pairing)
    return rows, ids, report


def shared_id_like_column(tables: dict[str, Table]) -> str | None:
    """A column that every table has, holding the same set of distinct whole numbers in a different row order:
    most likely sample IDs that the name rules did not recognise, which pairing by row order would mismatch."""
    shared = set.intersection(*(set(t.feature_names) for t in tables.values()))
    for name in sorted(shared):
        columns = [t.values[:, t.feature_names.index(name)] for t in tables.values()]
        first = columns[0]
        whole = all(np.array_equal(c, np.round(c)) for c in columns)
        unique = all(len(np.unique(c)) == len(c) for c in columns)
        if whole and unique and len(first) > 1:
            same_set = all(np.array_equal(np.sort(c), np.sort(first)) for c in columns)
            if same_set and not all(np.array_equal(c, first) for c in columns):
                return name
    return None


def matched_labels(tables: dict[str, Table], rows: dict[str, np.ndarray], label_column: str) -> np.ndarray:
    """The label of each sample, from whichever files have the label column and the sample (they must agree)."""
    found = {domain: (t.labels, rows[domain]) for domain, t in tables.items() if t.labels is not None}
    if not found:
        raise SharedLatentError(
            f"label column {label_column!r} is in none of {', '.join(str(t.path) for t in tables.values())}"
        )
    n = len(next(iter(rows.values())))
    labels, known = np.empty(n, dtype=object), np.zeros(n, dtype=bool)
    for values, domain_rows in found.values():
        have = domain_rows >= 0
        taken = np.asarray(values, dtype=object)[domain_rows[have]]
        both = known[have]
        if not np.array_equal(labels[have][both].astype(str), taken[both].astype(str)):
            raise SharedLatentError(
                f"label column {label_column!r} disagrees between the files for the same sample IDs"
            )
        labels[have], known[have] = taken, True
    if not known.all():
        # Only samples that no labelled file has lack a label: with outer pairing these are unpaired (a paired
        # sample is in every file), and the split, the metrics and the figures read the paired samples' labels
        # only. They get "" and the labels become text.
        labels[~known] = ""
        return np.asarray([str(value) for value in labels.tolist()])
    return np.asarray(labels.tolist(), dtype=np.asarray(next(iter(found.values()))[0]).dtype)


def load_table_pair(
    left_path: str | Path | None = None,
    right_path: str | Path | None = None,
    id_column: str | None = None,
    label_column: str | None = None,
    test_fraction: float | str = 0.2,
    seed: int | str = 0,
    left: str = "left",
    right: str = "right",
    pairing: str = "inner",
    header: str = "auto",
    **domain_paths: str,
) -> PairedDataset:
    """Tables paired by sample ID, split stratified by label when `label_column` is given, else at random.

    Two domains named `left` and `right` (left_path, right_path), or any number named by their options:
    rna_path=..., protein_path=..., atac_path=... give domains rna, protein and atac, in that order.
    pairing "inner" keeps the samples every file has; "outer" keeps all, marks missing ones in Split.present,
    and draws the test split from the paired samples only. header "names" / "none": a text table's first row of
    numbers is column names / a sample ("auto": a sample, unless it looks like names, which is refused)."""
    test_fraction = as_float(test_fraction, "test_fraction", 0.0, 1.0)
    seed = as_int(seed, "seed")
    paths = domain_files("tables", left_path, right_path, left, right, domain_paths)
    refuse_one_matrix_twice({domain: (path.resolve(),) for domain, path in paths.items()})
    tables = {domain: read_table(path, id_column, label_column, header) for domain, path in paths.items()}
    rows, ids, report = match_tables(tables, pairing)
    log.info("tables: %s", report.summary())
    labels = matched_labels(tables, rows, label_column) if label_column else None
    full = Split(
        {d: gather_rows(t.values, rows[d]) for d, t in tables.items()},
        labels=labels,
        sample_ids=ids,
        present=presence_of(rows),
    )
    named = [f"{path.name} ({domain})" for domain, path in paths.items()]
    what = f"tables {', '.join(named[:-1])} and {named[-1]}: {report.summary()}"
    dataset = split_into_dataset(
        "tables", full, {d: t.feature_names for d, t in tables.items()}, what, test_fraction, seed
    )
    dataset.notes.append(f"tables: {report.summary()}")
    return dataset


def write_table(
    path: str | Path,
    values: np.ndarray,
    feature_names: list[str],
    sample_ids: np.ndarray | list[str] | None = None,
    id_column: str = "sample_id",
) -> Path:
    """Write samples x features (e.g. translated output, named by the target domain's columns) in the format of `path`."""
    path = Path(path)
    kind = table_kind(path)
    values = np.asarray(values)
    if values.ndim != 2 or values.shape[1] != len(feature_names):
        raise SharedLatentError(f"{path}: {len(feature_names)} feature names for values of shape {values.shape}")
    if sample_ids is not None and len(sample_ids) != values.shape[0]:
        raise SharedLatentError(f"{path}: {len(sample_ids)} sample IDs for {values.shape[0]} rows")
    with atomic_path(path) as temporary:
        # Through open files: given a name, numpy appends ".npy" / ".npz" unless it ends so in lower case, and
        # the temporary renamed into place would stay empty (an upper-case FILE.NPY).
        if kind == ".npy":
            with open(temporary, "wb") as handle:
                np.save(handle, values)
        elif kind == ".npz":
            extra = {} if sample_ids is None else {"sample_ids": np.asarray(sample_ids).astype(str)}
            with open(temporary, "wb") as handle:
                np.savez(handle, values=values, feature_names=np.asarray(feature_names, dtype=str), **extra)
        else:
            frame = import_pandas().DataFrame(values, columns=list(feature_names))
            if sample_ids is not None:
                frame.insert(0, id_column, np.asarray(sample_ids).astype(str))
            if kind == ".parquet":
                try:
                    frame.to_parquet(temporary, index=False)
                except ImportError:
                    raise SharedLatentError(
                        f"{path}: writing Parquet needs pyarrow: pip install 'sharedlatent[tables]'"
                    ) from None
            else:
                frame.to_csv(temporary, sep=TEXT_SUFFIXES[kind], index=False)
    return path
