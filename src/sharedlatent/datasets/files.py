"""File plumbing shared by the loaders: where downloaded data lives and gzip sniffing."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import IO

DATA_ENV = "SHAREDLATENT_DATA"
GZIP_MAGIC = b"\x1f\x8b"


def data_home() -> Path:
    """The root folder for downloaded datasets: `$SHAREDLATENT_DATA`, else ~/.cache/sharedlatent."""
    root = os.environ.get(DATA_ENV)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "sharedlatent"


def dataset_dir(name: str) -> Path:
    """The cache folder of one dataset, e.g. ~/.cache/sharedlatent/mnist."""
    return data_home() / name


def is_gzip(path: Path) -> bool:
    """Whether a file starts with the gzip magic bytes (whatever its suffix says)."""
    with open(path, "rb") as stream:
        return stream.read(2) == GZIP_MAGIC


def open_maybe_gzip(path: Path) -> IO[bytes]:
    """A binary reader that transparently decompresses gzip files."""
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")
