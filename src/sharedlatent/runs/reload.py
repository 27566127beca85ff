"""What `evaluate` may reload from a run folder: a run folder is data, never code, and its data must not have changed.

run.json may name only a registered dataset unless the user says --trust-loader again; a pickle needs
--allow-pickle again; data files are found by the absolute paths stored at train time and checked by size and hash."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sharedlatent.errors import SharedLatentError
from sharedlatent.runs.record import RunRecord

HASH_CHUNK = 1 << 20


def is_path_option(key: str) -> bool:
    """Data options that name files or folders (path, left_path, right_path, ...)."""
    return key == "path" or key.endswith("_path")


def absolute_data_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options with relative file and folder paths made absolute, so evaluate finds them from any folder."""
    return {
        key: str(Path(value).expanduser().resolve()) if is_path_option(key) and isinstance(value, str) else value
        for key, value in options.items()
    }


def fingerprint_data_files(options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Size and sha256 of each file a path option names (folders are not fingerprinted)."""
    found = {}
    for key, value in options.items():
        if is_path_option(key) and isinstance(value, str) and Path(value).is_file():
            found[value] = {"size": Path(value).stat().st_size, "sha256": file_sha256(Path(value))}
    return found


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_data_files(record: RunRecord) -> None:
    """Refuse to evaluate on data files that are gone or differ from those the run was trained on."""
    for name, expected in record.data_files.items():
        path = Path(name)
        if not path.is_file():
            raise SharedLatentError(f"data file {path} the run was trained on no longer exists")
        if not isinstance(expected, dict) or path.stat().st_size != expected.get("size"):
            raise SharedLatentError(f"data file {path} changed since the run was trained (size differs)")
        if file_sha256(path) != expected.get("sha256"):
            raise SharedLatentError(f"data file {path} changed since the run was trained (sha256 differs)")


def reload_options(record: RunRecord, trust_loader: bool, allow_pickle: bool) -> dict[str, Any]:
    """The data options evaluate may pass to the run's dataset, once the loader and any pickle are allowed."""
    from sharedlatent.datasets import available_datasets

    folder_hint = "only if you trust this run folder and the file it names"
    if ":" in record.dataset and not trust_loader:
        raise SharedLatentError(
            f"run.json names the dataset loader {record.dataset!r}, which is code; pass --trust-loader {folder_hint}"
        )
    if ":" not in record.dataset and record.dataset not in available_datasets():
        raise SharedLatentError(f"run.json names the dataset {record.dataset!r}, which is not registered here")
    options = dict(record.data_options)
    if _truthy(options.get("allow_pickle", False)):
        if not allow_pickle:
            raise SharedLatentError(
                f"the run's data is a pickle, which runs code when read; pass --allow-pickle {folder_hint}"
            )
        options["allow_pickle"] = True
    return options


def _truthy(value: Any) -> bool:
    """Any value that might switch unpickling on counts as on (False, 0, "false", "no" and empty do not)."""
    return value is not None and value is not False and str(value).strip().lower() not in ("", "false", "0", "no")
