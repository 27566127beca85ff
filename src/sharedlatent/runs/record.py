"""What a run folder says about how it was made: run.json, read and written as a RunRecord."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sharedlatent.errors import SharedLatentError
from sharedlatent.storage import read_json, write_json

RUN_FILE = "run.json"


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


def read_record(folder: str | Path) -> RunRecord:
    """The RunRecord of a run folder, or an error saying why the folder is not one."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SharedLatentError(f"run folder {folder} does not exist")
    values = read_json(folder / RUN_FILE)
    try:
        return RunRecord(**values)
    except TypeError as error:
        raise SharedLatentError(f"{folder / RUN_FILE} is not a sharedlatent run record: {error}") from None


def write_record(folder: Path, record: RunRecord) -> Path:
    """Write `record` as the folder's run.json."""
    path = Path(folder) / RUN_FILE
    write_json(path, asdict(record))
    return path
