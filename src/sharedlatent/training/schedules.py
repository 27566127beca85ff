"""Training schedules as data: which routes are trained, with which parameter groups unfrozen, for how long."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from sharedlatent import names
from sharedlatent.errors import SharedLatentError
from sharedlatent.names import SHARED_GROUP
from sharedlatent.nn.model import SharedLatentModule
from sharedlatent.nn.objective import Route

__all__ = ["SCHEDULES", "Phase", "Route", "Stage", "build_schedule", "joint_schedule", "original_schedule"]


@dataclass(frozen=True)
class Phase:
    """One objective with only `trainable` parameter groups unfrozen."""

    name: str
    routes: tuple[Route, ...]
    trainable: tuple[str, ...]


@dataclass(frozen=True)
class Stage:
    """Phases run one epoch each, in turn, for `epochs` rounds; `stop_on` picks the early-stopping signal."""

    phases: tuple[Phase, ...]
    epochs: int
    stop_on: str | None  # "train", "validation" or None (run all epochs)
    restore_best: bool = False


ScheduleBuilder = Callable[..., list[Stage]]  # (domains, epochs, *, freeze_phases) -> stages


def joint_schedule(domains: list[str], epochs: int, *, freeze_phases: bool = True) -> list[Stage]:
    """Every step trains the joint route and each single-domain route, all decoding every domain (the
    single-domain routes' cross terms weighted by train.cross_weight, their cycles by train.cycle_weight).

    There is one phase training every group, so there is nothing to freeze: `freeze_phases` has no effect here."""
    everything = tuple(domains)
    routes = (Route(everything, everything),) + tuple(Route((name,), everything) for name in domains)
    return [Stage((Phase("joint", routes, (SHARED_GROUP, *domains)),), epochs, "validation", restore_best=True)]


def original_schedule(domains: list[str], epochs: int, *, freeze_phases: bool = True) -> list[Stage]:
    """The original: the joint model with early stopping, then rounds of center-only, then each domain alone
    (one phase per domain, however many there are).

    With freeze_phases False every phase trains all parameters, which is what the original's code did."""
    everything = tuple(domains)
    all_groups = (SHARED_GROUP, *domains)
    joint = Phase("joint", (Route(everything, everything),), all_groups)
    center = Phase("center", (Route(everything, everything),), (SHARED_GROUP,) if freeze_phases else all_groups)
    singles = tuple(
        Phase(name, (Route((name,), (name,)),), (name,) if freeze_phases else all_groups) for name in domains
    )
    return [Stage((joint,), epochs, "train"), Stage((center, *singles), epochs, None)]


SCHEDULES: dict[str, ScheduleBuilder] = {"joint": joint_schedule, "original": original_schedule}
assert tuple(SCHEDULES) == names.SCHEDULES, "every name in names.SCHEDULES needs a builder here"


def build_schedule(name: str, domains: list[str], epochs: int, freeze_phases: bool = True) -> list[Stage]:
    """The stages of schedule `name` ("joint" or "original"; the version 0.1 name "seed" still works)."""
    builder = SCHEDULES.get(names.canonical(name))
    if builder is None:
        raise SharedLatentError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
    return builder(domains, epochs, freeze_phases=freeze_phases)


def set_trainable(
    module: SharedLatentModule, groups: tuple[str, ...], named: dict[str, list[torch.nn.Parameter]] | None = None
) -> None:
    """Freeze every parameter outside `groups`; frozen tensors get no gradient and no optimiser update.
    `named`: the module's `parameter_groups()`, when the caller keeps them (a fit does, as they do not change)."""
    named = module.parameter_groups() if named is None else named
    unknown = set(groups) - set(named)
    if unknown:
        raise SharedLatentError(f"unknown parameter groups {sorted(unknown)}; have {sorted(named)}")
    for group, parameters in named.items():
        for parameter in parameters:
            parameter.requires_grad_(group in groups)
