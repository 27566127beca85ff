"""Shared fixtures: the embedded digits dataset and small, fast configs."""

from __future__ import annotations

import pytest

from sharedlatent.config import ModelConfig, RunConfig, TrainConfig
from sharedlatent.datasets import load_dataset


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits")


def small_config(**train) -> RunConfig:
    """A narrow model and a few epochs: enough to see learning, fast enough for unit tests."""
    settings = dict(epochs=3, batch_size=64, progress=False, validation_fraction=0.1)
    settings.update(train)
    return RunConfig(
        model=ModelConfig(private_widths=[32, 16], shared_widths=[16], latent_size=4), train=TrainConfig(**settings)
    )
