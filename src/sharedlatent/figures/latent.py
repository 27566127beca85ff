"""The latent space: every domain's encodings projected to 2-D, and decoded steps of a latent interpolation."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from sharedlatent.errors import SharedLatentError
from sharedlatent.evaluation.predictions import RunOutputs
from sharedlatent.figures.canvas import DPI, domain_colour, new_figure, save_png
from sharedlatent.figures.renderers import Renderer
from sharedlatent.svd import thin_svd

LATENT_METHODS = ("pca", "umap")
MARKERS = ("o", "^", "s", "D", "v", "P", "X", "*")


def project_latent(encodings: np.ndarray, method: str = "pca", seed: int = 0) -> tuple[np.ndarray, str]:
    """2-D coordinates of latent vectors and a description of the projection (PCA when umap is not installed)."""
    if method not in LATENT_METHODS:
        raise SharedLatentError(f"unknown latent projection {method!r}; choose one of {', '.join(LATENT_METHODS)}")
    encodings = np.asarray(encodings, dtype=np.float64)
    if method == "umap":
        try:
            import umap
        except ImportError:
            return _pca(encodings, "PCA, umap not installed")
        return umap.UMAP(n_components=2, random_state=seed).fit_transform(encodings), "UMAP"
    return _pca(encodings, "PCA")


def _pca(encodings: np.ndarray, name: str) -> tuple[np.ndarray, str]:
    if encodings.shape[1] == 1:
        return np.column_stack([encodings[:, 0], np.zeros(len(encodings))]), "1-D latent"
    scores, shares = principal_components(encodings, 2)
    return scores, f"{name}: {shares[0] * 100:.0f}% + {shares[1] * 100:.0f}% of variance"


def principal_components(values: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `n_components` principal component scores of `values` (rows are samples) and each component's share
    of the variance. Each component's sign puts its largest loading positive, as scikit-learn's PCA does, so the
    plot does not flip between runs; numpy only, so drawing figures never imports scikit-learn."""
    centred = values - values.mean(axis=0)
    _, singular, components = thin_svd(centred)
    components = components[:n_components]
    largest = np.argmax(np.abs(components), axis=1)
    components = components * np.sign(components[np.arange(len(components)), largest])[:, None]
    total = np.square(singular).sum()
    shares = np.square(singular[:n_components]) / total if total > 0 else np.zeros(n_components)
    return centred @ components.T, shares


def plot_latent_space(
    outputs: RunOutputs,
    path: str | Path,
    *,
    method: str = "pca",
    n_links: int = 30,
    max_points: int = 5000,
    seed: int = 0,
    dpi: int = DPI,
    colour: tuple[str, np.ndarray] | None = None,
) -> Path:
    """Each domain's encodings in 2-D: coloured by label (when there are labels) and by domain, with paired links.

    colour: (name, one value per sample) to colour by instead of the labels, e.g. ("cell_type", obs values); a
    numeric column gets a colour bar, any other a legend per value (over 20 values: a colour bar of their codes)."""
    names = outputs.domain_names
    n_total = outputs.domains[names[0]].encoding.shape[0]
    rng = np.random.default_rng(seed)
    shown = np.sort(rng.choice(n_total, size=min(n_total, max_points), replace=False))
    stacked = np.concatenate([outputs.domains[name].encoding[shown] for name in names])
    points, projection = project_latent(stacked, method, seed)
    by_domain = {name: points[i * len(shown) : (i + 1) * len(shown)] for i, name in enumerate(names)}
    name, values = colour if colour is not None else ("label", outputs.labels)
    labels = None if values is None else np.asarray(values)[shown]

    n_panels = 2 if labels is not None else 1
    figure = new_figure(5.6 * n_panels + 0.8, 5.0)
    figure.set_layout_engine("constrained")
    axes = figure.subplots(1, n_panels, squeeze=False).ravel()
    size = float(np.clip(12000 / max(len(stacked), 1), 3, 30))
    if labels is not None:
        _draw_by_label(axes[0], by_domain, labels, size, name, numeric=colour is not None and _is_numeric(labels))
    _draw_by_domain(axes[-1], by_domain, rng.choice(len(shown), size=min(n_links, len(shown)), replace=False), size)
    for ax in axes:
        ax.set_xlabel("component 1", fontsize=9)
        ax.set_ylabel("component 2", fontsize=9)
        ax.tick_params(labelsize=8)
    figure.suptitle(f"latent space of each domain's encodings ({projection})", fontsize=11)
    return save_png(figure, path, dpi)


