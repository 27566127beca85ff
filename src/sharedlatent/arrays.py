"""One validator for every array a user or a file hands us: numeric, 2-D, the expected width, finite."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sharedlatent.errors import SharedLatentError


def is_sparse_matrix(values: Any) -> bool:
    """Whether `values` is a scipy.sparse matrix or array (checked by module, so scipy is not imported here)."""
    return type(values).__module__.startswith("scipy.sparse") and hasattr(values, "toarray")


def dense_if_sparse(values: Any) -> Any:
    """A scipy.sparse matrix as a dense numpy array; anything else unchanged."""
    return values.toarray() if is_sparse_matrix(values) else values


def as_matrix(
    values: Any,
    what: str,
    *,
    dtype: type = np.float32,
    features: int | None = None,
    allow_nan: bool = False,
    allow_empty: bool = True,
    promote_vector: bool = False,
) -> np.ndarray:
    """`values` as a contiguous 2-D `dtype` array (samples x features), or a one-line error naming `what`.

    `features` checks the width; `allow_nan` leaves NaN (not inf) for the caller's missing-sample logic;
    `promote_vector` reads a 1-D array of `features` values as one sample."""
    if hasattr(values, "detach"):  # a torch tensor; imported lazily so this module stays torch-free
        values = values.detach().cpu().numpy()
    values = dense_if_sparse(values)
    if np.iscomplexobj(values):  # the cast would drop the imaginary part with only a warning
        raise SharedLatentError(f"{what}: values are complex numbers, not real ones")
    try:
        with np.errstate(over="ignore"):  # float64 beyond float32's range: reported below, by name
            array = np.ascontiguousarray(values, dtype=dtype)
    except (TypeError, ValueError):
        raise SharedLatentError(f"{what}: {_not_numeric(values)}") from None
    if promote_vector and array.ndim == 1 and features is not None and array.size == features:
        array = array[None, :]
    if array.ndim != 2:
        shape = f"samples x {features}" if features is not None else "samples x features"
        raise SharedLatentError(f"{what}: expected a 2-D array ({shape}), got shape {array.shape}")
    if features is not None and array.shape[1] != features:
        raise SharedLatentError(f"{what}: expected {features} features per sample, got {array.shape[1]}")
    if not allow_empty and (array.shape[0] == 0 or array.shape[1] == 0):
        raise SharedLatentError(f"{what}: needs at least one sample and one feature, got shape {array.shape}")
    bad = np.isinf(array) if allow_nan else ~np.isfinite(array)
    if bad.any():
        if np.isfinite(np.asarray(values, dtype=np.float64)[bad]).all():
            raise SharedLatentError(
                f"{what}: {int(bad.sum())} values lie beyond {np.dtype(dtype).name}'s range "
                f"(largest allowed {np.finfo(dtype).max:.3g}); rescale them first"
            )
        kind = "infinite" if allow_nan else "NaN or infinite"
        raise SharedLatentError(f"{what}: contains {int(bad.sum())} {kind} values")
    return array


def _not_numeric(values: Any) -> str:
    """Why `values` do not convert to numbers: missing entries (None, pandas' NA), which a nullable DataFrame
    holds, or some other non-number."""
    try:
        cells = np.asarray(values, dtype=object).ravel()
    except (TypeError, ValueError):
        return "values are not numeric"
    missing = sum(1 for cell in cells if cell is None or type(cell).__name__ in ("NAType", "NaTType"))
    if missing:
        return f"{missing} values are missing (None or pandas NA), which are not numbers; fill or drop them"
    return "values are not numeric"


def checked_input_sizes(input_sizes: Any) -> dict[str, int]:
    """`input_sizes` as {domain name: feature count}, or a one-line error: a mapping of whole counts of at least 1."""
    if not isinstance(input_sizes, Mapping) or not input_sizes:
        raise SharedLatentError(
            f"input_sizes must map each domain name to its feature count, e.g. {{'rna': 2000, 'protein': 30}}; "
            f"got {type(input_sizes).__name__}"
        )
    sizes = {}
    for name, size in input_sizes.items():
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise SharedLatentError(f"domain {name!r} needs a whole number of features of at least 1, got {size!r}")
        sizes[str(name)] = int(size)
    return sizes
