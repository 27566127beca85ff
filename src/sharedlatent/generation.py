"""Latent points to decode into new paired samples: uniform in the training encodings' box, or from the prior."""

from __future__ import annotations

import numpy as np

from sharedlatent import names
from sharedlatent.config import SEED_RANGE
from sharedlatent.errors import SharedLatentError


def latent_points(
    n: int, method: str, seed: int, latent_size: int, latent_box: tuple[np.ndarray, np.ndarray] | None
) -> np.ndarray:
    """`n` float32 points: "box" draws uniformly inside `latent_box` (the per-dimension min/max of the training
    encodings, as the original did), "prior" draws from N(0, I)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise SharedLatentError(f"the number of samples to generate must be a whole number of at least 1, got {n!r}")
    if method not in names.GENERATION_METHODS:
        raise SharedLatentError(
            f"unknown generation method {method!r}; choose one of {', '.join(names.GENERATION_METHODS)}"
        )
    low, high = SEED_RANGE["min"], SEED_RANGE["max"]
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not low <= seed <= high:
        raise SharedLatentError(f"the generation seed must be a whole number from {low} to {high}, got {seed!r}")
    rng = np.random.default_rng(seed)
    if method == "prior":
        return rng.standard_normal((n, latent_size)).astype(np.float32)
    if latent_box is None:
        raise SharedLatentError("generate(method='box') needs a trained model (the latent box comes from fit)")
    low, high = latent_box
    return rng.uniform(low, high, size=(n, len(low))).astype(np.float32)
