"""The sample grid: random test samples as columns; per domain, rows of truth, reconstruction, translation, cycle
and generated samples, each drawn by the domain's renderer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpec
from matplotlib.patches import Rectangle

from sharedlatent.evaluation.predictions import RunOutputs
from sharedlatent.figures.canvas import DPI, domain_colour, new_figure, save_png
from sharedlatent.figures.renderers import ImageRenderer, ProfileRenderer, Renderer

CELL_INCHES = 0.8
DOMAIN_GAP = 0.25  # spacer row between domains, in cells
TITLE_PAD_INCHES = 3 / 72  # a column title's gap above its image (matplotlib's title pad: 3 points)
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
    """An image row drawn into one axes spanning the row instead of one axes per cell (a fraction of the drawing
    time): each image where its own axes would have shown it (centred in its grid cell, undistorted), framed, with
    the same labels and titles as `_draw_row`. Data coordinates are figure inches, so boxes keep their shape."""
    width_in, height_in = figure.get_size_inches()
    ax = figure.add_subplot(grid[grid_row, :])
    span = ax.get_position()
    for column, sample in enumerate(columns):
        row_index = sample if row.paired else column  # generated pairs are not test samples
        cell = grid[grid_row, column].get_position(figure)
        left, bottom, width, height = fitted_box(
            (cell.x0 * width_in, cell.y0 * height_in, cell.width * width_in, cell.height * height_in),
            renderer.height,
            renderer.width,
        )
        if row_index < row.samples.shape[0]:
            extent = (left, left + width, bottom, bottom + height)
            ax.imshow(
                renderer.image(row.samples[row_index]),
                cmap=renderer.cmap,
                vmin=renderer.vmin,
                vmax=renderer.vmax,
                extent=extent,
                aspect="auto",
                interpolation="nearest",
            )
            ax.add_patch(Rectangle((left, bottom), width, height, fill=False, linewidth=0.8, zorder=3, clip_on=False))
        if grid_row == 0:
            title_y = bottom + height + TITLE_PAD_INCHES
            ax.text(left + width / 2, title_y, f"#{sample}", ha="center", va="bottom", fontsize=8, clip_on=False)
    ax.set_xlim(span.x0 * width_in, span.x1 * width_in)
    ax.set_ylim(span.y0 * height_in, span.y1 * height_in)
    ax.set_axis_off()
    label_x = (grid[grid_row, 0].get_position(figure).x0 - span.x0) / span.width - 0.12 / len(columns)
    ax.text(label_x, 0.5, row.label, transform=ax.transAxes, ha="right", va="center", fontsize=9, color=colour)
    return []


def fitted_box(cell: tuple[float, float, float, float], height: int, width: int) -> tuple[float, float, float, float]:
    """(left, bottom, width, height) of a `height` x `width` image scaled to fit `cell` (left, bottom, width,
    height) and centred in it, as imshow with equal aspect shows an image in its axes."""
    left, bottom, cell_width, cell_height = cell
    scale = min(cell_width / width, cell_height / height)
    shown_width, shown_height = width * scale, height * scale
    return left + (cell_width - shown_width) / 2, bottom + (cell_height - shown_height) / 2, shown_width, shown_height


def _share_profile_range(axes: list, arrays: list[np.ndarray]) -> None:
    """One y-range for all bar profiles of a domain, so rows can be compared by eye."""
    low = min(0.0, min(float(np.min(a)) for a in arrays if a.size))
    high = max(float(np.max(a)) for a in arrays if a.size)
    if high <= low:
        high = low + 1.0
    for ax in axes:
        ax.set_ylim(low, high + 0.05 * (high - low))
