"""Figures, each a function of a run's structures and a path: drawn off-screen (Agg), saved as PNG atomically."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch

from sharedlatent.datasets.base import ProfileRenderer, Renderer
from sharedlatent.errors import SharedLatentError
from sharedlatent.evaluation.metrics import per_feature_pearson
from sharedlatent.figures.summary import LayerSummary, ModelSummary, count_parameters
from sharedlatent.storage import atomic_path

if TYPE_CHECKING:  # both import torch; plots only read their fields
    from sharedlatent.evaluation.predictions import RunOutputs
    from sharedlatent.training.loop import History

DPI = 100
DOMAIN_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
SHARED_COLOUR = "#7f7f7f"
LATENT_COLOUR = "#e6a117"
LATENT_METHODS = ("pca", "umap")


def domain_colour(index: int) -> str:
    """A stable colour for the index-th domain."""
    return DOMAIN_COLOURS[index % len(DOMAIN_COLOURS)]


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: str | Path, dpi: int) -> Path:
    """Write `figure` as a PNG that replaces `path` only once complete."""
    path = Path(path)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=dpi, facecolor="white")
    return path


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


def plot_sample_grid(
    outputs: RunOutputs,
    renderers: Mapping[str, Renderer],
    path: str | Path,
    n_samples: int = 10,
    seed: int = 0,
    dpi: int = DPI,
) -> Path:
    """Random samples as columns; per domain, rows of truth, reconstruction, translation, cycle and generated."""
    names = outputs.domain_names
    n_total = outputs.domains[names[0]].truth.shape[0]
    n_columns = max(1, min(n_samples, n_total))
    rng = np.random.default_rng(seed)
    columns = np.sort(rng.choice(n_total, size=n_columns, replace=False))
    groups = {name: sample_grid_rows(outputs, name) for name in names}
    labels = [row.label for rows in groups.values() for row in rows]

    cell = 0.8
    label_width = 0.2 + 0.075 * max(len(label) for label in labels)
    gap = 0.25  # spacer row between domains, in cells
    height_ratios: list[float] = []
    for index, rows in enumerate(groups.values()):
        height_ratios += ([gap] if index else []) + [1.0] * len(rows)
    width = label_width + n_columns * cell + 0.2
    height = 0.6 + sum(height_ratios) * cell * 1.08 + 0.15
    figure = _figure(width, height)
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
    title = f"{n_columns} random samples (columns); generated rows are new pairs, not these samples"
    figure.suptitle(title, fontsize=10, y=1 - 0.1 / height)
    grid_row = 0
    for index, (name, rows) in enumerate(groups.items()):
        grid_row += 1 if index else 0
        renderer = renderers[name]
        axes_of_domain = []
        for row in rows:
            for column, sample in enumerate(columns):
                ax = figure.add_subplot(grid[grid_row, column])
                row_index = sample if row.paired else column  # generated pairs are not test samples
                if row_index < row.samples.shape[0]:
                    renderer(ax, row.samples[row_index])
                    axes_of_domain.append(ax)
                else:
                    ax.set_axis_off()
                if grid_row == 0:
                    ax.set_title(f"#{sample}", fontsize=8, pad=3)
                if column == 0:
                    colour = domain_colour(index)
                    ax.text(
                        -0.12, 0.5, row.label, transform=ax.transAxes, ha="right", va="center", fontsize=9, color=colour
                    )
            grid_row += 1
        if isinstance(renderer, ProfileRenderer):
            _share_profile_range(axes_of_domain, [row.samples for row in rows])
    return _save(figure, path, dpi)


def _share_profile_range(axes: list, arrays: list[np.ndarray]) -> None:
    """One y-range for all bar profiles of a domain, so rows can be compared by eye."""
    low = min(0.0, min(float(np.min(a)) for a in arrays if a.size))
    high = max(float(np.max(a)) for a in arrays if a.size)
    if high <= low:
        high = low + 1.0
    for ax in axes:
        ax.set_ylim(low, high + 0.05 * (high - low))


def plot_loss_curves(history: History, path: str | Path, dpi: int = DPI) -> Path:
    """Train and validation loss per epoch, one panel per stage and phase of the schedule."""
    panels: dict[tuple[int, str], list] = {}
    for record in history.records:
        panels.setdefault((record.stage, record.phase), []).append(record)
    n_panels = max(1, len(panels))
    n_columns = min(n_panels, 4)
    n_rows = -(-n_panels // n_columns)
    notes = list(history.stopped_early)
    figure = _figure(3.6 * n_columns + 0.4, 2.9 * n_rows + 0.3 + 0.2 * len(notes))
    figure.set_layout_engine("constrained")
    axes = figure.subplots(n_rows, n_columns, squeeze=False).ravel()
    for ax in axes[len(panels) :]:
        ax.set_axis_off()
    if not panels:
        axes[0].text(0.5, 0.5, "no training records", ha="center", va="center", transform=axes[0].transAxes)
    for ax, ((stage, phase), records) in zip(axes, panels.items()):
        _draw_loss_panel(ax, stage, phase, records)
    title = f"training loss per sample ({history.seconds:.0f} s)" if history.seconds else "training loss per sample"
    figure.suptitle(title, fontsize=11)
    if notes:
        figure.supxlabel("; ".join(notes), fontsize=8, color="#555555")
    return _save(figure, path, dpi)


def _draw_loss_panel(ax, stage: int, phase: str, records: list) -> None:
    epochs = np.array([r.epoch + 1 for r in records])
    train = np.array([r.train_loss for r in records], dtype=float)
    validation = np.array([np.nan if r.validation_loss is None else r.validation_loss for r in records], dtype=float)
    ax.plot(epochs, train, color="#1f77b4", linewidth=1.4, label="train")
    has_validation = bool(np.isfinite(validation).any())
    if has_validation:
        ax.plot(epochs, validation, color="#d62728", linewidth=1.4, label="validation")
        best = int(np.nanargmin(validation))
        ax.plot(epochs[best], validation[best], "o", color="#d62728", markersize=5)
        point = (epochs[best], validation[best])
        ax.annotate(
            f"best {point[1]:.4g}",
            point,
            xytext=(0, 8),
            textcoords="offset points",
            ha="center",
            fontsize=7,
            color="#d62728",
        )
    values = np.concatenate([train, validation[np.isfinite(validation)]])
    values = values[np.isfinite(values)]
    if values.size and values.min() > 0 and values.max() / values.min() > 20:
        ax.set_yscale("log")
    ax.set_title(f"stage {stage + 1}: {phase}", fontsize=10)
    ax.set_xlabel("epoch", fontsize=9)
    ax.set_ylabel("loss", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, frameon=False)


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
        self, column: float, y: float, height: float, text: str, colour: str, dashed: bool = False, fontsize: float = 8
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


def plot_model_diagram(summary: ModelSummary, path: str | Path, dpi: int = DPI) -> Path:
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
    figure = _figure((right - left) * scale, (top - bottom) * scale + 0.55)
    ax = figure.add_axes((0, 0.35 / figure.get_figheight(), 1, 1 - 0.55 / figure.get_figheight()))
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    ax.set_axis_off()
    canvas = _DiagramCanvas(ax, max(widths))

    merged = _draw_encoders(canvas, summary, columns, band_y)
    shared_end = _draw_latent_and_shared_decoder(canvas, summary, columns, merged)
    _draw_decoders(canvas, summary, columns, band_y, shared_end)

    headers = [
        ((0, columns.encoder_depth), "private encoders"),
        ((columns.shared_start, columns.heads_column - 1), "shared encoder" if summary.shared_encoder else "merge"),
        ((columns.heads_column, columns.latent_column), "latent"),
        ((columns.latent_column + 1, columns.decoder_start - 1), "shared decoder"),
        ((columns.decoder_start, columns.n_columns - 1), "private decoders"),
    ]
    for (first, last), text in headers:
        if last >= first:
            ax.text(
                (first + last) / 2 * step,
                top - 0.12,
                text,
                ha="center",
                va="top",
                fontsize=9,
                color="#555555",
                fontstyle="italic",
            )
    height = figure.get_figheight()
    title = (
        f"Shared latent VAE: {len(names)} domains, latent size {summary.latent_size}, {summary.parameters:,} parameters"
    )
    figure.suptitle(title, fontsize=11, y=1 - 0.08 / height, va="top")
    note = f"box height grows with layer width; dashed boxes are the data; {summary.joining()[0]}"
    figure.text(0.5, 0.12 / height, note, ha="center", va="bottom", fontsize=7.5, color="#555555")
    return _save(figure, path, dpi)


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


def project_latent(encodings: np.ndarray, method: str = "pca", seed: int = 0) -> tuple[np.ndarray, str]:
    """2-D coordinates of latent vectors and a description of the projection (PCA when umap is not installed)."""
    if method not in LATENT_METHODS:
        raise SharedLatentError(f"unknown latent projection {method!r}; choose one of {', '.join(LATENT_METHODS)}")
    encodings = np.asarray(encodings, dtype=np.float64)
    if method == "umap":
        try:
            import umap
        except ImportError:
            return _pca(encodings, seed, "PCA, umap not installed")
        return umap.UMAP(n_components=2, random_state=seed).fit_transform(encodings), "UMAP"
    return _pca(encodings, seed, "PCA")


def _pca(encodings: np.ndarray, seed: int, name: str) -> tuple[np.ndarray, str]:
    if encodings.shape[1] == 1:
        return np.column_stack([encodings[:, 0], np.zeros(len(encodings))]), "1-D latent"
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2, random_state=seed).fit(encodings)
    shares = pca.explained_variance_ratio_ * 100
    return pca.transform(encodings), f"{name}: {shares[0]:.0f}% + {shares[1]:.0f}% of variance"


def plot_latent_space(
    outputs: RunOutputs,
    path: str | Path,
    method: str = "pca",
    n_links: int = 30,
    max_points: int = 5000,
    seed: int = 0,
    dpi: int = DPI,
) -> Path:
    """Each domain's encodings in 2-D: coloured by label (when there are labels) and by domain, with paired links."""
    names = outputs.domain_names
    n_total = outputs.domains[names[0]].encoding.shape[0]
    rng = np.random.default_rng(seed)
    shown = np.sort(rng.choice(n_total, size=min(n_total, max_points), replace=False))
    stacked = np.concatenate([outputs.domains[name].encoding[shown] for name in names])
    points, projection = project_latent(stacked, method, seed)
    by_domain = {name: points[i * len(shown) : (i + 1) * len(shown)] for i, name in enumerate(names)}
    labels = None if outputs.labels is None else np.asarray(outputs.labels)[shown]

    n_panels = 2 if labels is not None else 1
    figure = _figure(5.6 * n_panels + 0.8, 5.0)
    figure.set_layout_engine("constrained")
    axes = figure.subplots(1, n_panels, squeeze=False).ravel()
    size = float(np.clip(12000 / max(len(stacked), 1), 3, 30))
    if labels is not None:
        _draw_by_label(axes[0], by_domain, labels, size)
    ax = axes[-1]
    links = rng.choice(len(shown), size=min(n_links, len(shown)), replace=False)
    for row in links:
        line = np.array([by_domain[name][row] for name in names])
        ax.plot(line[:, 0], line[:, 1], color="black", linewidth=0.8, alpha=0.8, zorder=3)  # above the points
    for index, name in enumerate(names):
        points = by_domain[name]
        ax.scatter(
            *points.T, s=size, color=domain_colour(index), alpha=0.6, linewidths=0, label=f"{name} alone", zorder=2
        )
    ax.set_title(f"by domain; lines join {len(links)} pairs", fontsize=10)
    ax.legend(
        fontsize=8, markerscale=max(1.0, 20 / size) ** 0.5, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False
    )
    for ax in axes:
        ax.set_xlabel("component 1", fontsize=9)
        ax.set_ylabel("component 2", fontsize=9)
        ax.tick_params(labelsize=8)
    figure.suptitle(f"latent space of each domain's encodings ({projection})", fontsize=11)
    return _save(figure, path, dpi)


