"""Linnerud: a real two-view dataset that ships inside scikit-learn, so it needs no download.

Twenty middle-aged men in a fitness club, each measured twice over: exercise (Chins, Situps, Jumps) and
physiology (Weight in lb, Waist in inches, Pulse in beats/min). Source: Tenenhaus, M. (1998), La regression PLS:
theorie et pratique, Paris: Editions Technic, after A. C. Linnerud (NC State University); distributed in
scikit-learn's `sklearn/datasets/data/linnerud_*.csv` under scikit-learn's BSD-3-Clause licence.
Values stay in their original units: pick a preprocessing such as "minmax_per_feature" for a sigmoid decoder.
"""

from __future__ import annotations

import numpy as np

from sharedlatent.datasets.base import PairedDataset, Split
from sharedlatent.datasets.options import as_float, as_int
from sharedlatent.datasets.splits import split_rows


def load_linnerud_pair(
    left: str = "exercise", right: str = "physiological", test_fraction: float | str = 0.2, seed: int | str = 0
) -> PairedDataset:
    """The 20 Linnerud samples: exercise (left) vs physiological (right), a seeded random 16 / 4 split by default."""
    from sklearn.datasets import load_linnerud

    bunch = load_linnerud()
    test_fraction = as_float(test_fraction, "test_fraction", 0.0, 1.0)
    seed = as_int(seed, "seed")
    ids = np.array([f"man_{i:02d}" for i in range(bunch.data.shape[0])])
    full = Split({left: bunch.data, right: bunch.target}, sample_ids=ids)
    train_rows, test_rows, how = split_rows(full.n_samples, test_fraction, seed)
    return PairedDataset(
        name="linnerud",
        train=full.subset(train_rows),
        test=full.subset(test_rows),
        feature_names={left: list(bunch.feature_names), right: list(bunch.target_names)},
        description=f"Linnerud fitness data (scikit-learn, 20 men, original units): exercise vs physiology; {how}",
        domain_settings={name: {"likelihood": "gaussian", "preprocessing": "standardize"} for name in (left, right)},
    )
