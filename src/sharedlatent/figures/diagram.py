"""The model as a picture: a box per layer (height grows with width), arrows along the data flow, parameter counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.patches import Circle, FancyBboxPatch

from sharedlatent.figures.canvas import DPI, LATENT_COLOUR, SHARED_COLOUR, domain_colour, new_figure, save_png
from sharedlatent.figures.summary import LayerSummary, ModelSummary, count_parameters


@dataclass(frozen=True)
class _Box:
    x: float
    y: float
    height: float
    half_width: float


class _DiagramCanvas:
    """Rounded boxes, arrows and captions on a grid of columns, in diagram units."""

    step, box_width = 1.2, 0.9

    def __init__(self, ax, widest: int) -> None:
        self.ax, self.widest = ax, widest

    def height(self, width: int, cap: float = 0.95) -> float:
        """Box height: grows with the square root of the layer width."""
        return 0.35 + (cap - 0.35) * float(np.sqrt(width / self.widest))

    def box(
        self,
        column: float,
        y: float,
        height: float,
        text: str,
        colour: str,
        *,
        dashed: bool = False,
        fontsize: float = 8,
    ) -> _Box:
        x = column * self.step
        corner, style = (x - self.box_width / 2, y - height / 2), "round,pad=0,rounding_size=0.08"
        shape = dict(width=self.box_width, height=height, boxstyle=style)
        self.ax.add_patch(
            FancyBboxPatch(corner, **shape, facecolor=colour, alpha=0.06 if dashed else 0.18, edgecolor="none")
        )
        self.ax.add_patch(
            FancyBboxPatch(
                corner, **shape, facecolor="none", edgecolor=colour, linewidth=1.2, linestyle="--" if dashed else "-"
            )
        )
        self.ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, linespacing=1.1)
        return _Box(x, y, height, self.box_width / 2)

    def node(self, column: float, y: float, text: str) -> _Box:
        """A small circle where branches meet."""
        x = column * self.step
        radius = 0.26
        self.ax.add_patch(Circle((x, y), radius, facecolor="white", edgecolor=SHARED_COLOUR, linewidth=1.2))
        self.ax.text(x, y, text, ha="center", va="center", fontsize=7)
        return _Box(x, y, 2 * radius, radius)

    def arrow(self, start: _Box, end: _Box) -> None:
        self.ax.annotate(
            "",
            xy=(end.x - end.half_width, end.y),
            xytext=(start.x + start.half_width, start.y),
            arrowprops=dict(arrowstyle="-|>", color="#444444", linewidth=1.0, shrinkA=1, shrinkB=1, mutation_scale=9),
        )

    def chain(
        self,
        first_column: int,
        y: float,
        layers: Sequence[LayerSummary],
        colour: str,
        previous: _Box | None,
        *,
        last_dashed: bool = False,
    ) -> list[_Box]:
        """One box per layer in consecutive columns, each fed by an arrow from the one before."""
        boxes = []
        for offset, layer in enumerate(layers):
            text = f"{layer.out_width}\n{layer.activation}" if layer.activation else str(layer.out_width)
            dashed = last_dashed and offset == len(layers) - 1
            box = self.box(first_column + offset, y, self.height(layer.out_width), text, colour, dashed=dashed)
            if previous is not None:
                self.arrow(previous, box)
            boxes.append(previous := box)
        return boxes

    def caption(self, x: float, boxes: Sequence[_Box], text: str, colour: str = "#333333", ha: str = "center") -> None:
        """Small text just under the lowest of `boxes`."""
        lowest = min(box.y - box.height / 2 for box in boxes)
        self.ax.text(x, lowest - 0.06, text, ha=ha, va="top", fontsize=7.5, color=colour)


@dataclass(frozen=True)
class _DiagramColumns:
    """Where each block of the model diagram sits, in columns from the left."""

    encoder_depth: int
    shared_start: int
    heads_column: int
    latent_column: int
    decoder_start: int
    n_columns: int

    @classmethod
    def of(cls, summary: ModelSummary) -> _DiagramColumns:
        names = summary.domain_names
        encoder_depth = max(len(summary.encoders[n]) for n in names)
        shared_start = encoder_depth + 1
        heads_column = shared_start + max(
            1, len(summary.shared_encoder)
        )  # without shared layers a merge node takes the column
        latent_column = heads_column + 1
        decoder_start = latent_column + 1 + len(summary.shared_decoder)
        n_columns = decoder_start + max(len(summary.decoders[n]) for n in names)
        return cls(encoder_depth, shared_start, heads_column, latent_column, decoder_start, n_columns)


def plot_model_diagram(summary: ModelSummary, path: str | Path, *, dpi: int = DPI) -> Path:
    """Boxes for every layer (height grows with width), arrows along the data flow, parameter counts per block."""
    names = summary.domain_names
    layers = [*summary.encoders.values(), *summary.decoders.values(), summary.shared_encoder, summary.shared_decoder]
    widths = (
        [summary.input_sizes[n] for n in names]
        + [summary.latent_size]
        + [layer.out_width for group in layers for layer in group]
    )
    columns = _DiagramColumns.of(summary)
    band = 1.75
    band_y = {name: ((len(names) - 1) / 2 - index) * band for index, name in enumerate(names)}
    top = max(band_y.values()) + 0.5 + 0.55  # room for the block headers
    bottom = min(band_y.values()) - 0.5 - 0.35  # room for the captions
    step = _DiagramCanvas.step
    left, right = -1.3, (columns.n_columns - 1) * step + 1.3

    scale = 0.85  # inches per diagram unit
    figure = new_figure((right - left) * scale, (top - bottom) * scale + 0.55)
    ax = figure.add_axes((0, 0.35 / figure.get_figheight(), 1, 1 - 0.55 / figure.get_figheight()))
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    ax.set_axis_off()
    canvas = _DiagramCanvas(ax, max(widths))

    merged = _draw_encoders(canvas, summary, columns, band_y)
    shared_end = _draw_latent_and_shared_decoder(canvas, summary, columns, merged)
    _draw_decoders(canvas, summary, columns, band_y, shared_end)

    _draw_headers(ax, summary, columns, top)
    height = figure.get_figheight()
    title = (
        f"Shared latent VAE: {len(names)} domains, latent size {summary.latent_size}, {summary.parameters:,} parameters"
    )
    figure.suptitle(title, fontsize=11, y=1 - 0.08 / height, va="top")
    note = f"box height grows with layer width; dashed boxes are the data; {summary.joining()[0]}"
    figure.text(0.5, 0.12 / height, note, ha="center", va="bottom", fontsize=7.5, color="#555555")
    return save_png(figure, path, dpi)


def _draw_headers(ax, summary: ModelSummary, columns: _DiagramColumns, top: float) -> None:
    """The name of each block above its columns."""
    headers = [
        ((0, columns.encoder_depth), "private encoders"),
        ((columns.shared_start, columns.heads_column - 1), "shared encoder" if summary.shared_encoder else "merge"),
        ((columns.heads_column, columns.latent_column), "latent"),
        ((columns.latent_column + 1, columns.decoder_start - 1), "shared decoder"),
        ((columns.decoder_start, columns.n_columns - 1), "private decoders"),
    ]
    for (first, last), text in headers:
        if last >= first:
            middle = (first + last) / 2 * _DiagramCanvas.step
            ax.text(middle, top - 0.12, text, ha="center", va="top", fontsize=9, color="#555555", fontstyle="italic")


def _draw_encoders(
    canvas: _DiagramCanvas, summary: ModelSummary, columns: _DiagramColumns, band_y: dict[str, float]
) -> _Box:
    """Each domain's input and private encoder, then the shared encoder (or a merge node); returns where they meet."""
    half = canvas.box_width / 2
    encoder_ends = []
    for index, name in enumerate(summary.domain_names):
        colour, y, encoder = domain_colour(index), band_y[name], summary.encoders[name]
        first = columns.encoder_depth - len(encoder)  # chains end in the same column however deep they are
        data = canvas.box(
            first,
            y,
            canvas.height(summary.input_sizes[name]),
            f"{summary.input_sizes[name]}\ninput",
            colour,
            dashed=True,
        )
        canvas.ax.text(
            data.x - half - 0.12, y, name, ha="right", va="center", fontsize=10, fontweight="bold", color=colour
        )
        boxes = [data] + canvas.chain(first + 1, y, encoder, colour, data)
        canvas.caption(
            boxes[-1].x + half, boxes, f"{name} encoder: {count_parameters(encoder):,} params", colour, ha="right"
        )
        encoder_ends.append(boxes[-1])

    if summary.shared_encoder:
        shared = canvas.chain(columns.shared_start, 0.0, summary.shared_encoder, SHARED_COLOUR, None)
        for end in encoder_ends:
            canvas.arrow(end, shared[0])
        canvas.caption((shared[0].x + shared[-1].x) / 2, shared, f"{count_parameters(summary.shared_encoder):,} params")
        return shared[-1]
    merged = canvas.node(columns.shared_start, 0.0, summary.joining()[1])
    for end in encoder_ends:
        canvas.arrow(end, merged)
    return merged