def _draw_by_domain(ax, by_domain: dict[str, np.ndarray], links: np.ndarray, size: float) -> None:
    """Every domain's points in its colour, with lines joining the encodings of the samples in `links`."""
    for row in links:
        line = np.array([points[row] for points in by_domain.values()])
        ax.plot(line[:, 0], line[:, 1], color="black", linewidth=0.8, alpha=0.8, zorder=3)  # above the points
    for index, (name, points) in enumerate(by_domain.items()):
        ax.scatter(
            *points.T, s=size, color=domain_colour(index), alpha=0.6, linewidths=0, label=f"{name} alone", zorder=2
        )
    ax.set_title(f"by domain; lines join {len(links)} pairs", fontsize=10)
    ax.legend(
        fontsize=8, markerscale=max(1.0, 20 / size) ** 0.5, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False
    )


def _is_numeric(values: np.ndarray) -> bool:
    """Whether a colouring column is numbers (a colour bar) rather than categories (a legend)."""
    return values.dtype.kind in "fiu"


def _draw_by_label(
    ax, by_domain: dict[str, np.ndarray], labels: np.ndarray, size: float, name: str = "label", numeric: bool = False
) -> None:
    """Every domain's points coloured by label (or a named column), one marker shape per domain."""
    values = labels if numeric else np.unique(labels)
    if not numeric and values.size <= 20:  # a legend entry per label; more read better as a colour scale
        from matplotlib import colormaps

        palette = colormaps["tab10" if values.size <= 10 else "tab20"]
        colours = palette(np.searchsorted(values, labels))  # one scatter per domain draws faster than one per label
        for marker, points in zip(MARKERS, by_domain.values(), strict=False):
            ax.scatter(*points.T, s=size, c=colours, marker=marker, alpha=0.6, linewidths=0)
        for index, value in enumerate(values):
            ax.scatter([], [], s=30, color=palette(index), label=str(value))
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, title=name, title_fontsize=8)
    else:
        numeric = numeric or _is_numeric(labels)
        codes = labels.astype(float) if numeric else np.unique(labels.astype(str), return_inverse=True)[1].astype(float)
        for marker, points in zip(MARKERS, by_domain.values(), strict=False):
            scatter = ax.scatter(*points.T, c=codes, s=size, cmap="viridis", marker=marker, alpha=0.6, linewidths=0)
        ax.figure.colorbar(scatter, ax=ax, label=name)
    detail = ", ".join(f"{marker} {domain}" for marker, domain in zip(MARKERS, by_domain, strict=False))
    ax.set_title(f"by {name} (markers: {detail})", fontsize=10)


def plot_interpolation(
    decoded: Mapping[str, np.ndarray], renderers: Mapping[str, Renderer], path: str | Path, *, dpi: int = DPI
) -> Path:
    """Decoded steps of a latent interpolation: one row per domain, one column per step."""
    steps = {name: np.asarray(values).shape[0] for name, values in decoded.items()}
    if not steps or len(set(steps.values())) != 1:
        raise SharedLatentError(f"interpolation needs the same number of steps in every domain, got {steps}")
    n_steps = next(iter(steps.values()))
    cell = 0.9
    label_width = 0.3 + 0.08 * max(len(name) for name in decoded)
    width, height = label_width + n_steps * cell + 0.2, 0.55 + len(decoded) * cell * 1.1 + 0.15
    figure = new_figure(width, height)
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
                colour = domain_colour(row)
                ax.text(-0.12, 0.5, name, transform=ax.transAxes, ha="right", va="center", fontsize=9, color=colour)
    figure.suptitle("decoded latent interpolation between two samples", fontsize=10, y=1 - 0.1 / height)
    return save_png(figure, path, dpi)
