"""Batch mixing in a latent space: how evenly each sample's nearest neighbours spread over the batches."""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

from sharedlatent.errors import SharedLatentError
from sharedlatent.evaluation.checks import label_vector, matrix


def batch_mixing_entropy(latent: np.ndarray, batches: np.ndarray, k: int = 30) -> float:
    """Mean over samples of the entropy of batch labels among each one's `k` nearest neighbours (itself left
    out), divided by log(number of batches): 1 is perfect mixing, 0 neighbours from one batch only."""
    latent = matrix(latent, "latent")
    batches = label_vector(batches, "batch labels", len(latent))
    categories, codes = np.unique(batches, return_inverse=True)
    if len(categories) < 2:
        raise SharedLatentError("batch mixing needs at least two batches")
    k = min(k, len(latent) - 1)
    if k < 1:
        raise SharedLatentError("batch mixing needs at least two samples")
    _, neighbours = NearestNeighbors(n_neighbors=k + 1).fit(latent).kneighbors(latent)
    counts = np.stack([np.bincount(row, minlength=len(categories)) for row in codes[neighbours[:, 1:]]])
    shares = counts / k
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.where(shares > 0, shares * np.log(shares), 0.0).sum(axis=1)
    return float(entropy.mean() / np.log(len(categories)))
