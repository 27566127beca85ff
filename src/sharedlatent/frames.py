"""pandas DataFrames given as arrays: their rows are paired by position, so their indexes must agree.

A DataFrame per domain is read like any array (numpy of its values). Two DataFrames whose row indexes differ
would pair different samples silently; that is refused instead, naming the first row where they part."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sharedlatent.errors import SharedLatentError

__all__ = ["check_frame_rows", "is_frame"]


def is_frame(values: Any) -> bool:
    """Whether `values` is a pandas DataFrame (checked by module, so pandas is not imported here)."""
    return type(values).__module__.startswith("pandas") and hasattr(values, "index") and hasattr(values, "columns")


def check_frame_rows(inputs: Mapping[str, Any], what: str) -> None:
    """Raise SharedLatentError when two of the DataFrames among `inputs` have different row indexes."""
    frames = [(name, values) for name, values in inputs.items() if is_frame(values)]
    if len(frames) < 2:
        return
    first_name, first = frames[0]
    for name, frame in frames[1:]:
        if frame.index.equals(first.index):
            continue
        if len(frame) != len(first):
            detail = f"{len(first)} and {len(frame)} rows"
        else:
            row = next(i for i, (a, b) in enumerate(zip(first.index, frame.index, strict=True)) if a != b)
            mine, theirs = (_plain(index[row]) for index in (first.index, frame.index))
            detail = f"row {row} is {mine!r} in one and {theirs!r} in the other"
        raise SharedLatentError(
            f"{what}: the DataFrames of {first_name!r} and {name!r} have different row indexes ({detail}); rows are "
            "paired by position, so align them first (e.g. frame.loc[shared_ids]) or pass arrays"
        )


def _plain(label: Any) -> Any:
    """An index label as Python prints it plainly (399, not np.int64(399))."""
    return label.item() if hasattr(label, "item") and not isinstance(label, str) else label
