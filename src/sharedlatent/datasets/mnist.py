"""Real MNIST: 28x28 handwritten digits (left) and their inverses 1 - x (right), read from IDX files or mnist.npz.

MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges (CC BY-SA 3.0); the loader never downloads:
`fetch_mnist` (the `sharedlatent fetch mnist` command) does, once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sharedlatent.datasets.base import ImageRenderer, PairedDataset, Split
from sharedlatent.datasets.download import NetworkUnavailableError, download_file, matches
from sharedlatent.datasets.files import dataset_dir
from sharedlatent.datasets.idx import read_idx
from sharedlatent.datasets.options import as_int, as_path
from sharedlatent.errors import SharedLatentError

SIDE = 28
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
NPZ_FILE = "mnist.npz"
# MD5 sums and sizes of the published gzip files (the same sums torchvision checks).
GZ_CHECKSUMS = {
    "train-images-idx3-ubyte.gz": ("f68b3c2dcbeaaa9fbdd348bbdeb94873", 9912422),
    "train-labels-idx1-ubyte.gz": ("d53e105ee54ea40749a09fcbcd1e9432", 28881),
    "t10k-images-idx3-ubyte.gz": ("9fb629c4189551a2d022fa330f9573f3", 1648877),
    "t10k-labels-idx1-ubyte.gz": ("ec29112dd5afa0611ce80d1b7f02629c", 4542),
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)


def default_mnist_dir() -> Path:
    """Where MNIST is looked for when no folder is named: $SHAREDLATENT_DATA/mnist or ~/.cache/sharedlatent/mnist."""
    return dataset_dir("mnist")


def find_idx_file(folder: Path, stem: str) -> Path | None:
    """The plain or gzipped IDX file called `stem` in `folder`, if there is one."""
    for name in (stem, f"{stem}.gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def read_mnist_idx(folder: Path) -> dict[str, np.ndarray]:
    """The four MNIST arrays from IDX files, shapes checked."""
    arrays = {}
    for key, stem in IDX_FILES.items():
        arrays[key] = read_idx(find_idx_file(folder, stem), expected_ndim=3 if key.endswith("images") else 1)
    return arrays


def read_mnist_npz(path: Path) -> dict[str, np.ndarray]:
    """The four MNIST arrays from Keras' mnist.npz (keys x_train, y_train, x_test, y_test)."""
    with np.load(path, allow_pickle=False) as archive:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(archive.files)
        if missing:
            raise SharedLatentError(
                f"{path}: expected keys x_train, y_train, x_test, y_test, missing {sorted(missing)}"
            )
        return {
            "train_images": archive["x_train"],
            "train_labels": archive["y_train"],
            "test_images": archive["x_test"],
            "test_labels": archive["y_test"],
        }


def check_mnist_arrays(arrays: dict[str, np.ndarray], source: Path) -> None:
    """Images must be (n, 28, 28) with one label per image."""
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE):
            raise SharedLatentError(f"{source}: {split} images should have shape (n, 28, 28), got {images.shape}")
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise SharedLatentError(
                f"{source}: {split} has {images.shape[0]} images but labels of shape {labels.shape}"
            )


def read_mnist(folder: Path) -> dict[str, np.ndarray]:
    """MNIST arrays from `folder`: the four IDX files (plain or .gz) if all are there, else mnist.npz."""
    if all(find_idx_file(folder, stem) for stem in IDX_FILES.values()):
        arrays, source = read_mnist_idx(folder), folder
    elif (folder / NPZ_FILE).is_file():
        arrays, source = read_mnist_npz(folder / NPZ_FILE), folder / NPZ_FILE
    else:
        looked_for = ", ".join(f"{stem}[.gz]" for stem in IDX_FILES.values())
        raise SharedLatentError(
            f"MNIST not found in {folder}: looked for {looked_for} or {NPZ_FILE}; "
            f"run `sharedlatent fetch mnist` or place those files there by hand"
        )
    check_mnist_arrays(arrays, source)
    return arrays


def load_mnist_pair(
    path: str | Path | None = None, limit: int | str | None = None, left: str = "left", right: str = "right"
) -> PairedDataset:
    """MNIST digits scaled to [0, 1] (left) and 1 - x (right) with the official 60,000/10,000 split.

    `limit` keeps at most that many samples of each split (the first ones), for quick runs.
    """
    folder = as_path(path, "path") or default_mnist_dir()
    limit = as_int(limit, "limit", minimum=1)
    arrays = read_mnist(folder)
    splits = {}
    for split in ("train", "test"):
        images = arrays[f"{split}_images"][:limit].reshape(-1, SIDE * SIDE).astype(np.float32) / 255.0
        labels = arrays[f"{split}_labels"][:limit].astype(np.int64)
        splits[split] = Split({left: images, right: 1.0 - images}, labels=labels)
    image = ImageRenderer(SIDE, SIDE)
    pixel_names = [f"pixel_{i // SIDE}_{i % SIDE}" for i in range(SIDE * SIDE)]
    return PairedDataset(
        name="mnist",
        train=splits["train"],
        test=splits["test"],
        renderers={left: image, right: image},
        feature_names={left: list(pixel_names), right: list(pixel_names)},
        description=(
            f"MNIST from {folder} (28x28, pixels / 255): regular vs inverse; "
            f"{splits['train'].n_samples} train / {splits['test'].n_samples} test"
        ),
    )


def fetch_mnist(dest: str | Path | None = None) -> list[Path]:
    """Download the four MNIST .gz files into `dest` (default: the cache), checking published MD5 sums and sizes."""
    dest = as_path(dest, "dest") or default_mnist_dir()
    written = []
    for name, (md5, size) in GZ_CHECKSUMS.items():
        target = dest / name
        if not matches(target, md5, size):
            try:
                download_file([mirror + name for mirror in MIRRORS], target, md5=md5, size=size)
            except NetworkUnavailableError as error:
                raise SharedLatentError(
                    f"could not download MNIST, this machine seems to have no network ({error}); on a machine with "
                    f"network download {', '.join(GZ_CHECKSUMS)} from {MIRRORS[0]} and copy them into {dest}"
                ) from None
        written.append(target)
    return written
