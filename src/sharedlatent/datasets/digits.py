"""The embedded default: scikit-learn's 8x8 handwritten digits (left) and their inverse 1 - x (right)."""

from __future__ import annotations

import numpy as np

from sharedlatent.datasets.base import ImageRenderer, PairedDataset, Split
from sharedlatent.datasets.splits import split_rows

TEST_FRACTION = 0.2
SPLIT_SEED = 0


def load_digits_pair(left: str = "left", right: str = "right") -> PairedDataset:
    """1,797 digits scaled to [0, 1] and their inverses, with a fixed stratified 80/20 split."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    regular = (bunch.data / 16.0).astype(np.float32)
    full = Split({left: regular, right: 1.0 - regular}, labels=bunch.target)
    train_rows, test_rows, _ = split_rows(full.n_samples, TEST_FRACTION, SPLIT_SEED, full.labels, round_up=True)
    train, test = full.subset(train_rows), full.subset(test_rows)
    image = ImageRenderer(8, 8)
    return PairedDataset(
        name="digits",
        train=train,
        test=test,
        renderers={left: image, right: image},
        feature_names={name: [f"pixel_{i // 8}_{i % 8}" for i in range(64)] for name in (left, right)},
        description="scikit-learn handwritten digits (8x8, no download): regular vs inverse",
    )
