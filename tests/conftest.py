"""Shared fixtures: the embedded digits dataset and small, fast configs."""

from __future__ import annotations

import subprocess
import sys

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


def modules_imported_after(code: str, modules: tuple[str, ...]) -> list[str]:
    """Which of `modules` (e.g. "sklearn", "torch._dynamo") a fresh interpreter has imported after running `code`."""
    script = f"{code}\nimport sys\nprint(','.join(m for m in {modules!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return [name for name in result.stdout.strip().split(",") if name]
