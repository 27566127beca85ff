"""How many latent dimensions a model uses: KL to the prior per dimension, averaged over samples (numpy only)."""

from __future__ import annotations

import numpy as np

ACTIVE_THRESHOLD = 0.01  # nats: a dimension whose average KL is below this carries (almost) no information


def gaussian_kl_per_dimension(mean: np.ndarray, log_sigma: np.ndarray) -> np.ndarray:
    """KL(N(mean, sigma^2) || N(0, 1)) per sample and dimension, for diagonal Gaussian encodings."""
    mean, log_sigma = np.asarray(mean, dtype=float), np.asarray(log_sigma, dtype=float)
    return 0.5 * (mean**2 + np.exp(2 * log_sigma) - 1.0) - log_sigma


def active_latent_dimensions(kl_per_dimension: np.ndarray, threshold: float = ACTIVE_THRESHOLD) -> int:
    """Dimensions whose KL (samples x dimensions, or already averaged per dimension) averages above `threshold`."""
    kl = np.asarray(kl_per_dimension, dtype=float)
    average = kl.mean(axis=0) if kl.ndim == 2 else kl
    return int((average > threshold).sum())
