"""One obs column over a set of cells, gathered from every obs that may hold it: a MuData's own obs first, then
each domain's AnnData obs. Batch labels and continuous covariates both read obs this way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def obs_frames(data: Any, is_mudata: bool, adatas: list[Any]) -> list[Any]:
    """The obs tables to read, in order of precedence: the MuData's own (when `data` is one), then each AnnData's."""
    return ([data.obs] if is_mudata else []) + [adata.obs for adata in adatas]


def merged_obs_column(frames: list[Any], key: str, cells: Any, convert: Callable[[Any], Any]) -> Any | None:
    """Column `key` reindexed to `cells` (a pandas Index): each cell's value from the first frame that has one,
    each frame's column passed through `convert` first (a duplicated obs name keeps its first row). None when no
    frame has the column; NaN or None where no frame has a value for a cell."""
    merged = None
    for frame in frames:
        if key not in frame.columns:
            continue
        column = frame[key]
        column = convert(column[~column.index.duplicated()]).reindex(cells)
        merged = column if merged is None else merged.where(merged.notna(), column)
    return merged
