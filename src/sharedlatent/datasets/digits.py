"""The embedded default: scikit-learn's 8x8 handwritten digits (left) and their inverse 1 - x (right).

The file scikit-learn ships is read directly and the split is stored here, so the default run imports scikit-learn
(2.2-2.6 s on this project's 2-core machine, timed one-off beside `import torch`) only for its evaluation, after
training; tests/datasets/test_digits.py checks both against scikit-learn's load_digits and split_rows."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

from sharedlatent.datasets.base import ImageRenderer, PairedDataset, Split
from sharedlatent.errors import SharedLatentError

TEST_FRACTION = 0.2
SPLIT_SEED = 0
N_DIGITS = 1797
# The test rows of split_rows(1797, TEST_FRACTION, SPLIT_SEED, labels, round_up=True), scikit-learn's stratified
# split, as a bit mask packed into hex (360 rows set)
TEST_ROW_MASK = (
    "000004883524104000064100934205001a00080100240028062c12001000940a009019120420f8a0028110a000080a882044"
    "1524494240a00a0000004004d80000818020004805c400104008a0100005404800301000020ec409000224840083a8013c20"
    "a6980a0000000b08400804a0184802024041c1008004404684376a810216004480004042a0a4180a5000840b8561c6081080"
    "08004c80c02004068e00010882008100380803c008190000100e01008410a0210033282904c044c080680e01028300820088"
    "22a6402c24042108a860809081a00c02820242120138a41500"
)


def digits_file() -> Path:
    """scikit-learn's digits.csv.gz, found without importing scikit-learn."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise SharedLatentError("the digits dataset needs scikit-learn (pip install scikit-learn)")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"
    if not path.is_file():
        raise SharedLatentError(f"scikit-learn's digits file is missing: {path}")
    return path


def read_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 8x8 digits as rows of 64 pixel values 0-16 (float64) and their labels 0-9, as load_digits gives."""
    path = digits_file()
    try:
        with gzip.open(path, "rt") as handle:
            table = np.loadtxt(handle, delimiter=",", ndmin=2)
    except (OSError, EOFError, ValueError) as error:
        raise SharedLatentError(f"cannot read scikit-learn's digits file {path}: {error}") from None
    if table.shape != (N_DIGITS, 65):
        raise SharedLatentError(f"scikit-learn's digits file has shape {table.shape}, expected ({N_DIGITS}, 65)")
    return table[:, :-1], table[:, -1].astype(int)


def stored_test_rows() -> np.ndarray:
    """The stored test rows, sorted."""
    mask = np.unpackbits(np.frombuffer(bytes.fromhex(TEST_ROW_MASK), dtype=np.uint8))[:N_DIGITS]
    return np.flatnonzero(mask)


def load_digits_pair(left: str = "left", right: str = "right") -> PairedDataset:
    """1,797 digits scaled to [0, 1] and their inverses, with a fixed stratified 80/20 split."""
    pixels, labels = read_digits()
    regular = (pixels / 16.0).astype(np.float32)
    full = Split({left: regular, right: 1.0 - regular}, labels=labels)
    test = stored_test_rows()
    train, test = full.subset(np.setdiff1d(np.arange(N_DIGITS), test)), full.subset(test)
    image = ImageRenderer(8, 8)
    return PairedDataset(
        name="digits",
        train=train,
        test=test,
        renderers={left: image, right: image},
        feature_names={name: [f"pixel_{i // 8}_{i % 8}" for i in range(64)] for name in (left, right)},
        description="scikit-learn handwritten digits (8x8, no download): regular vs inverse",
    )