def _draw_latent_and_shared_decoder(
    canvas: _DiagramCanvas, summary: ModelSummary, columns: _DiagramColumns, merged: _Box
) -> _Box:
    """The z_mean / z_log_sigma heads, the sampled z and the shared decoder; returns the last box before the private decoders."""
    head_height = canvas.height(summary.latent_size, cap=0.7)
    head_offset = max(0.5, head_height / 2 + 0.12)
    heads = [
        canvas.box(
            columns.heads_column,
            head_offset,
            head_height,
            f"z_mean\n{summary.latent_size}",
            LATENT_COLOUR,
            fontsize=7.5,
        ),
        canvas.box(
            columns.heads_column,
            -head_offset,
            head_height,
            f"z_log_sigma\n{summary.latent_size}",
            LATENT_COLOUR,
            fontsize=7.5,
        ),
    ]
    latent = canvas.box(
        columns.latent_column,
        0.0,
        canvas.height(summary.latent_size),
        f"z\n{summary.latent_size}",
        LATENT_COLOUR,
        fontsize=9,
    )
    for head in heads:
        canvas.arrow(merged, head)
        canvas.arrow(head, latent)
    canvas.caption(
        heads[1].x, heads[1:], f"heads\n{summary.z_mean.parameters + summary.z_log_sigma.parameters:,} params"
    )
    canvas.caption(latent.x, [latent], "mean + σ·ε")

    if not summary.shared_decoder:
        return latent
    shared = canvas.chain(columns.latent_column + 1, 0.0, summary.shared_decoder, SHARED_COLOUR, latent)
    canvas.caption((shared[0].x + shared[-1].x) / 2, shared, f"{count_parameters(summary.shared_decoder):,} params")
    return shared[-1]


def _draw_decoders(
    canvas: _DiagramCanvas, summary: ModelSummary, columns: _DiagramColumns, band_y: dict[str, float], shared_end: _Box
) -> None:
    """Each domain's private decoder, fed from `shared_end`, with its likelihood in the caption."""
    half = canvas.box_width / 2
    for index, name in enumerate(summary.domain_names):
        colour, y, decoder = domain_colour(index), band_y[name], summary.decoders[name]
        if not decoder:
            continue
        boxes = canvas.chain(columns.decoder_start, y, decoder, colour, shared_end, last_dashed=True)
        canvas.ax.text(
            boxes[-1].x + half + 0.12, y, name, ha="left", va="center", fontsize=10, fontweight="bold", color=colour
        )
        likelihood = f" ({summary.likelihood_text(name)})" if summary.likelihood_text(name) else ""
        canvas.caption(
            boxes[0].x - half,
            boxes,
            f"{name} decoder: {count_parameters(decoder):,} params{likelihood}",
            colour,
            ha="left",
        )
