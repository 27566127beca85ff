"""How one sample of a domain is drawn into a matplotlib Axes for the figure grids: as an image, a bar profile or
a hand skeleton. Plain callables; they never import matplotlib themselves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

N_JOINTS = 16  # a hand as ICVL annotates it: the palm, then three joints per finger, root to tip
FINGERS = (
    ("thumb", (1, 2, 3), "#d62728"),
    ("index", (4, 5, 6), "#ff7f0e"),
    ("middle", (7, 8, 9), "#2ca02c"),
    ("ring", (10, 11, 12), "#1f77b4"),
    ("pinky", (13, 14, 15), "#9467bd"),
)


class Renderer(Protocol):
    """Draws one sample of a domain into a matplotlib Axes (for the figure grid)."""

    def __call__(self, ax, values: np.ndarray) -> None: ...


@dataclass(frozen=True)
class ImageRenderer:
    """Shows a flat vector as a (height, width) grey image."""

    height: int
    width: int
    cmap: str = "gray"
    vmin: float | None = 0.0
    vmax: float | None = 1.0

    def image(self, values: np.ndarray) -> np.ndarray:
        """`values` as the (height, width) array shown."""
        return np.asarray(values, dtype=float).reshape(self.height, self.width)

    def __call__(self, ax, values: np.ndarray) -> None:
        ax.imshow(self.image(values), cmap=self.cmap, vmin=self.vmin, vmax=self.vmax)
        ax.set_xticks([])
        ax.set_yticks([])


@dataclass(frozen=True)
class ProfileRenderer:
    """Shows a flat vector as a bar profile: the fallback for tabular domains (log1p for counts, whose few large
    values would otherwise flatten every other bar)."""

    log1p: bool = False

    def shown(self, values: np.ndarray) -> np.ndarray:
        """The heights drawn for `values`."""
        values = np.asarray(values, dtype=float)
        return np.log1p(np.clip(values, 0, None)) if self.log1p else values

    def __call__(self, ax, values: np.ndarray) -> None:
        values = self.shown(values).ravel()
        ax.bar(np.arange(values.size), values, width=1.0, color="#3b6ea8")
        ax.set_xticks([])
        ax.set_yticks([])


@dataclass(frozen=True)
class SkeletonRenderer:
    """Draws 16 joints (u, v, depth triples) as a hand: palm to each finger tip, one colour per finger."""

    def __call__(self, ax, values: np.ndarray) -> None:
        joints = np.asarray(values, dtype=float).reshape(N_JOINTS, 3)
        for _, chain, colour in FINGERS:
            path = joints[[0, *chain]]
            ax.plot(path[:, 0], path[:, 1], "-o", color=colour, linewidth=2, markersize=3)
        ax.plot(joints[0, 0], joints[0, 1], "o", color="black", markersize=5)
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(1.05, -0.05)  # image rows grow downwards
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
