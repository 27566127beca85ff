"""The validation hold-out: a seeded random share of the training samples, with their presence masks."""

from __future__ import annotations

import numpy as np

from sharedlatent.errors import SharedLatentError

Arrays = dict[str, np.ndarray]
PresenceMasks = dict[str, np.ndarray]  # domain -> boolean per sample
Part = tuple[Arrays, PresenceMasks | None]


# A validation loss from fewer samples is noise: early stopping on it kept near-initial weights on a 30-sample
# task (the model ended as the mean predictor); with no hold-out, early stopping watches the training loss.
MIN_VALIDATION_SAMPLES = 30


def validation_size(n_samples: int, fraction: float) -> int:
    """How many of `n_samples` the hold-out takes: `fraction` of them, or none when that is under 30 samples."""
    held = int(round(n_samples * fraction)) if fraction > 0 else 0
    return held if held >= MIN_VALIDATION_SAMPLES else 0


def hold_out_rows(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (kept, held out) sample indices: a seeded `fraction` of `n` samples (at least one) held out."""
    order = np.random.default_rng(seed).permutation(n)
    held = max(1, int(round(n * fraction)))
    if held >= n:
        raise SharedLatentError(f"validation_fraction {fraction} leaves no training samples out of {n}")
    return np.sort(order[held:]), np.sort(order[:held])


def part_rows(arrays: Arrays, present: PresenceMasks | None, rows: np.ndarray) -> Part:
    """The samples at `rows` of every domain, with their presence masks."""
    masks = None if present is None else {name: mask[rows] for name, mask in present.items()}
    return {name: values[rows] for name, values in arrays.items()}, masks
