"""Download one file over HTTP(S), check its size and MD5, and write it atomically."""

from __future__ import annotations

import hashlib
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from sharedlatent.errors import SharedLatentError
from sharedlatent.storage import atomic_path

CHUNK_BYTES = 1 << 20
TIMEOUT_S = 60


class NetworkUnavailableError(SharedLatentError):
    """No mirror could be reached: the caller turns this into 'place the files by hand' advice."""


def file_md5(path: Path) -> str:
    """The MD5 hex digest of a file (an integrity check against published sums, not security)."""
    digest = hashlib.md5()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def matches(path: Path, md5: str | None, size: int | None) -> bool:
    """Whether an existing file has the expected size and checksum."""
    path = Path(path)
    if not path.is_file():
        return False
    if size is not None and path.stat().st_size != size:
        return False
    return md5 is None or file_md5(path) == md5


def download_file(urls: list[str], dest: Path, md5: str | None = None, size: int | None = None) -> Path:
    """Fetch `dest` from the first URL that answers; raises NetworkUnavailableError when none does."""
    dest = Path(dest)
    failures = []
    for url in urls:
        try:
            with atomic_path(dest) as temporary:
                with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(temporary, "wb") as out:
                    shutil.copyfileobj(response, out, CHUNK_BYTES)
                if not matches(temporary, md5, size):
                    actual = f"{temporary.stat().st_size} bytes, md5 {file_md5(temporary)}"
                    raise SharedLatentError(
                        f"download of {url} is corrupt: expected {size} bytes with md5 {md5}, got {actual}; nothing was written to {dest}"
                    )
            return dest
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            failures.append(f"{url} ({getattr(error, 'reason', error)})")
    raise NetworkUnavailableError(f"could not download {dest.name}: " + "; ".join(failures))
