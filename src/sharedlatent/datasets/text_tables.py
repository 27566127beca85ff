"""Text tables (CSV, TSV, TXT; gzipped too) read as pandas DataFrames: the separator the file really uses, whether
a first row of numbers is column names or a sample, repeated names; parse errors as one line naming the file."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sharedlatent.errors import SharedLatentError
from sharedlatent.optional_deps import require_module

if TYPE_CHECKING:
    import pandas

TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": "\t"}
TEXT_FORMATS = {",": "CSV", "\t": "tab-separated text", ";": "';'-separated text", "|": "'|'-separated text"}


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
    pd = require_module("pandas", "reading tables", "tables")
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

    try:
        counts = {len(fields) for fields in csv.reader(lines, delimiter=separator)}
    except csv.Error:  # binary bytes, a lone carriage return: not a table this way; pandas reports the file
        return False
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
