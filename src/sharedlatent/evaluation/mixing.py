"""Batch mixing in a latent space: how evenly each sample's nearest neighbours spread over the batches."""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

from sharedlatent.errors import SharedLatentError
from sharedlatent.evaluation.checks import label_vector, matrix

MIXING_NEIGHBOURS = 30
MIXING_DEFINITION = (
    "mean over samples of the entropy of batch labels among each one's k nearest neighbours in the joint latent "
    "(itself left out), over log(number of batches): 1 is perfect mixing, 0 neighbours from one batch only"
)


def batch_mixing_entropy(latent: np.ndarray, batches: np.ndarray, k: int = MIXING_NEIGHBOURS) -> float:
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


def mixing_entry(latent: np.ndarray, batches: np.ndarray, generated_batch: str | None = None) -> dict[str, object]:
    """metrics.json's batch_mixing: the entropy (None with under two batches or samples), k, the batch count, the
    definition in one line, and the batch generated samples were decoded as."""
    present = len(np.unique(np.asarray(batches).astype(str)))
    entropy = batch_mixing_entropy(latent, batches) if present > 1 and len(latent) > 1 else None
    entry: dict[str, object] = {"entropy": entropy, "k": min(MIXING_NEIGHBOURS, max(len(latent) - 1, 0))}
    entry |= {"batches": present, "definition": MIXING_DEFINITION, "generated_as_batch": generated_batch}
    return entry


def covariate_correlation(latent: np.ndarray, values: np.ndarray) -> float:
    """How well the latent predicts a continuous covariate: the Pearson r of its least-squares fit on the latent
    (the multiple correlation; 0 means the latent holds none of it linearly)."""
    latent = matrix(latent, "latent")
    values = np.asarray(values, dtype=float).ravel()
    if len(values) != len(latent):
        raise SharedLatentError(f"{len(values)} covariate values for {len(latent)} latent points")
    design = np.column_stack([latent, np.ones(len(latent))])
    coefficients, *_ = np.linalg.lstsq(design, values, rcond=None)
    return float(np.corrcoef(design @ coefficients, values)[0, 1])