MARKERS = ("o", "^", "s", "D", "v", "P", "X", "*")


def _draw_by_label(ax, by_domain: dict[str, np.ndarray], labels: np.ndarray, size: float) -> None:
    """Every domain's points coloured by label, one marker shape per domain."""
    values = np.unique(labels)
    if values.size <= 20:  # a legend entry per label; more read better as a colour scale
        from matplotlib import colormaps

        palette = colormaps["tab10" if values.size <= 10 else "tab20"]
        for index, value in enumerate(values):
            for marker, points in zip(MARKERS, by_domain.values()):
                chosen = labels == value
                ax.scatter(*points[chosen].T, s=size, color=palette(index), marker=marker, alpha=0.6, linewidths=0)
            ax.scatter([], [], s=30, color=palette(index), label=str(value))
        ax.legend(
            fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, title="label", title_fontsize=8
        )
    else:
        numeric = labels.dtype.kind in "fiu"
        codes = labels.astype(float) if numeric else np.unique(labels, return_inverse=True)[1].astype(float)
        for marker, points in zip(MARKERS, by_domain.values()):
            scatter = ax.scatter(*points.T, c=codes, s=size, cmap="viridis", marker=marker, alpha=0.6, linewidths=0)
        ax.figure.colorbar(scatter, ax=ax, label="label")
    detail = ", ".join(f"{marker} {name}" for marker, name in zip(MARKERS, by_domain))
    ax.set_title(f"by label (markers: {detail})", fontsize=10)


