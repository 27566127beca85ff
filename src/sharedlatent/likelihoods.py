"""Likelihoods: how a decoder's output is turned into a reconstruction and a loss, one class each."""

from __future__ import annotations

import torch
from torch import nn

from sharedlatent.errors import SharedLatentError


class SigmoidSquaredError:
    """The original's choice: sigmoid outputs in [0, 1] scored by squared error."""

    name = "sigmoid_mse"
    bounded_unit_interval = True  # inputs live in [0, 1], so noisy inputs are clipped there

    def parameter_count(self, features: int) -> int:
        return features

    def output_activation(self) -> nn.Module:
        return nn.Sigmoid()

    def loss(self, target: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """Per-sample loss: squared error summed over features."""
        return (output - target).square().sum(dim=1)

    def mean(self, output: torch.Tensor) -> torch.Tensor:
        """The point reconstruction."""
        return output


LIKELIHOODS = {"sigmoid_mse": SigmoidSquaredError}


def make_likelihood(name: str):
    if name not in LIKELIHOODS:
        raise SharedLatentError(f"unknown likelihood {name!r}; choose one of {', '.join(LIKELIHOODS)}")
    return LIKELIHOODS[name]()
