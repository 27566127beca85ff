"""Where a run folder may be written: overwrite only folders that prove to be runs; sweep crashed runs' staging."""

from __future__ import annotations

import fnmatch
import os
import shutil
from pathlib import Path

from sharedlatent.errors import SharedLatentError, listed
from sharedlatent.figures.report import REPORT_FILE
from sharedlatent.runs.record import RUN_FILE, RUN_FORMAT, record_from_values
from sharedlatent.storage import (
    CONFIG_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    WEIGHTS_FILE,
    read_json,
    split_file,
    temporary_name_pattern,
)

STAGING_MARK = ".partial-"
# Inside a run, the hidden folder `evaluate` writes into before it moves the files into the run: inside, so that the
# moves stay on the run's own file system and need no other folder writable
EVALUATION_STAGING = f".evaluation{STAGING_MARK}"


def staging_folder(out: Path) -> Path:
    """The hidden folder a run is written into before it is renamed to `out`."""
    return out.parent / f".{out.name}{STAGING_MARK}{os.getpid()}"


def evaluation_staging(folder: Path) -> Path:
    """The hidden folder inside the run `folder` that this process's `evaluate` writes into first."""
    return folder / f"{EVALUATION_STAGING}{os.getpid()}"


def check_target(out: Path, overwrite: bool) -> None:
    """Refuse an output path that would lose the user's files: a file, a non-empty folder (unless --overwrite and
    it is a run folder), the current folder or one of its parents, or a path under a file."""
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise SharedLatentError(f"output folder {out} cannot be created: {parent} is a file")
    if out.exists() and not out.is_dir():
        raise SharedLatentError(f"output path {out} exists and is not a folder")
    if out == Path.cwd().resolve() or out in Path.cwd().resolve().parents:
        raise SharedLatentError(f"output folder {out} is the current folder or holds it; name a new folder with --out")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise SharedLatentError(
                f"output folder {out} already exists and is not empty; pass --overwrite to replace it"
            )
        if not is_run_folder(out):
            raise SharedLatentError(
                f"output folder {out} is not a sharedlatent run folder (no valid {RUN_FILE} and {WEIGHTS_FILE}); "
                "--overwrite replaces run folders only"
            )
        foreign = files_a_run_does_not_write(out)
        if foreign:
            raise SharedLatentError(
                f"run folder {out} also holds files a run does not write ({listed(foreign)}), which --overwrite "
                "would delete; move them out first"
            )


TEST_SAMPLES_FILE = "test_samples.csv"  # the test split's sample IDs (runs/folder.write_test_samples)
# What train and evaluate write into a run folder (runs/folder.py, runs/evaluate.py); anything else is the user's.
RUN_FILE_PATTERNS = (
    RUN_FILE,
    CONFIG_FILE,
    HISTORY_FILE,
    WEIGHTS_FILE,
    METRICS_FILE,
    split_file(METRICS_FILE, "*"),
    REPORT_FILE,
    split_file(REPORT_FILE, "*"),
    TEST_SAMPLES_FILE,
    "model.txt",
    "model.png",
    "loss_curves.png",
    "samples_*.png",
    "latent_*.png",
    "interpolation_*.png",
    "heatmap_*.png",
    "scatter_*_to_*.png",
)
# A run's own half-written files: what atomic_path leaves when `evaluate` is killed while it writes into the folder
RUN_TEMPORARY_PATTERNS = tuple(temporary_name_pattern(pattern) for pattern in RUN_FILE_PATTERNS)


def files_a_run_does_not_write(folder: Path) -> list[str]:
    """The names in `folder` no run writes (a subfolder is never a run's but a stopped evaluation's staging folder;
    a run's half-written temporary files are)."""
    return sorted(
        entry.name
        for entry in folder.iterdir()
        if (entry.is_dir() and not entry.name.startswith(EVALUATION_STAGING))
        or (
            not entry.is_dir()
            and not any(fnmatch.fnmatchcase(entry.name, p) for p in (*RUN_FILE_PATTERNS, *RUN_TEMPORARY_PATTERNS))
        )
    )


def is_run_folder(folder: Path) -> bool:
    """Whether `folder` proves to be a run: a run.json with our format marker and a model file; a run.json from
    before the marker counts only as a complete record beside a safetensors file carrying our metadata."""
    from sharedlatent.model_file import read_header

    try:
        values = read_json(folder / RUN_FILE)
        record_from_values(values, folder / RUN_FILE)
    except SharedLatentError:
        return False
    if not (folder / WEIGHTS_FILE).is_file():
        return False
    if values.get("format") == RUN_FORMAT:
        return True
    try:
        read_header(folder / WEIGHTS_FILE)
    except (SharedLatentError, OSError):
        return False
    return True


def sweep_stale_staging(out: Path) -> list[Path]:
    """Remove staging folders of earlier runs into `out` whose process is gone (killed, power cut)."""
    return _sweep(out.parent, f".{out.name}{STAGING_MARK}")


def sweep_stale_evaluations(folder: Path) -> list[Path]:
    """Remove staging folders of earlier evaluations inside the run `folder` whose process is gone."""
    return _sweep(folder, EVALUATION_STAGING)


def _sweep(parent: Path, prefix: str) -> list[Path]:
    """Remove the folders in `parent` named `prefix` + a process id whose process is gone."""
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    for candidate in [p for p in parent.iterdir() if p.name.startswith(prefix)]:
        pid = candidate.name.rpartition(STAGING_MARK)[2]
        if candidate.is_dir() and pid.isdigit() and not _process_alive(int(pid)):
            shutil.rmtree(candidate, ignore_errors=True)
            removed.append(candidate)
    return removed


def _process_alive(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 checks without sending anything)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or an id we cannot check: leave its folder alone
    return True
