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
from sharedlatent.datasets.options import as_float, as_int, require_path
from sharedlatent.datasets.pairing import (
    DomainMatch,
    MatchReport,
    check_unique,
    gather_rows,
    pair_by_ids,
    presence_of,
)
from sharedlatent.datasets.splits import split_into_dataset
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
TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": "\t"}
TABLE_SUFFIXES = (*TEXT_SUFFIXES, ".parquet", ".npz", ".npy")
TEXT_FORMATS = {",": "CSV", "\t": "tab-separated text", ";": "';'-separated text", "|": "'|'-separated text"}


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


def read_text_frame(
    path: Path,
    kind: str,
    id_column: str | None,
    label_column: str | None,
    header: str = "auto",
    feature_names: list[str] | None = None,
) -> pandas.DataFrame:
    """A CSV / TSV / TXT table, with pandas' parse errors turned into errors that name the file.

    A first row of numbers only is data (np.savetxt writes no header) unless `header` is "names", or it spells
    `feature_names` (a trained model's, when translating). With header "auto", a numeric first row that looks
    like column names (numbers_are_a_header: Entrez IDs, wavelengths) is refused, asking which it is."""
    pd = import_pandas()
    separator = other_separator(path, TEXT_SUFFIXES[kind]) or TEXT_SUFFIXES[kind]
    keep_as_text = {name: str for name in (id_column, label_column) if name}
    try:
        with warnings.catch_warnings():
            # index_col=False: a first row longer than the header is not silently read as an index (shifting
            # every value); pandas warns instead, which is made an error here
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path, sep=separator, dtype=keep_as_text or None, index_col=False)
    except pd.errors.ParserWarning:
        raise SharedLatentError(
            f"{path}: a row has more fields than the header; check the separator, quoting and trailing delimiters"
        ) from None
    except pd.errors.EmptyDataError:
        raise SharedLatentError(f"{path} is empty") from None
    except (OSError, EOFError) as error:  # e.g. a .csv.gz that is not gzip
        raise SharedLatentError(f"{path} cannot be read: {error}") from None
    except pd.errors.ParserError as error:
        raise SharedLatentError(f"{path} cannot be parsed as {TEXT_FORMATS[separator]}: {str(error).strip()}") from None
    except UnicodeDecodeError as error:
        raise SharedLatentError(f"{path} is not UTF-8 text ({error.reason} at byte {error.start})") from None
    first_row = pd.read_csv(path, sep=separator, header=None, nrows=1, dtype=str).iloc[0]
    # R's write.csv leaves the corner above its row names blank: names, even when every other cell is a number
    r_corner = pd.isna(first_row.iloc[0]) and not pd.api.types.is_numeric_dtype(frame.iloc[:, 0])
    numbers = all(_is_number(cell) for cell in first_row) and not r_corner
    if numbers and not names_given(first_row, header, feature_names):
        whole = pd.read_csv(path, sep=separator, header=None)
        if header == "auto" and feature_names is None and numbers_are_a_header(first_row, whole):
            raise SharedLatentError(
                f"{path}: the first row holds only numbers, which look like column names (gene IDs, wavelengths) but "
                "could be a sample; say which with the data option header=names or header=none"
            )
        frame = whole
        frame.columns = [f"feature_{i}" for i in range(frame.shape[1])]
    else:
        check_unique_names(path, [str(cell) for cell in first_row if isinstance(cell, str)])
    if frame.shape[0] == 0:
        raise SharedLatentError(f"{path} has a header but no data rows")
    only = str(frame.columns[0])
    split_by = [sep for sep in SEPARATORS if sep in only and sep != separator]
    if frame.shape[1] == 1 and split_by and not pd.api.types.is_numeric_dtype(frame.iloc[:, 0]):
        raise SharedLatentError(
            f"{path} reads as one column named {only[:40]!r}: it looks {split_by[0]!r}-separated, but its first lines"
            " do not all have that many fields; check the separator and the quoting"
        )
    if kind == ".txt" and frame.shape[1] == 1 and " " in only and not pd.api.types.is_numeric_dtype(frame.iloc[:, 0]):
        raise SharedLatentError(
            f"{path} gives one column named {only!r}: .txt files are read as tab-separated (or comma-, ';'- or "
            "'|'-separated when every line splits alike), not space-separated; separate the columns with tabs"
        )
    return frame


SEPARATORS = (",", "\t", ";", "|")
SNIFFED_LINES = 5
MIN_HEADER_ROWS = 10  # a row of numbers counts as column names only above this many rows below it
MIN_HEADER_COLUMNS = 3  # ... and in at least this many columns
OUTSIDE_SHARE = 0.9  # ... when this share of its numbers lie outside their columns' ranges


