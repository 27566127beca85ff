"""Interrupted runs: the checkpoint folder beside a run's output, resuming from it, SIGTERM handled like Ctrl-C.

The checkpoint lives outside the staging folder (`.<out>.checkpoint/` beside `<out>`), so it survives the process;
train_run removes it once the run folder is complete."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sharedlatent.config import RunConfig
from sharedlatent.errors import SharedLatentError
from sharedlatent.training.checkpoint import Checkpoint, config_identity

__all__ = ["checkpoint_folder", "interrupts_keep_checkpoint", "run_checkpoint"]


def checkpoint_folder(out: str | Path) -> Path:
    """Where the run that writes `out` keeps its checkpoint."""
    out = Path(out).resolve()
    return out.parent / f".{out.name}.checkpoint"


def run_checkpoint(
    out: Path,
    config: RunConfig,
    data_options: dict[str, Any],
    resume: bool,
    overwrite: bool,
    data_files: dict[str, Any] | None = None,
) -> Checkpoint:
    """The checkpoint of the run writing `out`, identified by its config, dataset options and the size and sha256
    of the data files they name (`data_files`), so a file changed since the interruption is not resumed on.

    Without `resume`, an interrupted run's checkpoint is kept unless `overwrite` says to start over."""
    identity = {
        "config": config_identity(config.to_dict()),
        "data_options": json.dumps(data_options, sort_keys=True, default=str),
        "data_files": json.dumps(data_files or {}, sort_keys=True),
    }
    train = config.train
    checkpoint = Checkpoint(checkpoint_folder(out), train.checkpoint_every, train.checkpoint_minutes, identity)
    if resume and not checkpoint.exists():
        raise SharedLatentError(f"there is no checkpoint to resume from for {out} (looked in {checkpoint.folder})")
    if not resume and checkpoint.exists():
        if not overwrite:
            raise SharedLatentError(
                f"{checkpoint.folder} holds the checkpoint of an unfinished run of {out} (interrupted, or failed after "
                "training); pass --resume to continue it or --overwrite to start over"
            )
        checkpoint.remove()
    return checkpoint


@contextlib.contextmanager
def interrupts_keep_checkpoint(out: Path) -> Iterator[None]:
    """Ctrl-C or SIGTERM (the CLI turns it into an interrupt) keeps the checkpoint; the message says how to resume."""
    try:
        yield
    except KeyboardInterrupt as interrupt:
        if (checkpoint_folder(out) / "state.pt").is_file():
            raise type(interrupt)(f"checkpoint kept in {checkpoint_folder(out)}; continue with --resume") from None
        raise
