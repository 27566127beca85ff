"""Partially paired input from a user: arrays per domain where a sample may lack some domains.

A sample is absent from a domain when its row there is all NaN, when `present[domain]` says False, or when a
Split's own masks say so. `check_partial` turns any of these into arrays with absent rows zeroed plus boolean
presence masks (None when every sample has every domain)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sharedlatent.arrays import as_matrix
from sharedlatent.datasets.base import Split
from sharedlatent.errors import SharedLatentError

PresenceMasks = dict[str, np.ndarray]  # domain -> boolean per sample


def check_partial(
    inputs: Mapping[str, Any] | Split,
    what: str,
    input_sizes: Mapping[str, int],
    *,
    present: Mapping[str, Any] | None = None,
    allow_subset: bool = False,
) -> tuple[dict[str, np.ndarray], PresenceMasks | None]:
    """Validated float32 arrays with absent rows zeroed, and presence masks (None when nothing is absent).

    `input_sizes` names the known domains and their widths; `allow_subset` accepts inputs lacking some domains."""
    inputs, present = _unwrap(inputs, present, what)
    arrays, masks = {}, {}
    for name, values in inputs.items():
        if name not in input_sizes:
            raise SharedLatentError(f"unknown domain {name!r}; this model has {', '.join(input_sizes)}")
        arrays[name], masks[name] = _rows_with_nan(values, f"{what} for domain {name!r}", input_sizes[name])
    missing_domains = [name for name in input_sizes if name not in arrays]
    if missing_domains and not allow_subset:
        raise SharedLatentError(f"{what} lacks domains {missing_domains}")
    counts = {name: values.shape[0] for name, values in arrays.items()}
    if len(set(counts.values())) > 1:
        raise SharedLatentError(f"{what}: domains have different sample counts {counts}")
    _apply_present(arrays, masks, present or {}, what)
    nowhere = ~np.any(np.stack(list(masks.values())), axis=0)
    if nowhere.any():
        raise SharedLatentError(
            f"{what}: {int(nowhere.sum())} samples are absent from every domain (e.g. row {int(np.argmax(nowhere))})"
        )
    return arrays, None if all(mask.all() for mask in masks.values()) else masks


def _unwrap(
    inputs: Mapping[str, Any] | Split, present: Mapping[str, Any] | None, what: str
) -> tuple[Mapping[str, Any], Mapping[str, Any] | None]:
    """The arrays and presence masks of a Split or a mapping; masks may come from one place only."""
    if isinstance(inputs, Split):
        if present is not None and inputs.present is not None:
            raise SharedLatentError(f"{what}: give presence masks either in the Split or as present=, not both")
        inputs, present = inputs.domains, present if present is not None else inputs.present
    if not isinstance(inputs, Mapping) or not inputs:
        raise SharedLatentError(f"{what} must be a non-empty mapping of domain name to array")
    return inputs, present


def _rows_with_nan(values: Any, what: str, features: int) -> tuple[np.ndarray, np.ndarray]:
    """One domain's array with all-NaN rows zeroed, and which rows are present; rows mixing NaN and numbers fail."""
    array = as_matrix(values, what, features=features, allow_nan=True, promote_vector=True)
    nan = np.isnan(array)
    missing = nan.all(axis=1)
    if nan[~missing].any():
        rows = int(nan[~missing].any(axis=1).sum())
        raise SharedLatentError(
            f"{what}: {rows} rows mix NaN with numbers; missing values inside a sample are not supported: a row must be "
            "all numbers, or all NaN for a sample absent from that domain"
        )
    return np.where(missing[:, None], np.float32(0), array), ~missing


def _apply_present(arrays: dict[str, np.ndarray], masks: PresenceMasks, present: Mapping[str, Any], what: str) -> None:
    """And the user's boolean masks into `masks`, zeroing the rows they mark absent."""
    n = next(iter(arrays.values())).shape[0]
    for name, given in present.items():
        if name not in arrays:
            raise SharedLatentError(f"{what}: present names domain {name!r}, which the data does not have")
        mask = np.asarray(given.detach().cpu().numpy() if hasattr(given, "detach") else given)
        if mask.shape != (n,) or mask.dtype != bool:
            raise SharedLatentError(
                f"{what}: present[{name!r}] must be a boolean array of {n} entries, got {mask.dtype} of shape {mask.shape}"
            )
        masks[name] = masks[name] & mask
        arrays[name][~mask] = 0.0
