"""A dataset of your own: noisy sine waves (left) and their squares (right), labelled by phase half."""

import numpy as np

from sharedlatent.datasets import PairedDataset, ProfileRenderer, Split


def load_waves(n: int | str = 600, seed: int | str = 0) -> PairedDataset:
    """`n` paired samples of 32 points; options arrive as strings from the CLI, so convert them."""
    rng = np.random.default_rng(int(seed))
    phase = rng.uniform(0, 2 * np.pi, size=(int(n), 1))
    wave = 0.5 + 0.45 * np.sin(np.linspace(0, 2 * np.pi, 32) + phase) + rng.normal(0, 0.02, (int(n), 32))
    left, right = wave.clip(0, 1), wave.clip(0, 1) ** 2
    labels = (phase[:, 0] > np.pi).astype(int)
    cut = int(0.8 * int(n))
    return PairedDataset(
        name="waves",
        train=Split({"left": left[:cut], "right": right[:cut]}, labels=labels[:cut]),
        test=Split({"left": left[cut:], "right": right[cut:]}, labels=labels[cut:]),
        renderers={"left": ProfileRenderer(), "right": ProfileRenderer()},
        description="sine waves vs their squares",
    )
