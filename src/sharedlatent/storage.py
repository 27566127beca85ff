"""Files: run folders, atomic writes, model weights in safetensors with the metadata to rebuild them."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import signal
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from sharedlatent.errors import SharedLatentError

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.toml"
METRICS_FILE = "metrics.json"


def split_file(name: str, split: str) -> str:
    """A per-split file name: the test split keeps the plain name (metrics.json), others get a suffix (metrics_train.json)."""
    if split == "test":
        return name
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}_{split}{dot}{suffix}"


HISTORY_FILE = "history.json"
METADATA_KEY = "sharedlatent"
DIGEST_KEY = "sharedlatent_sha256"  # a header entry of its own beside METADATA_KEY (storage.weights_digest)
_UMASK = os.umask(0)
os.umask(_UMASK)


def temporary_name_pattern(name_pattern: str) -> str:
    """The fnmatch pattern of the temporary files `atomic_path` makes for names matching `name_pattern` (a kill
    mid-write leaves one behind)."""
    return f".{name_pattern}.*.tmp*"


def signals_held() -> contextlib.AbstractContextManager[None]:
    """Hold Ctrl-C (SIGINT) and SIGTERM until the block ends, then act on the first one as it would have: for a few
    renames that must not be cut in two. Elsewhere than in the main thread, where no handler can be set, nothing."""
    if threading.current_thread() is not threading.main_thread():
        return contextlib.nullcontext()
    return _signals_held()


@contextmanager
def _signals_held() -> Iterator[None]:
    received: list[int] = []
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    previous = {signum: handler for signum, handler in handlers.items() if handler is not None}  # None: not Python's
    for signum in previous:
        signal.signal(signum, lambda number, frame: received.append(number))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if received:
            handler = previous[received[0]]
            if callable(handler):
                handler(received[0], None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(received[0])


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside `path` that replaces it only if the block finishes without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp" + "".join(path.suffixes), dir=path.parent
    )
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text)


def write_json(path: str | Path, values: Any) -> None:
    """Write `values` as standard JSON: NaN and infinities (undefined metrics) become null, which every JSON reader
    takes, where Python's default would write bare NaN that JavaScript's JSON.parse and others refuse."""
    write_text(path, json.dumps(_finite_or_null(values), indent=2, default=json_default, allow_nan=False) + "\n")


def _finite_or_null(value: Any) -> Any:
    """`value` with every non-finite float (numpy scalars and arrays included) replaced by None, recursively."""
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_null(item) for item in value]
    if isinstance(value, np.ndarray):
        return _finite_or_null(value.tolist())
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def read_json(path: str | Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SharedLatentError(f"{path} does not exist") from None
    except (OSError, ValueError) as error:
        raise SharedLatentError(f"cannot read {path} as JSON: {error}") from None
    except RecursionError:
        raise SharedLatentError(f"cannot read {path} as JSON: nested too deeply") from None


def json_default(value: Any) -> Any:
    """numpy scalars and arrays as the Python values json writes (json.dumps' `default`)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def weights_digest(tensors: Mapping[str, Any], metadata_text: str) -> str:
    """SHA-256 over the metadata record's text, then every tensor's name, shape and little-endian float32 values in
    name order: a checksum that a model file carries beside them, so bytes changed on disk are caught where shape
    and range checks cannot."""
    digest = hashlib.sha256(metadata_text.encode())
    for name in sorted(tensors):
        values = np.ascontiguousarray(tensors[name].detach().cpu().numpy(), dtype="<f4")
        digest.update(f"{name}:{list(values.shape)}\n".encode())
        digest.update(values.tobytes())
    return digest.hexdigest()


def save_weights(path: str | Path, tensors: dict, metadata: dict[str, Any]) -> None:
    """Write tensors, a JSON metadata record and their checksum (its own header entry, which readers that predate it
    ignore) to a safetensors file, atomically."""
    from safetensors.torch import save_file

    contiguous = {name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()}
    text = json.dumps(metadata, default=json_default)
    header = {METADATA_KEY: text, DIGEST_KEY: weights_digest(contiguous, text)}
    with atomic_path(path) as temporary:
        save_file(contiguous, str(temporary), metadata=header)