def other_separator(path: Path, expected: str) -> str | None:
    """The separator the file uses when it is not `expected` (a ';'-separated .csv, say): the first lines do not
    all split alike at `expected` but do at another (quotes respected); None when `expected` fits or nothing else
    does (a one-column file whose header happens to hold a ';' stays one column)."""
    from sharedlatent.datasets.files import open_maybe_gzip

    try:
        with open_maybe_gzip(path) as handle:
            lines = [handle.readline(1_000_000).decode("utf-8", errors="replace") for _ in range(SNIFFED_LINES)]
    except (OSError, EOFError):
        return None  # pandas reports the file itself
    lines = [line for line in lines if line.strip()]
    if len(lines) < 2 or splits_alike(lines, expected):
        return None
    return next((separator for separator in SEPARATORS if splits_alike(lines, separator)), None)


def splits_alike(lines: list[str], separator: str) -> bool:
    """Whether every line splits into the same number (above 1) of fields at `separator`, quotes respected."""
    import csv

    counts = {len(fields) for fields in csv.reader(lines, delimiter=separator)}
    return len(counts) == 1 and counts.pop() > 1


HEADERS = ("auto", "names", "none")


def names_given(first_row: pandas.Series, header: str, feature_names: list[str] | None) -> bool:
    """Whether a numeric first row is column names by the caller's word: header "names", or the row holds exactly
    the names of `feature_names` in any order (a model trained on columns named by numbers reads its own files)."""
    check_header_option(header)
    if header != "auto":
        return header == "names"
    cells = [str(cell) for cell in first_row]
    return feature_names is not None and len(cells) == len(feature_names) and set(cells) == set(map(str, feature_names))


def check_header_option(header: str) -> None:
    if header not in HEADERS:
        raise SharedLatentError(f"header must be one of {', '.join(HEADERS)}, got {header!r}")


def numbers_are_a_header(first_row: pandas.Series, whole: pandas.DataFrame) -> bool:
    """Whether a first row of numbers names the columns rather than being a sample: distinct numbers that are whole
    (Entrez gene IDs) or strictly increasing (wavelengths, m/z, time points), lying outside the range of their
    column's values below in nearly every column of a table of many rows (a sample drawn like the others falls
    inside its columns' ranges)."""
    numbers = np.array([float(cell) for cell in first_row])
    below = whole.iloc[1:]
    if len(below) < MIN_HEADER_ROWS or len(numbers) < MIN_HEADER_COLUMNS or not np.all(np.isfinite(numbers)):
        return False
    if len(np.unique(numbers)) < len(numbers):
        return False
    if not (np.all(numbers == np.round(numbers)) or np.all(np.diff(numbers) > 0)):
        return False
    try:
        values = below.to_numpy(dtype=float)
    except (TypeError, ValueError):
        return False  # text below: read_text_frame's other checks report it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column
        low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
    outside = (numbers < low) | (numbers > high)
    return float(outside.mean()) >= OUTSIDE_SHARE


def check_unique_names(path: Path, names: list[str]) -> None:
    """Column names that repeat (pandas would rename the second GENE0 to GENE0.1 without a word) are refused."""
    seen: dict[str, int] = {}
    for name in names:
        if name.strip():  # pandas names blank headers "Unnamed: i", each its own
            seen[name] = seen.get(name, 0) + 1
    repeated = [f"{name!r} ({count} times)" for name, count in seen.items() if count > 1]
    if repeated:
        shown = ", ".join(repeated[:5]) + (f" and {len(repeated) - 5} more" if len(repeated) > 5 else "")
        raise SharedLatentError(f"{path}: column names repeat: {shown}; every column needs its own name")


def _is_number(text: object) -> bool:
    try:
        float(str(text))
    except ValueError:
        return False
    return True


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


PATH_SUFFIX = "_path"


def domain_files(
    left_path: str | Path | None, right_path: str | Path | None, left: str, right: str, named: dict[str, str]
) -> dict[str, Path]:
    """Each domain's file, by its name: `left` and `right` for left_path and right_path, else the prefix of each
    NAME_path option; at least two domains, each named once."""
    unknown = [key for key in named if not key.endswith(PATH_SUFFIX) or key == PATH_SUFFIX]
    if unknown:
        raise SharedLatentError(
            f"tables: unknown option {unknown[0]!r}; domains are files given as left_path / right_path or NAME_path"
        )
    if left == right:
        raise SharedLatentError(f"the two domains need different names, both are {left!r}")
    options: dict[str, tuple[str, str | Path | None]] = {}  # domain -> (its option, its value)
    for domain, option, value in ((left, "left_path", left_path), (right, "right_path", right_path)):
        if value is not None or not named:  # with NAME_path options, left and right only where given
            options[domain] = (option, value)
    for key, value in named.items():
        domain = key[: -len(PATH_SUFFIX)]
        if domain in options:
            raise SharedLatentError(f"tables: domain {domain!r} is given twice; name each domain once")
        options[domain] = (key, value)
    if len(options) < 2:
        raise SharedLatentError("tables: give at least two domains' files (left_path and right_path, or NAME_path)")
    return {domain: require_path(value, option) for domain, (option, value) in options.items()}


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
    paths = domain_files(left_path, right_path, left, right, domain_paths)
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