def plot_interpolation(
    decoded: Mapping[str, np.ndarray], renderers: Mapping[str, Renderer], path: str | Path, dpi: int = DPI
) -> Path:
    """Decoded steps of a latent interpolation: one row per domain, one column per step."""
    steps = {name: np.asarray(values).shape[0] for name, values in decoded.items()}
    if not steps or len(set(steps.values())) != 1:
        raise SharedLatentError(f"interpolation needs the same number of steps in every domain, got {steps}")
    n_steps = next(iter(steps.values()))
    cell = 0.9
    label_width = 0.3 + 0.08 * max(len(name) for name in decoded)
    width, height = label_width + n_steps * cell + 0.2, 0.55 + len(decoded) * cell * 1.1 + 0.15
    figure = _figure(width, height)
    margins = dict(left=label_width / width, right=1 - 0.2 / width, top=1 - 0.55 / height, bottom=0.15 / height)
    grid = figure.add_gridspec(len(decoded), n_steps, wspace=0.08, hspace=0.1, **margins)
    fractions = np.linspace(0.0, 1.0, n_steps)
    for row, (name, values) in enumerate(decoded.items()):
        for column in range(n_steps):
            ax = figure.add_subplot(grid[row, column])
            renderers[name](ax, np.asarray(values)[column])
            if row == 0:
                ax.set_title(f"t={fractions[column]:.2f}", fontsize=8, pad=3)
            if column == 0:
                ax.text(
                    -0.12,
                    0.5,
                    name,
                    transform=ax.transAxes,
                    ha="right",
                    va="center",
                    fontsize=9,
                    color=domain_colour(row),
                )
    figure.suptitle("decoded latent interpolation between two samples", fontsize=10, y=1 - 0.1 / height)
    return _save(figure, path, dpi)


