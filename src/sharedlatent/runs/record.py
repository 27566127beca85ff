"""What a run folder says about how it was made: run.json, read and written as a RunRecord."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sharedlatent.errors import SharedLatentError
from sharedlatent.names import DOMAIN_NAME_PATTERN
from sharedlatent.storage import read_json, write_json

RUN_FILE = "run.json"
NO_TEST_NOTE = "no test split (test_fraction=0): evaluation skipped, no metrics.json or report"
RUN_FORMAT = "sharedlatent-run"
RUN_FORMAT_VERSION = 1
FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "format": str,
    "format_version": int,
    "dataset": str,
    "data_options": dict,
    "domains": list,
    "input_sizes": dict,
    "feature_names": dict,
    "layout": str,
    "created": str,
    "train_seconds": (int, float),
    "versions": dict,
    "command": list,
    "figures": list,
    "data_files": dict,
    "data_notes": list,
    "chosen_settings": dict,
    "distributed": dict,
}


@dataclass
class RunRecord:
    """What a run folder says about how it was made (run.json)."""

    dataset: str
    data_options: dict[str, Any]
    domains: list[str]
    input_sizes: dict[str, int]
    feature_names: dict[str, list[str]]
    layout: str
    created: str
    train_seconds: float
    versions: dict[str, str]
    command: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    # domain -> "likelihood L, preprocessing P (why)" for the settings chosen from the data ("auto")
    chosen_settings: dict[str, str] = field(default_factory=dict)
    # What the data files were at train time: absolute path -> {"size", "sha256"}; evaluate refuses changed data.
    data_files: dict[str, dict[str, Any]] = field(default_factory=dict)
    data_notes: list[str] = field(default_factory=list)  # e.g. rows the loader dropped while pairing
    # How many processes trained together and over which torch.distributed backend (None: one process).
    distributed: dict[str, Any] = field(default_factory=lambda: {"world_size": 1, "backend": None})
    # Marks the folder as a run folder, so --overwrite never deletes a folder that merely holds a run.json.
    format: str = RUN_FORMAT
    format_version: int = RUN_FORMAT_VERSION


def read_record(folder: str | Path) -> RunRecord:
    """The RunRecord of a run folder, or an error saying why the folder is not one."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SharedLatentError(f"run folder {folder} does not exist")
    return record_from_values(read_json(folder / RUN_FILE), folder / RUN_FILE)


def record_from_values(values: Any, path: Path) -> RunRecord:
    """A RunRecord from run.json's parsed content, checking every field's type and the format marker."""
    if not isinstance(values, dict):
        raise SharedLatentError(f"{path} is not a sharedlatent run record (not a JSON object)")
    unknown = sorted(set(values) - set(FIELD_TYPES))
    wrong = [key for key, kind in FIELD_TYPES.items() if key in values and not isinstance(values[key], kind)]
    if unknown or wrong:
        raise SharedLatentError(
            f"{path} is not a sharedlatent run record: unknown fields {unknown}, wrong types {wrong}"
        )
    if values.get("format", RUN_FORMAT) != RUN_FORMAT or values.get("format_version", 1) > RUN_FORMAT_VERSION:
        raise SharedLatentError(
            f"{path} has format {values.get('format')!r} version {values.get('format_version')!r}; "
            f"this sharedlatent reads {RUN_FORMAT!r} up to version {RUN_FORMAT_VERSION}"
        )
    sizes = values.get("input_sizes", {})
    if not all(type(n) is int and n > 0 for n in sizes.values()) or not all(
        isinstance(d, str) and re.fullmatch(DOMAIN_NAME_PATTERN, d) for d in values.get("domains", [])
    ):
        raise SharedLatentError(f"{path}: input_sizes must be positive integers and domains names")
    # The layout names figure files: "left8-96-64_right5-96-64-32-16" or "64-96-64-32-16", never a path
    if "layout" in values and not re.fullmatch(r"[A-Za-z0-9_-]{1,500}", values["layout"]):
        raise SharedLatentError(f"{path}: layout {values['layout'][:80]!r} is not a layout name")
    if not all(isinstance(note, str) for note in values.get("data_notes", [])):
        raise SharedLatentError(f"{path}: data_notes must be lines of text")
    try:
        return RunRecord(**values)
    except TypeError as error:
        raise SharedLatentError(f"{path} is not a sharedlatent run record: {error}") from None


def write_record(folder: Path, record: RunRecord) -> Path:
    """Write `record` as the folder's run.json."""
    path = Path(folder) / RUN_FILE
    write_json(path, asdict(record))
    return path
