"""Input checks shared by the metric functions: every array becomes a finite float64 matrix or a user error."""

from __future__ import annotations

import numpy as np

from sharedlatent.arrays import as_matrix
from sharedlatent.errors import SharedLatentError


def matrix(values: np.ndarray, what: str) -> np.ndarray:
    """`values` as a finite 2-D float64 matrix with at least one sample and one feature."""
    return as_matrix(values, what, dtype=np.float64, allow_empty=False)


def matching_pair(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> tuple[np.ndarray, np.ndarray]:
    """Two matrices of the same shape (truth and prediction, or two domains' encodings), as float64."""
    a_matrix, b_matrix = matrix(a, name_a), matrix(b, name_b)
    if a_matrix.shape != b_matrix.shape:
        raise SharedLatentError(
            f"{name_a} has shape {a_matrix.shape} but {name_b} has shape {b_matrix.shape}; they must match."
        )
    return a_matrix, b_matrix


def label_vector(labels: np.ndarray, what: str, n_samples: int) -> np.ndarray:
    """`labels` as a 1-D array of `n_samples` entries."""
    vector = np.asarray(labels)
    if vector.ndim != 1 or vector.shape[0] != n_samples:
        raise SharedLatentError(f"{what} must be a 1-D array of {n_samples} labels, got shape {vector.shape}.")
    return vector
