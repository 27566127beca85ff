"""One obs column over a set of cells, gathered from every obs that may hold it: a MuData's own obs first, then
each domain's AnnData obs. Batch labels and continuous covariates both read obs this way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sharedlatent.errors import SharedLatentError


def obs_frames(data: Any, is_mudata: bool, adatas: list[Any]) -> list[Any]:
    """The obs tables to read, in order of precedence: the MuData's own (when `data` is one), then each AnnData's."""
    return ([data.obs] if is_mudata else []) + [adata.obs for adata in adatas]


def merged_obs_column(frames: list[Any], key: str, cells: Any, convert: Callable[[Any], Any]) -> Any | None:
    """Column `key` reindexed to `cells` (a pandas Index): each cell's value from the first frame that has one,
    each frame's column passed through `convert` first (a duplicated obs name keeps its first row). None when no
    frame has the column; NaN or None where no frame has a value for a cell. Frames that give one cell different
    values are refused (RNA's obs saying batch b1 where the protein's says zz was resolved silently)."""
    merged = None
    for frame in frames:
        if key not in frame.columns:
            continue
        column = frame[key]
        column = convert(column[~column.index.duplicated()]).reindex(cells)
        if merged is not None:
            _refuse_disagreement(merged, column, key)
        merged = column if merged is None else merged.where(merged.notna(), column)
    return merged


def _refuse_disagreement(first: Any, second: Any, key: str) -> None:
    """One line naming a cell where two frames' values of column `key` differ, if any does."""
    both = first.notna() & second.notna()
    differ = both & (first.astype(str) != second.astype(str))
    if differ.any():
        cell = differ[differ].index[0]
        raise SharedLatentError(
            f"obs column {key!r} disagrees between the objects for {int(differ.sum())} cells (cell {cell!r}: "
            f"{first[cell]!r} in one, {second[cell]!r} in another); make them agree or drop it from all but one"
        )
