"""The sample grid: random test samples as columns; per domain, rows of truth, reconstruction, translation, cycle
and generated samples, each drawn by the domain's renderer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpec
from matplotlib.patches import Rectangle

from sharedlatent.evaluation.predictions import RunOutputs
from sharedlatent.figures.canvas import DPI, domain_colour, new_figure, save_png
from sharedlatent.figures.renderers import ImageRenderer, ProfileRenderer, Renderer

CELL_INCHES = 0.8
DOMAIN_GAP = 0.25  # spacer row between domains, in cells
IMAGE_GAP = 0.1  # white space between the images of a row, as a share of an image's width
TITLE_INCHES = 6.5  # the narrowest figure whose title line fits


@dataclass(frozen=True)
class GridRow:
    """One row of the sample grid: its label, the samples, and whether row i belongs to test sample i."""

    label: str
    samples: np.ndarray
    paired: bool = True


def sample_grid_rows(outputs: RunOutputs, domain: str) -> list[GridRow]:
    """The grid's rows for one domain; translation and cycle use the first other domain."""
    result = outputs.domains[domain]
    rows = [GridRow(f"{domain}: truth", result.truth), GridRow(f"{domain}: reconstruction", result.reconstruction)]
    others = [name for name in outputs.domain_names if name != domain and name in result.translated]
    if others:
        rows.append(GridRow(f"{domain}: from {others[0]}", result.translated[others[0]]))
    if others and others[0] in result.cycled:
        rows.append(GridRow(f"{domain}: cycle via {others[0]}", result.cycled[others[0]]))
    rows.append(GridRow(f"{domain}: generated", result.generated, paired=False))
    return rows


def _grid_layout(groups: Mapping[str, list[GridRow]], n_columns: int) -> tuple[Figure, GridSpec]:
    """A figure sized to the rows and their labels, and its gridspec (a thin spacer row between domains)."""
    labels = [row.label for rows in groups.values() for row in rows]
    label_width = 0.2 + 0.075 * max(len(label) for label in labels)
    height_ratios: list[float] = []
    for index, rows in enumerate(groups.values()):
        height_ratios += ([DOMAIN_GAP] if index else []) + [1.0] * len(rows)
    label_width = max(label_width, TITLE_INCHES - n_columns * CELL_INCHES - 0.2)  # few columns: room for the title
    width = label_width + n_columns * CELL_INCHES + 0.2
    height = 0.6 + sum(height_ratios) * CELL_INCHES * 1.08 + 0.15
    figure = new_figure(width, height)
    grid = figure.add_gridspec(
        len(height_ratios),
        n_columns,
        height_ratios=height_ratios,
        left=label_width / width,
        right=1 - 0.2 / width,
        top=1 - 0.6 / height,
        bottom=0.15 / height,
        wspace=0.08,
        hspace=0.08,
    )
    return figure, grid


def plot_sample_grid(
    outputs: RunOutputs,
    renderers: Mapping[str, Renderer],
    path: str | Path,
    *,
    n_samples: int = 10,
    seed: int = 0,
    dpi: int = DPI,
) -> Path:
    """Random samples as columns; per domain, rows of truth, reconstruction, translation, cycle and generated."""
    names = outputs.domain_names
    n_total = outputs.domains[names[0]].truth.shape[0]
    n_columns = max(1, min(n_samples, n_total))
    columns = np.sort(np.random.default_rng(seed).choice(n_total, size=n_columns, replace=False))
    groups = {name: sample_grid_rows(outputs, name) for name in names}
    figure, grid = _grid_layout(groups, n_columns)
    title = f"{n_columns} random samples (columns); generated rows are new pairs, not these samples"
    figure.suptitle(title, fontsize=10, y=1 - 0.1 / figure.get_figheight())
    grid_row = 0
    for index, (name, rows) in enumerate(groups.items()):
        grid_row += 1 if index else 0
        axes_of_domain = []
        for row in rows:
            draw = _draw_image_row if isinstance(renderers[name], ImageRenderer) else _draw_row
            axes_of_domain += draw(figure, grid, grid_row, row, columns, renderers[name], domain_colour(index))
            grid_row += 1
        if isinstance(renderers[name], ProfileRenderer):
            _share_profile_range(axes_of_domain, [renderers[name].shown(row.samples) for row in rows])
    return save_png(figure, path, dpi)


