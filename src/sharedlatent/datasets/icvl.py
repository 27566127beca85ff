"""ICVL hand poses: a depth map of the hand (left) and the 16 annotated joints (right).

Layout: a folder with 16-bit PNG depth maps (millimetres, 0 = no reading) and a label file whose lines read
`<image path> u1 v1 d1 ... u16 v16 d16` (pixel column, pixel row, depth in mm; joints in ICVL's order: palm, then
thumb, index, middle, ring and pinky with three joints each, root to tip). Image paths are looked up relative to the
label file's folder, then its `Depth/` subfolder, then the dataset folder and its `Depth/` subfolder.
Left: the whole frame (no crop, so joints and pixels share one coordinate system) resized to 60 rows x 80 columns
(320x240 ICVL frames shrink 4x exactly) with depth mapped to [0, 1] between `near_mm` and `far_mm` (default: the
training joints' depth range widened by 150 mm; pixels without a reading count as far). Right: the 48 coordinates,
each axis (u, v, depth) min-max scaled to [0, 1] over the training set by a `JointScaling` that inverts exactly.
ICVL: Tang, Chang, Tejani and Kim, "Latent Regression Forest", CVPR 2014; get it from its authors' site.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sharedlatent.datasets.base import ImageRenderer, PairedDataset, Split
from sharedlatent.datasets.options import as_float, as_int, as_path, require_path
from sharedlatent.datasets.splits import split_rows
from sharedlatent.errors import SharedLatentError
from sharedlatent.figures.renderers import FINGERS, N_JOINTS, SkeletonRenderer

HEIGHT, WIDTH = 60, 80
DEPTH_MARGIN_MM = 150.0
LABEL_CANDIDATES = ("labels.txt", "Training/labels.txt")
__all__ = ["FINGERS", "N_JOINTS", "JointScaling", "SkeletonRenderer", "load_icvl_pair", "read_depth_png"]
JOINT_NAMES = ["palm"] + [f"{finger}{i}" for finger, _, _ in FINGERS for i in (1, 2, 3)]
AXES = ("u", "v", "depth")


@dataclass
class JointScaling:
    """Per-axis (u, v, depth) min-max scaling of joint coordinates, fitted on training joints; invertible."""

    low: list[float]
    high: list[float]

    @classmethod
    def fit(cls, joints: np.ndarray) -> JointScaling:
        by_axis = np.asarray(joints, dtype=np.float64).reshape(-1, N_JOINTS, 3)
        return cls(by_axis.min(axis=(0, 1)).tolist(), by_axis.max(axis=(0, 1)).tolist())

    def spread(self) -> np.ndarray:
        spread = np.asarray(self.high) - np.asarray(self.low)
        return np.where(spread > 0, spread, 1.0)

    def transform(self, joints: np.ndarray) -> np.ndarray:
        by_axis = np.asarray(joints, dtype=np.float64).reshape(-1, N_JOINTS, 3)
        return ((by_axis - self.low) / self.spread()).reshape(-1, N_JOINTS * 3).astype(np.float32)

    def inverse_transform(self, scaled: np.ndarray) -> np.ndarray:
        by_axis = np.asarray(scaled, dtype=np.float64).reshape(-1, N_JOINTS, 3)
        return (by_axis * self.spread() + self.low).reshape(-1, N_JOINTS * 3)

    def to_dict(self) -> dict:
        return {"low": self.low, "high": self.high}


@dataclass
class IcvlFrames:
    """Frames as read: image paths, raw depth maps resized to 60x80 (mm) and joints in pixels and mm."""

    paths: list[Path]
    depth_mm: np.ndarray
    joints: np.ndarray


def read_labels(path: Path) -> tuple[list[str], np.ndarray]:
    """Image paths and (n, 48) joint coordinates from an ICVL label file."""
    if not path.is_file():
        raise SharedLatentError(f"ICVL label file {path} does not exist")
    names, rows = [], []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 1 + 3 * N_JOINTS:
            raise SharedLatentError(
                f"{path}, line {number}: expected an image path and {3 * N_JOINTS} numbers (16 joints x u, v, depth), got {len(fields) - 1} numbers"
            )
        try:
            rows.append([float(value) for value in fields[1:]])
        except ValueError:
            raise SharedLatentError(f"{path}, line {number}: joint coordinates must be numbers") from None
        names.append(fields[0].replace("\\", "/"))
    if not rows:
        raise SharedLatentError(f"ICVL label file {path} has no frames")
    return names, np.asarray(rows)


def find_image(relative: str, label_file: Path, folder: Path) -> Path:
    """The depth image named in a label line, looked up in the documented folders."""
    candidates = [
        label_file.parent / relative,
        label_file.parent / "Depth" / relative,
        folder / relative,
        folder / "Depth" / relative,
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise SharedLatentError(
        f"depth image {relative!r} from {label_file} not found; looked for {', '.join(map(str, candidates))}"
    )


def read_depth_png(path: Path) -> np.ndarray:
    """A 16-bit PNG depth map as float32 millimetres (Pillow reads it in mode 'I;16')."""
    from PIL import Image

    with Image.open(path) as image:
        if image.mode not in ("I;16", "I;16B", "I;16L", "I"):
            raise SharedLatentError(f"{path}: expected a 16-bit greyscale depth PNG, got image mode {image.mode!r}")
        return np.asarray(image).astype(np.float32)


def resize(depth: np.ndarray, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """Nearest-neighbour resize, so missing readings (0) are not blended into hand depths."""
    from PIL import Image

    return np.asarray(Image.fromarray(depth.astype(np.float32)).resize((width, height), Image.Resampling.NEAREST))


def read_frames(label_file: Path, folder: Path, limit: int | None) -> IcvlFrames:
    """The first `limit` frames (all when None) listed in a label file."""
    names, joints = read_labels(label_file)
    names, joints = names[:limit], joints[:limit]
    paths = [find_image(name, label_file, folder) for name in names]
    return IcvlFrames(paths, np.stack([resize(read_depth_png(p)) for p in paths]), joints)


def depth_to_unit(depth_mm: np.ndarray, near_mm: float, far_mm: float) -> np.ndarray:
    """Depth between near and far mapped to [0, 1]; no reading (0) and beyond far become 1."""
    unit = np.clip((depth_mm - near_mm) / max(far_mm - near_mm, 1e-6), 0.0, 1.0)
    return np.where(depth_mm > 0, unit, 1.0).astype(np.float32).reshape(depth_mm.shape[0], -1)


def find_label_file(folder: Path, labels: Path | None) -> Path:
    """The label file: as given (relative to the folder), else labels.txt or Training/labels.txt."""
    if labels is not None:
        return labels if labels.is_absolute() else folder / labels
    for candidate in LABEL_CANDIDATES:
        if (folder / candidate).is_file():
            return folder / candidate
    raise SharedLatentError(
        f"no ICVL label file in {folder}: looked for {', '.join(LABEL_CANDIDATES)}; name one with labels=FILE"
    )


def load_icvl_pair(
    path: str | Path | None = None,
    *,
    labels: str | Path | None = None,
    test_labels: str | Path | None = None,
    test_fraction: float | str = 0.2,
    seed: int | str = 0,
    limit: int | str | None = None,
    near_mm: float | str | None = None,
    far_mm: float | str | None = None,
    left: str = "depth",
    right: str = "joints",
) -> PairedDataset:
    """ICVL depth maps (left) and joints (right); test frames from `test_labels` or a seeded random split."""
    folder = require_path(path, "path")
    if not folder.is_dir():
        raise SharedLatentError(f"ICVL folder {folder} does not exist")
    frames, test_frames, how = find_frames(
        folder, labels=labels, test_labels=test_labels, test_fraction=test_fraction, seed=seed, limit=limit
    )
    depths = frames.joints.reshape(-1, N_JOINTS, 3)[:, :, 2]
    near, far = as_float(near_mm, "near_mm"), as_float(far_mm, "far_mm")
    near = float(depths.min()) - DEPTH_MARGIN_MM if near is None else near
    far = float(depths.max()) + DEPTH_MARGIN_MM if far is None else far
    scaling = JointScaling.fit(frames.joints)
    splits = [
        Split(
            {left: depth_to_unit(f.depth_mm, near, far), right: scaling.transform(f.joints)},
            sample_ids=np.array([str(p) for p in f.paths]),
        )
        for f in (frames, test_frames)
    ]
    description = (
        f"ICVL hands from {folder}: 60x80 depth in [{near:g}, {far:g}] mm vs 16 joints scaled per axis "
        f"(low {scaling.low}, high {scaling.high}); {splits[0].n_samples} train / {splits[1].n_samples} test, {how}"
    )
    dataset = _icvl_dataset(splits[0], splits[1], left=left, right=right, description=description)
    dataset.joint_scaling = scaling  # kept so predictions can go back to pixels and millimetres
    return dataset


def find_frames(
    folder: Path,
    *,
    labels: str | Path | None,
    test_labels: str | Path | None,
    test_fraction: float | str,
    seed: int | str,
    limit: int | str | None,
) -> tuple[IcvlFrames, IcvlFrames, str]:
    """Train and test frames as read from the label files, and how the test frames were chosen."""
    limit = as_int(limit, "limit", minimum=1)
    frames = read_frames(find_label_file(folder, as_path(labels, "labels")), folder, limit)
    if test_labels is not None:
        test_frames = read_frames(find_label_file(folder, as_path(test_labels, "test_labels")), folder, limit)
        return frames, test_frames, f"test frames from {test_labels}"
    train_rows, test_rows, how = split_rows(
        len(frames.paths), as_float(test_fraction, "test_fraction", 0.0, 1.0), as_int(seed, "seed")
    )
    return subset(frames, train_rows), subset(frames, test_rows), how


def _icvl_dataset(train: Split, test: Split, *, left: str, right: str, description: str) -> PairedDataset:
    """The assembled splits with ICVL's renderers and feature names."""
    return PairedDataset(
        name="icvl",
        train=train,
        test=test,
        renderers={left: ImageRenderer(HEIGHT, WIDTH, cmap="gray"), right: SkeletonRenderer()},
        feature_names={
            left: [f"depth_{r}_{c}" for r in range(HEIGHT) for c in range(WIDTH)],
            right: [f"{joint}_{axis}" for joint in JOINT_NAMES for axis in AXES],
        },
        description=description,
    )


def subset(frames: IcvlFrames, rows: np.ndarray) -> IcvlFrames:
    """The frames at `rows`."""
    return IcvlFrames([frames.paths[i] for i in rows], frames.depth_mm[rows], frames.joints[rows])
