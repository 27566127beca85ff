"""Quality after real training on the digits test split, with fixed seeds (numbers measured on 2 CPU cores)."""

import numpy as np
import pytest

from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import RunConfig, original_config

# The Keras prototype, left->right, 50 epochs per phase (benchmarks/prototype_speed.py: 0.0177 on seed 0; its seeds
# spread by about +-6% at 60 epochs, this package's by more, and CPUs round differently)
ORIGINAL_50_EPOCH_MSE = 0.018
REPRODUCTION_TOLERANCE = 0.3


def errors(model, dataset):
    test, train = dataset.test.domains, dataset.train.domains
    mse = lambda a, b: float(np.mean((a - b) ** 2))  # noqa: E731
    return {
        "left->right": mse(model.translate(test["left"], "left", "right"), test["right"]),
        "right->left": mse(model.translate(test["right"], "right", "left"), test["left"]),
        "left": mse(model.reconstruct(test["left"], "left"), test["left"]),
        "right": mse(model.reconstruct(test["right"], "right"), test["right"]),
        "mean:left": mse(train["left"].mean(0), test["left"]),
        "mean:right": mse(train["right"].mean(0), test["right"]),
    }


@pytest.mark.slow
def test_seed_schedule_reproduces_the_original(digits):
    model = SharedLatentVAE(digits.input_sizes, original_config(epochs=50, progress=False))
    model.fit(digits.train.domains)
    result = errors(model, digits)
    assert abs(result["left->right"] - ORIGINAL_50_EPOCH_MSE) <= REPRODUCTION_TOLERANCE * ORIGINAL_50_EPOCH_MSE, result


@pytest.mark.slow
def test_default_training_beats_the_original(digits):
    config = RunConfig()
    config.train.progress = False
    model = SharedLatentVAE(digits.input_sizes, config)
    model.fit(digits.train.domains)
    result = errors(model, digits)
    for source, target in (("left", "right"), ("right", "left")):
        translation = result[f"{source}->{target}"]
        assert translation <= 0.25 * result[f"mean:{target}"], result
        assert translation <= 1.2 * result[target], result
    assert result["left->right"] < ORIGINAL_50_EPOCH_MSE, result
