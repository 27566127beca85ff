"""Count domains at prediction time: warn when their input is not raw counts, and the per-cell library sizes a
user may give for a count target (numpy only).

A count likelihood with library "observed" decodes a cross-domain translation at a total predicted per cell from
the latent (library_prediction.py; before 0.7.0 and in streamed fits, the training mean, one constant);
`library_size` replaces it per cell, library "learned" predicts it inside the network."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from sharedlatent.auto_settings import count_likelihood_warning
from sharedlatent.errors import SharedLatentError
from sharedlatent.names import COUNT_LIKELIHOODS


class CountInputWarning(UserWarning):
    """A count domain was given values that are not raw counts."""


CHECKED_ROWS = 2000  # rows a prediction's raw-count check reads (the check at fit reads every row)


def warn_unless_counts(likelihoods: Mapping[str, str], inputs: Mapping[str, Any]) -> None:
    """A UserWarning per count domain whose input holds values other than non-negative integers
    (log-normalised X given to a model trained on the counts layer, for example)."""
    for name, values in inputs.items():
        likelihood = likelihoods.get(name)
        if likelihood not in COUNT_LIKELIHOODS or hasattr(values, "tocsr"):
            continue
        array = values.detach().cpu().numpy() if hasattr(values, "detach") else np.asarray(values)
        message = count_likelihood_warning(array[:CHECKED_ROWS], name, likelihood)
        if message:
            warnings.warn(f"{message}; did you pass X instead of the counts layer?", CountInputWarning, stacklevel=4)


def library_column(library_size: Any, n_samples: int, target: str, likelihood: str, mode: str | None) -> np.ndarray:
    """`library_size` (one number or one per sample, in the target's raw counts) as a float32 column, checked."""
    if likelihood not in COUNT_LIKELIHOODS:
        raise SharedLatentError(f"library_size applies to count targets; {target!r} has likelihood {likelihood!r}")
    if mode != "observed":
        raise SharedLatentError(f"{target!r} learns its library size (library = {mode!r}); drop library_size")
    values = np.asarray(library_size, dtype=np.float32).reshape(-1)
    if values.size == 1:
        values = np.full(n_samples, values[0], dtype=np.float32)
    if values.size != n_samples:
        raise SharedLatentError(
            f"library_size must be one positive number or {n_samples} of them (one per sample), got {values.size}"
        )
    bad = values[~(np.isfinite(values) & (values > 0))]
    if bad.size:
        raise SharedLatentError(
            f"library_size must be positive and finite; {bad.size} of {n_samples} are not (the first is {bad[0]:g})"
        )
    return values[:, None]