def _draw_row(
    figure: Figure, grid: GridSpec, grid_row: int, row: GridRow, columns: np.ndarray, renderer: Renderer, colour: str
) -> list:
    """One grid row, labelled at its left; returns the axes that show a sample."""
    drawn = []
    for column, sample in enumerate(columns):
        ax = figure.add_subplot(grid[grid_row, column])
        row_index = sample if row.paired else column  # generated pairs are not test samples
        if row_index < row.samples.shape[0]:
            renderer(ax, row.samples[row_index])
            drawn.append(ax)
        else:
            ax.set_axis_off()
        if grid_row == 0:
            ax.set_title(f"#{sample}", fontsize=8, pad=3)
        if column == 0:
            ax.text(-0.12, 0.5, row.label, transform=ax.transAxes, ha="right", va="center", fontsize=9, color=colour)
    return drawn


def _draw_image_row(
    figure: Figure,
    grid: GridSpec,
    grid_row: int,
    row: GridRow,
    columns: np.ndarray,
    renderer: ImageRenderer,
    colour: str,
) -> list:
    """An image row as one picture of its cells side by side (one axes instead of one per cell: drawing a grid of
    images this way takes a fraction of the time); same layout, labels and titles as `_draw_row`."""
    ax = figure.add_subplot(grid[grid_row, :])
    images = [
        renderer.image(row.samples[index]) if index < row.samples.shape[0] else None
        for index in (columns if row.paired else range(len(columns)))  # generated pairs are not test samples
    ]
    mosaic, corners, centres = image_mosaic(images, renderer.height, renderer.width)
    for corner in corners:  # a frame per image, as each had its own axes
        ax.add_patch(Rectangle(corner, renderer.width, renderer.height, fill=False, lw=0.8, zorder=3, clip_on=False))
    if grid_row == 0:
        for centre, sample in zip(centres, columns, strict=True):
            ax.text(centre, -0.04 * mosaic.shape[0] - 0.5, f"#{sample}", ha="center", va="bottom", fontsize=8)
    cmap = matplotlib.colormaps[renderer.cmap].with_extremes(bad="white")
    ax.imshow(mosaic, cmap=cmap, vmin=renderer.vmin, vmax=renderer.vmax, aspect="auto", interpolation="nearest")
    ax.set_axis_off()
    ax.text(
        -0.12 / len(columns), 0.5, row.label, transform=ax.transAxes, ha="right", va="center", fontsize=9, color=colour
    )
    return []


def image_mosaic(
    images: list[np.ndarray | None], height: int, width: int
) -> tuple[np.ndarray, list[tuple[float, float]], list[float]]:
    """The images side by side in square cells (each centred, undistorted) with gaps of IMAGE_GAP, NaN wherever no
    image is (None leaves a cell empty); each drawn image's top-left corner and every cell's centre column, in
    imshow's pixel coordinates."""
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    gap = max(1, round(IMAGE_GAP * side))
    step = side + gap
    mosaic = np.full((side, step * len(images) - gap), np.nan)
    corners = []
    for column, image in enumerate(images):
        if image is not None:
            start = column * step + left
            mosaic[top : top + height, start : start + width] = image
            corners.append((start - 0.5, top - 0.5))
    return mosaic, corners, [column * step + (side - 1) / 2 for column in range(len(images))]


def _share_profile_range(axes: list, arrays: list[np.ndarray]) -> None:
    """One y-range for all bar profiles of a domain, so rows can be compared by eye."""
    low = min(0.0, min(float(np.min(a)) for a in arrays if a.size))
    high = max(float(np.max(a)) for a in arrays if a.size)
    if high <= low:
        high = low + 1.0
    for ax in axes:
        ax.set_ylim(low, high + 0.05 * (high - low))
