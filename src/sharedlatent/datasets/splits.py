"""Train/test rows for loaders without an official split: stratified by label when possible, else seeded random."""

from __future__ import annotations

import math

import numpy as np

from sharedlatent.datasets.base import PairedDataset, Split
from sharedlatent.datasets.options import as_float, as_int
from sharedlatent.errors import SharedLatentError


def split_rows(
    n_samples: int,
    test_fraction: float,
    seed: int,
    labels: np.ndarray | None = None,
    *,
    round_up: bool = False,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Sorted train and test row indices plus a few words saying how they were chosen.

    The test split takes `test_fraction` of the samples, rounded to the nearest count (up with `round_up`, as
    scikit-learn rounds, which the digits split was made with)."""
    from sklearn.model_selection import train_test_split

    n_test = math.ceil(n_samples * test_fraction) if round_up else int(round(n_samples * test_fraction))
    if n_test < 1 or n_samples - n_test < 1:
        raise SharedLatentError(
            f"cannot split {n_samples} samples with test fraction {test_fraction}: both train and test need at least one sample"
        )
    rows = np.arange(n_samples)
    how = f"seeded random split (seed {seed}, test fraction {test_fraction})"
    stratify = None
    if labels is not None:
        _, counts = np.unique(np.asarray(labels).astype(str), return_counts=True)
        # stratifying needs two samples per class and at least one test sample per class
        if counts.min() >= 2 and n_test >= counts.size and n_samples - n_test >= counts.size:
            stratify = labels
            how = f"split stratified by label (seed {seed}, test fraction {test_fraction})"
        else:
            how += "; not stratified because some label has fewer than two samples or there are too many labels"
    train_rows, test_rows = train_test_split(rows, test_size=n_test, random_state=seed, stratify=stratify)
    return np.sort(train_rows), np.sort(test_rows), how


def split_samples(full: Split, test_fraction: float, seed: int) -> tuple[Split, Split, str]:
    """Train and test Splits of `full` plus how they were chosen; the test samples are drawn from the paired ones
    only (stratified by label when possible), so the test split is fully paired and every unpaired sample trains."""
    paired = full.paired_rows()
    labels = None if full.labels is None else full.labels[paired]
    train_paired, test_paired, how = split_rows(paired.size, test_fraction, seed, labels)
    test_rows = paired[test_paired]
    train_rows = np.setdiff1d(np.arange(full.n_samples), test_rows)
    if paired.size < full.n_samples:
        how = f"{how}; test drawn from the {paired.size} paired samples, the {full.n_samples - paired.size} unpaired ones all train"
    return full.subset(train_rows), full.subset(test_rows), how


def split_into_dataset(
    name: str,
    full: Split,
    feature_names: dict[str, list[str]],
    description: str,
    test_fraction: float | str,
    seed: int | str,
) -> PairedDataset:
    """`full` split by `split_samples` and wrapped as a PairedDataset described as "{description}; {how it was split}".

    test_fraction 0 trains on every sample (a final model) and leaves the test split empty."""
    seed = as_int(seed, "seed")
    fraction = as_float(test_fraction, "test_fraction")
    if fraction is not None and not 0.0 <= fraction < 1.0:
        raise SharedLatentError(
            f"option 'test_fraction' must be 0 (no test split) or lie strictly between 0 and 1, got {fraction:g}"
        )
    if fraction == 0.0:
        train, test, how = (
            full,
            full.subset(np.zeros(0, dtype=int)),
            "no test split (test_fraction 0): every sample trains",
        )
    else:
        test_fraction = as_float(test_fraction, "test_fraction", 0.0, 1.0)
        train, test, how = split_samples(full, test_fraction, seed)
    return PairedDataset(
        name=name, train=train, test=test, feature_names=feature_names, description=f"{description}; {how}"
    )
