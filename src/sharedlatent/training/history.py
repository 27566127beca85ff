"""What the training loop measured: per phase-epoch losses and typed loss terms, as data and as JSON."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import torch

from sharedlatent.errors import SharedLatentError
from sharedlatent.nn.objective import LossTerms, Sources
from sharedlatent.plain_values import is_number


@dataclass
class TermValues:
    """Unweighted loss terms per training sample, keyed like LossTerms: (sources, target), sources, (source, other)."""

    reconstruction: dict[tuple[Sources, str], float] = field(default_factory=dict)
    kl: dict[Sources, float] = field(default_factory=dict)
    cycle: dict[tuple[str, str], float] = field(default_factory=dict)

    def add(self, terms: LossTerms, rows: int) -> None:
        """Add one batch's terms; KL terms are batch means, so they count once per row."""
        for key, value in terms.reconstruction.items():
            self.reconstruction[key] = self.reconstruction.get(key, 0.0) + value.item()
        for key, value in terms.kl.items():
            self.kl[key] = self.kl.get(key, 0.0) + value.item() * rows
        for key, value in terms.cycle.items():
            self.cycle[key] = self.cycle.get(key, 0.0) + value.item()

    def scaled(self, factor: float) -> TermValues:
        """Every term times `factor` (e.g. 1 / samples)."""
        return TermValues(
            {k: v * factor for k, v in self.reconstruction.items()},
            {k: v * factor for k, v in self.kl.items()},
            {k: v * factor for k, v in self.cycle.items()},
        )

    def per_target(self) -> dict[str, float]:
        """Reconstruction loss per decoded domain, summed over the routes that decode it."""
        totals: dict[str, float] = {}
        for (_, target), value in self.reconstruction.items():
            totals[target] = totals.get(target, 0.0) + value
        return totals

    def to_dict(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "reconstruction": [
                {"sources": list(s), "target": t, "value": v} for (s, t), v in self.reconstruction.items()
            ],
            "kl": [{"sources": list(s), "value": v} for s, v in self.kl.items()],
            "cycle": [{"source": s, "through": o, "value": v} for (s, o), v in self.cycle.items()],
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TermValues:
        """Read `to_dict` output, or version 0.1's flat {"a+b->a": x, "kl(a+b)": y, "a->b->a": z}."""
        if set(values) <= {"reconstruction", "kl", "cycle"} and all(isinstance(v, list) for v in values.values()):
            return cls(
                {(tuple(e["sources"]), e["target"]): e["value"] for e in values.get("reconstruction", [])},
                {tuple(e["sources"]): e["value"] for e in values.get("kl", [])},
                {(e["source"], e["through"]): e["value"] for e in values.get("cycle", [])},
            )
        return _from_version_0_1(values)


_OLD_KL = re.compile(r"kl\((?P<sources>.+)\)")
_OLD_CYCLE = re.compile(r"(?P<source>[^>]+)->(?P<other>[^>]+)->(?P=source)")
_OLD_RECONSTRUCTION = re.compile(r"(?P<sources>[^>]+)->(?P<target>[^>]+)")


def _from_version_0_1(values: dict[str, float]) -> TermValues:
    """Version 0.1 wrote terms as strings; this is the one place that reads them."""
    terms = TermValues()
    for key, value in values.items():
        if match := _OLD_KL.fullmatch(key):
            terms.kl[tuple(match["sources"].split("+"))] = float(value)
        elif match := _OLD_CYCLE.fullmatch(key):
            terms.cycle[(match["source"], match["other"])] = float(value)
        elif match := _OLD_RECONSTRUCTION.fullmatch(key):
            terms.reconstruction[(tuple(match["sources"].split("+")), match["target"])] = float(value)
    return terms


class EpochSums:
    """One epoch's running sums of the loss and its terms over batches.

    On the CPU they are Python floats. On an accelerator (`deferred`) they stay one tensor on the device until
    `result`, so no batch waits for the device to finish its work (one read per epoch instead of several per batch)."""

    def __init__(self, deferred: bool) -> None:
        self.deferred = deferred
        self.total, self.terms = 0.0, TermValues()
        self._keys: tuple[tuple, tuple, tuple] | None = None
        self._running: torch.Tensor | None = None

    def add(self, terms: LossTerms, rows: int) -> None:
        """Add one batch's total and terms (KL terms are batch means, so they count once per row)."""
        if not self.deferred:
            self.total += terms.total.item()
            self.terms.add(terms, rows)
            return
        keys = (tuple(terms.reconstruction), tuple(terms.kl), tuple(terms.cycle))
        if self._keys is None:
            self._keys = keys
        elif keys != self._keys:
            raise ValueError("the batches of one epoch must have the same loss terms")
        values = [terms.total, *terms.reconstruction.values(), *(v * rows for v in terms.kl.values())]
        stacked = torch.stack([*values, *terms.cycle.values()]).detach()
        stacked = stacked.float() if stacked.device.type == "mps" else stacked.double()  # MPS has no float64
        self._running = stacked if self._running is None else self._running + stacked

    def result(self) -> tuple[float, TermValues]:
        """The summed loss and terms so far (not yet divided by the number of samples)."""
        if self._running is None:
            return self.total, self.terms
        assert self._keys is not None
        values = iter(self._running.tolist())
        total = next(values)
        reconstruction_keys, kl_keys, cycle_keys = self._keys
        return total, TermValues(
            {key: next(values) for key in reconstruction_keys},
            {key: next(values) for key in kl_keys},
            {key: next(values) for key in cycle_keys},
        )


@dataclass
class EpochRecord:
    """Losses of one phase-epoch, per training sample (so they do not scale with batch size)."""

    stage: int
    phase: str
    epoch: int
    train_loss: float
    validation_loss: float | None
    terms: TermValues
    seconds: float

    def __post_init__(self) -> None:
        if isinstance(self.terms, dict):  # from JSON, in either format
            self.terms = TermValues.from_dict(self.terms)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "phase": self.phase,
            "epoch": self.epoch,
            "train_loss": self.train_loss,
            "validation_loss": self.validation_loss,
            "terms": self.terms.to_dict(),
            "seconds": self.seconds,
        }


@dataclass
class History:
    """Everything the loop measured, in order."""

    records: list[EpochRecord] = field(default_factory=list)
    stopped_early: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "records": [r.to_dict() for r in self.records],
            "stopped_early": self.stopped_early,
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, values: dict) -> History:
        return cls(
            [EpochRecord(**r) for r in values["records"]], list(values["stopped_early"]), float(values["seconds"])
        )

    def phases(self) -> list[str]:
        return list(dict.fromkeys(r.phase for r in self.records))


def checked_history(values: Any) -> History:
    """A History read from `to_dict` output that is data (history.json, a checkpoint): every record a phase name, a
    whole stage and epoch and a finite training loss, or SharedLatentError."""
    try:
        history = History.from_dict(values)
        valid = all(
            isinstance(r.phase, str)
            and type(r.stage) is int
            and type(r.epoch) is int
            and is_number(r.train_loss)
            and math.isfinite(r.train_loss)
            and (r.validation_loss is None or is_number(r.validation_loss))
            for r in history.records
        )
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        valid = False
    if not valid:
        raise SharedLatentError("not a sharedlatent training history")
    return history
