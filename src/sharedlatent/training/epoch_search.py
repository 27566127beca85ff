"""How long to train when a validation hold-out would be too small to trust: the epoch count k-fold CV picks.

Early stopping on a hold-out of a handful of samples stops at noise (on 30 samples it kept near-initial
weights); training to the end without one overfits tiny data (Linnerud, 16 samples, ended far worse than the
mean). Each fold trains with its own hold-out, and the full data then trains for the epoch with the lowest
median validation loss over the folds, each fold's curve rescaled to count alike."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sharedlatent.datasets.base import Split
from sharedlatent.names import canonical
from sharedlatent.training import distributed
from sharedlatent.training.holdout import validation_size

CV_FOLDS = 5


@dataclass(frozen=True)
class EpochSearch:
    """The best epoch of each fold (1-based) and the epoch count chosen from their median curve."""

    per_fold: list[int]
    epochs: int
    seconds: float = 0.0  # spent on the fold fits, before the final one


def fold_rows(n_samples: int, seed: int, folds: int = CV_FOLDS) -> list[np.ndarray]:
    """A seeded partition of `n_samples` rows into `folds` held-out sets."""
    return np.array_split(np.random.default_rng(seed).permutation(n_samples), folds)


def search_epochs(
    n_samples: int, seed: int, validation_losses: Callable[[np.ndarray, np.ndarray], list[float]]
) -> EpochSearch:
    """Run `validation_losses(train_rows, held_out_rows)` per fold and choose the epoch where the folds' median
    validation loss is lowest. Each fold's curve counts alike: rescaled to run from 0 at its own best to 1 at its
    worst, and held at its last value after early stopping ended it.

    The median curve is steadier than any one fold's: on 16 samples the folds' own best epochs ranged from 1
    to 142. Raw losses averaged let one fold rule: a fold holding one outlier sample (a value of 1e6 in a table of
    300) had losses far above the others' and its best at epoch 1, and it stopped early, which also cut every
    other curve to its length; the average chose 1 epoch where three of five folds chose 217-300. A mean of
    rescaled curves still leans to such a fold, whose whole range lies in the epochs it ran; the median does not."""
    curves = []
    for held_out in fold_rows(n_samples, seed):
        curves.append(np.asarray(validation_losses(np.setdiff1d(np.arange(n_samples), held_out), np.sort(held_out))))
    longest = max(len(curve) for curve in curves)
    middle = np.median([_relative(_held_to(curve, longest)) for curve in curves], axis=0)
    return EpochSearch([int(np.argmin(curve)) + 1 for curve in curves], int(np.argmin(middle)) + 1)


def _held_to(curve: np.ndarray, length: int) -> np.ndarray:
    """`curve` extended to `length` epochs with its last value (the fold stopped: its loss no longer fell)."""
    return np.concatenate([curve, np.full(length - len(curve), curve[-1])]) if len(curve) < length else curve


def _relative(curve: np.ndarray) -> np.ndarray:
    """`curve` rescaled to 0 at its minimum and 1 at its maximum (all 0 when flat), whatever its loss scale; a
    non-finite loss (an overflow) counts as the worst."""
    curve = np.asarray(curve, dtype=np.float64)
    finite = np.isfinite(curve)
    if not finite.any():
        return np.ones_like(curve)
    low, high = float(curve[finite].min()), float(curve[finite].max())
    relative = (curve - low) / (high - low) if high > low else np.zeros_like(curve)
    return np.where(finite, relative, 1.0)


def needs_epoch_search(n_samples: int, settings: Any) -> bool:
    """Whether a fit of `n_samples` should search its epoch count: the joint schedule, a hold-out asked for but
    under 30 samples, and enough samples for the folds."""
    if settings.validation_fraction == 0 or validation_size(n_samples, settings.validation_fraction):
        return False
    if distributed.world_size() > 1:  # under torchrun every rank would have to run the same folds
        return False
    return canonical(settings.schedule) == "joint" and n_samples >= 2 * CV_FOLDS


def search_epochs_on(
    arrays: dict[str, np.ndarray],
    present: dict[str, np.ndarray] | None,
    seed: int,
    fold_losses: Callable[[Split, Split], list[float]],
    batches: np.ndarray | None = None,
    covariates: np.ndarray | None = None,
) -> EpochSearch:
    """`search_epochs` over the rows of `arrays` (with presence masks, batch labels and continuous covariates),
    each fold given as two Splits."""

    def rows(index: np.ndarray) -> Split:
        masks = None if present is None else {name: mask[index] for name, mask in present.items()}
        labels = None if batches is None else batches[index]
        numbers = None if covariates is None else covariates[index]
        domains = {name: values[index] for name, values in arrays.items()}
        return Split(domains, present=masks, batches=labels, covariates=numbers)

    n_samples = len(next(iter(arrays.values())))
    started = time.perf_counter()
    search = search_epochs(n_samples, seed, lambda kept, held_out: fold_losses(rows(kept), rows(held_out)))
    return dataclasses.replace(search, seconds=time.perf_counter() - started)
