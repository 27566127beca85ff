"""Checkpoints of an unfinished fit: every piece of state the remaining epochs depend on, on disk.

A checkpoint is data, never code: torch.save of tensors and plain containers, read back with weights_only=True."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sharedlatent.errors import SharedLatentError, first_line
from sharedlatent.plain_values import flattened
from sharedlatent.storage import atomic_path

CHECKPOINT_FILE = "state.pt"
FORMAT_VERSION = 1
# Settings that may change between the interrupted run and its resumption: they do not change the result.
VOLATILE_KEYS = ("train.progress", "train.checkpoint_every", "train.checkpoint_minutes")
# Settings added later, at the value that trains as the versions before them did: a checkpoint's config without
# the key is the same run as one with this value.
ADDED_KEYS = {"train.moments_per_phase": False}

__all__ = ["CHECKPOINT_FILE", "Checkpoint", "Position", "check_tensors", "config_identity"]


@dataclass
class Position:
    """Where in the schedule a checkpoint was taken."""

    stage: int
    epoch: int  # the next epoch of `stage` to run
    stopped: bool  # the stage's early stopping fired: no more epochs of it, only its end
    epochs_run: int  # over all stages, for the KL warm-up


class Checkpoint:
    """Where and how often a fit saves its state, and what a resumed fit must match (`identity`).

    Parameters
    ----------
    folder
        The checkpoint folder; it holds one file, replaced atomically at each save.
    every
        Save after every `every` epochs (over all stages); 0 = only by time.
    minutes
        Also save when this many minutes passed since the last save; 0 = only by epochs.
    identity
        Plain values (config, dataset) that must equal the checkpoint's for it to be resumed.
    """

    def __init__(
        self, folder: str | Path, every: int = 1, minutes: float = 0.0, identity: dict[str, Any] | None = None
    ) -> None:
        self.folder, self.every, self.minutes = Path(folder), every, minutes
        self.identity = dict(identity or {})
        self._last_save = time.monotonic()

    @property
    def file(self) -> Path:
        return self.folder / CHECKPOINT_FILE

    def exists(self) -> bool:
        return self.file.is_file()

    def due(self, epochs_run: int) -> bool:
        """Whether a save is due after `epochs_run` epochs."""
        if self.every and epochs_run % self.every == 0:
            return True
        return self.minutes > 0 and time.monotonic() - self._last_save >= self.minutes * 60

    def save(self, state: dict[str, Any]) -> None:
        """Write `state` with this checkpoint's identity; a kill mid-write leaves the previous checkpoint intact."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.file) as temporary, open(temporary, "wb") as handle:
            torch.save({"format_version": FORMAT_VERSION, "identity": self.identity, **state}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        self._last_save = time.monotonic()

    def load(self) -> dict[str, Any]:
        """The saved state (tensors on the CPU), after checking that it belongs to this run."""
        if not self.exists():
            raise SharedLatentError(f"there is no checkpoint to resume from in {self.folder}; run without --resume")
        try:
            with warnings.catch_warnings():  # torch warns about foreign files before failing; the error says enough
                warnings.simplefilter("ignore")
                state = torch.load(self.file, map_location="cpu", weights_only=True)
        except Exception as error:  # a truncated or foreign file fails in many ways (struct, pickle, zip errors)
            # torch's unpickling message advises weights_only=False, which would run code from the file: not here
            detail = type(error).__name__ if isinstance(error, pickle.UnpicklingError) else first_line(error, 120, True)
            raise SharedLatentError(
                f"checkpoint {self.file} cannot be read: it is damaged or not a checkpoint ({detail}); pass --overwrite "
                "instead of --resume to start over"
            ) from None
        if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
            raise SharedLatentError(f"checkpoint {self.file} is not a version {FORMAT_VERSION} sharedlatent checkpoint")
        differences = _differences(state.get("identity", {}), self.identity)
        if differences:
            raise SharedLatentError(
                f"the checkpoint in {self.folder} belongs to a different run ({differences}); "
                "resume with the same config and dataset, or pass --overwrite instead of --resume to start over"
            )
        return state

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def check_tensors(saved: Any, expected: Mapping[str, torch.Tensor], what: str) -> None:
    """Raise SharedLatentError unless `saved` (read from a checkpoint, so anything) has exactly `expected`'s names,
    shapes and dtypes, all finite: `what` names it in the message ("weights", "best weights", ...)."""
    if not isinstance(saved, Mapping) or set(saved) != set(expected):
        raise SharedLatentError(f"its {what} are not this model's (other tensor names)")
    for key, tensor in expected.items():
        value = saved[key]
        if not isinstance(value, torch.Tensor) or value.shape != tensor.shape or value.dtype != tensor.dtype:
            raise SharedLatentError(f"its {what}' {key} is not a {tensor.dtype} tensor of shape {tuple(tensor.shape)}")
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise SharedLatentError(f"its {what}' {key} is not a finite tensor (it holds NaN or infinite values)")


def config_identity(config_values: dict[str, Any]) -> dict[str, Any]:
    """A config's nested values without the settings a resumed run may change, or added later at the value that
    trains as before them (ADDED_KEYS), so checkpoints written before they existed still resume."""
    values = flattened(config_values)
    return {
        key: value
        for key, value in values.items()
        if key not in VOLATILE_KEYS and not (key in ADDED_KEYS and value == ADDED_KEYS[key])
    }


def _differences(saved: dict[str, Any], current: dict[str, Any]) -> str:
    """The first few keys whose values differ, as `key: saved in the checkpoint, current now` (a data file by its
    path, a long digest cut short)."""
    saved, current = _expanded(saved), _expanded(current)
    keys = sorted(key for key in set(saved) | set(current) if saved.get(key) != current.get(key))
    shown = [f"{key}: {_short(saved.get(key))} in the checkpoint, {_short(current.get(key))} now" for key in keys[:3]]
    return "; ".join(shown) + (f"; and {len(keys) - 3} more" if len(keys) > 3 else "")


def _expanded(identity: Any) -> dict[str, Any]:
    """An identity flattened to dotted keys, with the JSON text it holds (data options, data files) read key by key,
    so a difference names the option or file rather than printing two blobs."""
    flat = {}
    for key, value in flattened(identity if isinstance(identity, dict) else {"identity": identity}).items():
        inner = _json_object(value)
        flat.update({f"{key}.{k}": v for k, v in flattened(inner).items()} if inner else {key: value})
    return flat


def _json_object(value: Any) -> dict | None:
    if not isinstance(value, str) or not value.startswith("{"):
        return None
    try:
        inner = json.loads(value)
    except ValueError:
        return None
    return inner if isinstance(inner, dict) and inner else None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:20] + "..."


def as_checkpoint(where: str | Path | Checkpoint | None, config: Any) -> Checkpoint | None:
    """A Checkpoint from a folder path, saving as `config.train` says and identified by `config` (a RunConfig)."""
    if where is None or isinstance(where, Checkpoint):
        return where
    from sharedlatent.config import AUTO_WEIGHT_DECAY

    train = config.train
    # The config as given leaves some settings to rules; a rule that changes makes another run of the same config.
    # Checkpoints from before the weight decay existed lack this entry, so they are refused, not resumed with it.
    identity = {"config": config_identity(config.to_dict()), "unset_weight_decay_rule": AUTO_WEIGHT_DECAY}
    return Checkpoint(where, train.checkpoint_every, train.checkpoint_minutes, identity)
