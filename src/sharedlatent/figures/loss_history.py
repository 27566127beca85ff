"""A training history's losses as the loss figure reads them, without matplotlib or torch: the trainer builds them
before drawing, and the evaluation worker (runs/evaluation_worker.py) receives them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class EpochLosses(Protocol):
    """One epoch of one stage and phase, as training.loop.EpochRecord holds it."""

    stage: int
    phase: str
    epoch: int
    train_loss: float
    validation_loss: float | None


class LossHistory(Protocol):
    """What the figure reads of a training history (training.loop.History), without importing the loop and torch."""

    records: Sequence[EpochLosses]
    stopped_early: Sequence[str]
    seconds: float


@dataclass(frozen=True)
class EpochLoss:
    """One epoch's losses as plain values (EpochLosses without the loss terms)."""

    stage: int
    phase: str
    epoch: int
    train_loss: float
    validation_loss: float | None


@dataclass(frozen=True)
class LossCurves:
    """A training history's losses as plain values, which a process without torch can read (runs/evaluation_worker.py)."""

    records: tuple[EpochLoss, ...]
    stopped_early: tuple[str, ...]
    seconds: float

    @classmethod
    def of(cls, history: LossHistory) -> LossCurves:
        records = tuple(EpochLoss(r.stage, r.phase, r.epoch, r.train_loss, r.validation_loss) for r in history.records)
        return cls(records, tuple(history.stopped_early), history.seconds)
