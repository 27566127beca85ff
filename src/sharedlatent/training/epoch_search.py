"""How long to train when a validation hold-out would be too small to trust: the epoch count k-fold CV picks.

Early stopping on a hold-out of a handful of samples stops at noise (on 30 samples it kept near-initial
weights); training to the end without one overfits tiny data (Linnerud, 16 samples, ended far worse than the
mean). Each fold trains with its own hold-out, and the full data then trains for the median best epoch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

CV_FOLDS = 5


@dataclass(frozen=True)
class EpochSearch:
    """The best epoch of each fold (1-based) and the epoch count chosen from them."""

    per_fold: list[int]
    epochs: int


def fold_rows(n_samples: int, seed: int, folds: int = CV_FOLDS) -> list[np.ndarray]:
    """A seeded partition of `n_samples` rows into `folds` held-out sets."""
    return np.array_split(np.random.default_rng(seed).permutation(n_samples), folds)


def search_epochs(
    n_samples: int, seed: int, validation_losses: Callable[[np.ndarray, np.ndarray], list[float]]
) -> EpochSearch:
    """Run `validation_losses(train_rows, held_out_rows)` per fold; choose the median of the folds' best epochs."""
    best = []
    for held_out in fold_rows(n_samples, seed):
        losses = validation_losses(np.setdiff1d(np.arange(n_samples), held_out), np.sort(held_out))
        best.append(int(np.argmin(losses)) + 1)
    return EpochSearch(best, int(np.median(best)))
