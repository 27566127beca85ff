"""Simulated cells with a known batch effect: cell types shared across two batches, batch "b" shifted per feature
(or every feature moved linearly by a continuous covariate).

Used by the batch-covariate test and benchmarks/batch_mixing.py, where a model should remove the batch from its
latent while keeping the cell types apart. Nothing here is real data."""

from __future__ import annotations

import numpy as np


def shifted_batches(n: int = 600, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Domains "rna" (30 features) and "protein" (10) from 3 cell types; returns (arrays, types, batch labels).

    Each type has a centre per domain; batch "b" adds a per-feature offset (std 2.5, larger than the type
    differences' 1.5) to both domains; noise std 0.5."""
    rng = np.random.default_rng(seed)
    types, batches = rng.integers(0, 3, n), rng.integers(0, 2, n)
    arrays = {}
    for name, width in (("rna", 30), ("protein", 10)):
        centres, offset = rng.normal(0, 1.5, (3, width)), rng.normal(0, 2.5, width)
        arrays[name] = (centres[types] + batches[:, None] * offset + rng.normal(0, 0.5, (n, width))).astype(np.float32)
    return arrays, types, np.where(batches == 1, "b", "a")


def covariate_shift(n: int = 600, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Domains "rna" (30 features) and "protein" (10) from 3 cell types plus a continuous covariate (N(0, 1), e.g.
    a centred percent of mitochondrial reads); returns (arrays, types, covariate).

    Each feature moves linearly with the covariate (a per-feature slope, std 2.0, larger than the type
    differences' 1.5); noise std 0.5."""
    rng = np.random.default_rng(seed)
    types, covariate = rng.integers(0, 3, n), rng.standard_normal(n)
    arrays = {}
    for name, width in (("rna", 30), ("protein", 10)):
        centres, slope = rng.normal(0, 1.5, (3, width)), rng.normal(0, 2.0, width)
        arrays[name] = (centres[types] + covariate[:, None] * slope + rng.normal(0, 0.5, (n, width))).astype(np.float32)
    return arrays, types, covariate.astype(np.float32)
