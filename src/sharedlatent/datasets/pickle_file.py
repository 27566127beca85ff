"""The original prototype's data files: a (gzipped) pickle of train/test arrays, read only on explicit opt-in.

Accepted contents: a tuple or list (left_train, right_train, left_test, right_test), or a dict with keys
`<domain>_train` and `<domain>_test` for two or more domains, plus optional `labels_train` / `labels_test`.
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from sharedlatent.datasets.base import ImageRenderer, PairedDataset, Renderer, Split
from sharedlatent.datasets.files import open_maybe_gzip
from sharedlatent.datasets.options import as_bool, require_path
from sharedlatent.errors import SharedLatentError

LABEL_KEYS = ("labels_train", "labels_test")


def read_pickle(path: Path, allow_pickle: bool) -> object:
    """Unpickle a plain or gzipped file, but only when the user said the file is trusted."""
    if not allow_pickle:
        raise SharedLatentError(
            f"{path} is a pickle file: unpickling can run arbitrary code hidden in the file, so it is off by default; "
            f"if you trust the file, opt in with allow_pickle=True (CLI: --allow-pickle)"
        )
    if not path.is_file():
        raise SharedLatentError(f"pickle file {path} does not exist")
    try:
        with open_maybe_gzip(path) as stream:
            return pickle.load(stream, encoding="latin1")  # latin1 reads numpy arrays pickled by Python 2
    except Exception as error:  # a damaged pickle can raise almost any exception type
        raise SharedLatentError(f"{path}: cannot unpickle ({error})") from None


def flat_samples(values: ArrayLike, what: str) -> np.ndarray:
    """Samples x features: images (n, h, w) are flattened row by row."""
    array = np.asarray(values)
    if array.ndim > 2:
        array = array.reshape(array.shape[0], -1)
    if array.ndim != 2:
        raise SharedLatentError(f"{what}: expected samples x features, got shape {array.shape}")
    return array


def arrays_by_split(contents: object, path: Path, left: str, right: str) -> tuple[dict, dict, object, object]:
    """Train domains, test domains, train labels and test labels from the unpickled object."""
    if isinstance(contents, (tuple, list)):
        if len(contents) != 4:
            raise SharedLatentError(
                f"{path}: expected 4 arrays (left_train, right_train, left_test, right_test), got {len(contents)} items"
            )
        a, b, c, d = contents
        return {left: a, right: b}, {left: c, right: d}, None, None
    if isinstance(contents, dict):
        keys = [key for key in contents if key not in LABEL_KEYS]
        train_domains = [key[: -len("_train")] for key in keys if str(key).endswith("_train")]
        test_domains = [key[: -len("_test")] for key in keys if str(key).endswith("_test")]
        if not train_domains or sorted(train_domains) != sorted(test_domains) or len(keys) != 2 * len(train_domains):
            raise SharedLatentError(
                f"{path}: expected keys <domain>_train and <domain>_test for each domain (plus optional labels_train, "
                f"labels_test), got {sorted(map(str, contents))}"
            )
        train = {name: contents[f"{name}_train"] for name in train_domains}
        test = {name: contents[f"{name}_test"] for name in train_domains}
        return train, test, contents.get("labels_train"), contents.get("labels_test")
    raise SharedLatentError(f"{path}: expected a tuple of 4 arrays or a dict of arrays, got {type(contents).__name__}")


def guess_renderer(n_features: int) -> Renderer | None:
    """A square image renderer when the feature count is a perfect square above 16 (e.g. 784 = 28x28)."""
    side = math.isqrt(n_features)
    return ImageRenderer(side, side) if side * side == n_features and side >= 4 else None


def load_pickle_pair(
    path: str | Path | None = None, allow_pickle: bool | str = False, left: str = "left", right: str = "right"
) -> PairedDataset:
    """Train and test arrays from the prototype's pickle file; domain names from the dict keys or `left`/`right`."""
    path = require_path(path, "path")
    contents = read_pickle(path, as_bool(allow_pickle, "allow_pickle"))
    train_arrays, test_arrays, train_labels, test_labels = arrays_by_split(contents, path, left, right)
    splits = []
    for split, arrays, labels in (("train", train_arrays, train_labels), ("test", test_arrays, test_labels)):
        domains = {name: flat_samples(values, f"{path}, domain {name!r}, {split}") for name, values in arrays.items()}
        try:
            splits.append(Split(domains, labels=None if labels is None else np.asarray(labels).ravel()))
        except SharedLatentError as error:
            raise SharedLatentError(f"{path}, {split} split: {error}") from None
    renderers = {name: r for name, values in splits[0].domains.items() if (r := guess_renderer(values.shape[1]))}
    return PairedDataset(
        name=path.stem,
        train=splits[0],
        test=splits[1],
        renderers=renderers,
        description=f"pickled arrays from {path}: {splits[0].n_samples} train / {splits[1].n_samples} test",
    )
