"""Training schedules as data: which paths are trained, with which parameter groups unfrozen, for how long."""

from __future__ import annotations

from dataclasses import dataclass

from sharedlatent.errors import SharedLatentError
from sharedlatent.nn.model import SHARED_GROUP, SharedLatentModule


@dataclass(frozen=True)
class Path:
    """Encode from `sources` (combined when several), decode and score `targets`."""

    sources: tuple[str, ...]
    targets: tuple[str, ...]


@dataclass(frozen=True)
class Phase:
    """One objective with only `trainable` parameter groups unfrozen."""

    name: str
    paths: tuple[Path, ...]
    trainable: tuple[str, ...]


@dataclass(frozen=True)
class Stage:
    """Phases run one epoch each, in turn, for `epochs` rounds; `stop_on` picks the early-stopping signal."""

    phases: tuple[Phase, ...]
    epochs: int
    stop_on: str | None  # "train", "validation" or None (run all epochs)
    restore_best: bool = False


def joint_schedule(domains: list[str], epochs: int, freeze_phases: bool = True) -> list[Stage]:
    """Every step trains the joint path and each single-domain path, all decoding every domain (the
    single-domain paths' cross terms weighted by train.cross_weight, their cycles by train.cycle_weight)."""
    everything = tuple(domains)
    paths = (Path(everything, everything),) + tuple(Path((name,), everything) for name in domains)
    return [Stage((Phase("joint", paths, (SHARED_GROUP, *domains)),), epochs, "validation", restore_best=True)]


def seed_schedule(domains: list[str], epochs: int, freeze_phases: bool = True) -> list[Stage]:
    """The original: the joint model with early stopping, then rounds of center-only, then each domain alone
    (one phase per domain, however many there are).

    With freeze_phases False every phase trains all parameters, which is what the original's code did."""
    everything = tuple(domains)
    all_groups = (SHARED_GROUP, *domains)
    joint = Phase("joint", (Path(everything, everything),), all_groups)
    center = Phase("center", (Path(everything, everything),), (SHARED_GROUP,) if freeze_phases else all_groups)
    singles = tuple(
        Phase(name, (Path((name,), (name,)),), (name,) if freeze_phases else all_groups) for name in domains
    )
    return [Stage((joint,), epochs, "train"), Stage((center, *singles), epochs, None)]


SCHEDULES = {"joint": joint_schedule, "seed": seed_schedule}


def build_schedule(name: str, domains: list[str], epochs: int, freeze_phases: bool = True) -> list[Stage]:
    if name not in SCHEDULES:
        raise SharedLatentError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
    return SCHEDULES[name](domains, epochs, freeze_phases)


def set_trainable(module: SharedLatentModule, groups: tuple[str, ...]) -> None:
    """Freeze every parameter outside `groups`; frozen tensors get no gradient and no optimiser update."""
    named = module.parameter_groups()
    unknown = set(groups) - set(named)
    if unknown:
        raise SharedLatentError(f"unknown parameter groups {sorted(unknown)}; have {sorted(named)}")
    for group, parameters in named.items():
        for parameter in parameters:
            parameter.requires_grad_(group in groups)
