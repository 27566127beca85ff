"""An exponential moving average of a module's weights over training steps (Polyak averaging).

A small model's last-step weights carry the noise of its last mini-batches; their average over the last epochs'
steps carries less. Where train.ema_decay is not 0 the validation loss is the average's, early stopping keeps the
best average, and a stage without a validation split ends with the last average, while the optimiser goes on
stepping the raw weights (training/loop.py). On digits this lowered the translation error at the budgets of 180
epochs and more that were tried (benchmarks/README.md, "Weight averaging"); at 25 epochs it was about even
(README.md, "Numbers on digits")."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch

from sharedlatent.errors import SharedLatentError
from sharedlatent.plain_values import is_count
from sharedlatent.training.checkpoint import check_tensors

WARMUP_STEPS = 10  # step t averages with decay min(decay, (1 + t) / (WARMUP_STEPS + t)): early weights fade fast
AUTO_HORIZON_EPOCHS = 2  # unset train.ema_decay: average over about this many epochs' steps ...
AUTO_MAX_DECAY = 0.995  # ... and at most about 1 / (1 - this) = 200 steps


def averaging_decay(setting: float | None, steps_per_epoch: int) -> float:
    """train.ema_decay, or (unset) the decay whose average spans about AUTO_HORIZON_EPOCHS epochs, capped at
    AUTO_MAX_DECAY: on a few hundred rows (a few steps per epoch) a 200-step average would lag tens of epochs
    behind the weights it validates."""
    if setting is not None:
        return setting
    return min(AUTO_MAX_DECAY, 1 - 1 / (AUTO_HORIZON_EPOCHS * max(steps_per_epoch, 1)))


class WeightAverage:
    """The running average of `module`'s parameters, updated after every optimiser step with `decay` (per step)."""

    def __init__(self, module: torch.nn.Module, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"the averaging decay must be in (0, 1), got {decay}")
        self.decay = decay
        named = list(module.named_parameters())
        self.names = [name for name, _ in named]
        self.parameters = [parameter for _, parameter in named]
        with torch.no_grad():
            self.averages = [parameter.detach().clone() for parameter in self.parameters]
        self.steps = 0

    @torch.no_grad()
    def update(self) -> None:
        """Move the average towards the parameters as they are after this step."""
        decay = min(self.decay, (1 + self.steps) / (WARMUP_STEPS + self.steps))
        if self.parameters:  # torch's list operations refuse empty lists
            torch._foreach_lerp_(self.averages, self.parameters, 1 - decay)
        self.steps += 1

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Run a block with the averaged weights in the module, then put the trained ones back."""
        with torch.no_grad():
            trained = [parameter.detach().clone() for parameter in self.parameters]
            _copy(self.parameters, self.averages)
        try:
            yield
        finally:
            with torch.no_grad():
                _copy(self.parameters, trained)

    @torch.no_grad()
    def apply(self) -> None:
        """Put the averaged weights into the module for good (the end of a stage that keeps no best weights)."""
        _copy(self.parameters, self.averages)

    def state_dict(self) -> dict[str, Any]:
        """The decay, the step count and the averages by parameter name (a checkpoint's part)."""
        averages = {name: average.clone() for name, average in zip(self.names, self.averages, strict=True)}
        return {"decay": self.decay, "steps": self.steps, "averages": averages}

    def load_state_dict(self, saved: Any) -> None:
        """Take a saved average; a checkpoint is data, so anything but this module's parameters (names, shapes,
        dtypes, finite) at this average's decay is refused."""
        steps = saved.get("steps") if isinstance(saved, Mapping) else None
        averages = saved.get("averages") if isinstance(saved, Mapping) else None
        if not is_count(steps) or not isinstance(averages, Mapping):
            raise SharedLatentError("its weight average is not a step count and one tensor per parameter")
        if saved.get("decay") != self.decay:  # an unset train.ema_decay whose rule changed since the save
            raise SharedLatentError(
                f"its weight average has decay {saved.get('decay')!r}, this fit's is {self.decay:g}; pass --overwrite "
                "instead of --resume to start over"
            )
        check_tensors(averages, dict(zip(self.names, self.averages, strict=True)), "weight average")
        with torch.no_grad():
            _copy(
                self.averages,
                [averages[name].to(kept.device) for name, kept in zip(self.names, self.averages, strict=True)],
            )
        self.steps = steps


def _copy(targets: list[torch.Tensor], sources: list[torch.Tensor]) -> None:
    """Copy each source into its target, in one call (none for empty lists, which torch refuses)."""
    if targets:
        torch._foreach_copy_(targets, sources)
