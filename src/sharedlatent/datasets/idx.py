"""Reader for the IDX format MNIST ships in: a 4-byte magic number, big-endian dimensions, then raw values."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sharedlatent.datasets.files import open_maybe_gzip
from sharedlatent.errors import SharedLatentError

# The third magic byte names the element type; values are stored big-endian.
IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: Path, expected_ndim: int | None = None) -> np.ndarray:
    """The array stored in an IDX file (plain or gzipped), with its header checked."""
    path = Path(path)
    with open_maybe_gzip(path) as stream:
        magic = stream.read(4)
        if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_DTYPES:
            raise SharedLatentError(
                f"{path}: not an IDX file: expected a magic number 00 00 <type> <ndim> with type one of "
                f"{', '.join(hex(code) for code in IDX_DTYPES)}, got {magic.hex(' ') or 'an empty file'}"
            )
        dtype, ndim = IDX_DTYPES[magic[2]], magic[3]
        if expected_ndim is not None and ndim != expected_ndim:
            raise SharedLatentError(
                f"{path}: expected an IDX file with {expected_ndim} dimensions, the header says {ndim}"
            )
        header = stream.read(4 * ndim)
        if len(header) != 4 * ndim:
            raise SharedLatentError(f"{path}: IDX header is truncated: expected {ndim} dimension sizes")
        shape = tuple(int(size) for size in np.frombuffer(header, dtype=">u4"))
        payload = stream.read()
    expected_bytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(payload) != expected_bytes:
        raise SharedLatentError(
            f"{path}: IDX header promises shape {shape} ({expected_bytes} bytes of data), the file holds {len(payload)} bytes"
        )
    return np.frombuffer(payload, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write an unsigned-byte array as IDX (used by tests and to export small subsets)."""
    import gzip

    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise SharedLatentError(f"{path}: write_idx stores unsigned bytes only, got {array.dtype}")
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as stream:
        stream.write(header + array.tobytes())