def plot_feature_scatter(
    truth: np.ndarray,
    prediction: np.ndarray,
    feature_names: Sequence[str] | None,
    path: str | Path,
    n_best: int = 3,
    n_worst: int = 3,
    title: str = "",
    max_points: int = 5000,
    dpi: int = DPI,
) -> Path:
    """Predicted against true values for the best and worst features by Pearson r, with the y = x line."""
    truth, prediction = np.asarray(truth, dtype=float), np.asarray(prediction, dtype=float)
    correlations = per_feature_pearson(truth, prediction)
    names = list(feature_names) if feature_names is not None else [f"feature {i}" for i in range(truth.shape[1])]
    if len(names) != truth.shape[1]:
        raise SharedLatentError(f"got {len(names)} feature names for {truth.shape[1]} features")
    defined = np.flatnonzero(~np.isnan(correlations))
    ranked = defined[np.argsort(-correlations[defined], kind="stable")]
    if len(ranked) <= n_best + n_worst:
        rows = [("", list(ranked))]  # too few to split into best and worst: all of them, best first
    else:
        rows = [("best", list(ranked[:n_best])), ("worst", list(ranked[len(ranked) - n_worst :]))]
    n_columns = max(1, max(len(chosen) for _, chosen in rows))
    figure = _figure(3.0 * n_columns + 0.6, 3.0 * len(rows) + 0.5)
    figure.set_layout_engine("compressed")  # the constrained layout made for square panels
    axes = figure.subplots(len(rows), n_columns, squeeze=False)
    shown = np.random.default_rng(0).choice(truth.shape[0], size=min(truth.shape[0], max_points), replace=False)
    for row, (heading, chosen) in enumerate(rows):
        for column in range(n_columns):
            ax = axes[row, column]
            if column >= len(chosen):
                ax.set_axis_off()
                continue
            feature = chosen[column]
            x, y = truth[shown, feature], prediction[shown, feature]
            ax.scatter(x, y, s=8, alpha=0.5, linewidths=0, color="#1f77b4" if row == 0 else "#d62728")
            low, high = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
            pad = 0.05 * (high - low or 1.0)
            ax.plot([low - pad, high + pad], [low - pad, high + pad], "--", color="#555555", linewidth=0.8)
            ax.set_xlim(low - pad, high + pad)
            ax.set_ylim(low - pad, high + pad)
            ax.set_box_aspect(1)  # square panels, so the y = x line runs corner to corner
            tag = f" ({heading})" if heading else ""
            ax.set_title(f"{names[feature]}\nr = {correlations[feature]:.3f}{tag}", fontsize=9)
            ax.set_xlabel("true", fontsize=8)
            ax.set_ylabel("predicted", fontsize=8)
            ax.tick_params(labelsize=7)
    if not defined.size:
        axes[0, 0].text(
            0.5, 0.5, "every feature is constant: r undefined", ha="center", va="center", transform=axes[0, 0].transAxes
        )
    figure.suptitle(title or "predicted vs true, best and worst features by Pearson r", fontsize=10)
    return _save(figure, path, dpi)
