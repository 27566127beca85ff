"""What every figure shares: an off-screen (Agg) figure, an atomic PNG save, the resolution and the colours."""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sharedlatent.storage import atomic_path

DPI = 100
DOMAIN_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
SHARED_COLOUR = "#7f7f7f"
LATENT_COLOUR = "#e6a117"


def domain_colour(index: int) -> str:
    """A stable colour for the index-th domain."""
    return DOMAIN_COLOURS[index % len(DOMAIN_COLOURS)]


def new_figure(width: float, height: float) -> Figure:
    """A figure of `width` x `height` inches drawn off-screen, so no display is needed."""
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure


def save_png(figure: Figure, path: str | Path, dpi: int) -> Path:
    """Write `figure` as a PNG that replaces `path` only once complete."""
    path = Path(path)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=dpi, facecolor="white")
    return path
