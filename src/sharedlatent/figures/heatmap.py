"""Count domains (RNA, protein counts) as heatmaps: a handful of cells by the most variable features, log1p, with
truth, reconstruction and each translation side by side on one colour scale. Bar profiles of sparse counts look
empty; a heatmap shows which features are on in which cell."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sharedlatent.evaluation.predictions import RunOutputs
from sharedlatent.figures.canvas import DPI, new_figure, save_png

N_FEATURES = 40
N_CELLS = 12


def most_variable(truth: np.ndarray, n: int) -> np.ndarray:
    """Indices of the `n` features whose log1p values vary most across samples, in decreasing order."""
    spread = np.log1p(np.clip(np.asarray(truth, dtype=float), 0, None)).var(axis=0)
    return np.argsort(-spread, kind="stable")[: min(n, spread.size)]


def heatmap_panels(outputs: RunOutputs, domain: str) -> dict[str, np.ndarray]:
    """The panels drawn for `domain`: truth, reconstruction, then "from <source>" per other domain."""
    result = outputs.domains[domain]
    panels = {"truth": result.truth, "reconstruction": result.reconstruction}
    panels |= {f"from {source}": values for source, values in result.translated.items()}
    return panels


def plot_count_heatmap(
    outputs: RunOutputs,
    domain: str,
    path: str | Path,
    *,
    feature_names: list[str] | None = None,
    n_features: int = N_FEATURES,
    n_cells: int = N_CELLS,
    seed: int = 0,
    dpi: int = DPI,
) -> Path:
    """Random cells (rows, ordered by label when known) by the most variable features (columns), log1p counts."""
    panels = heatmap_panels(outputs, domain)
    truth = panels["truth"]
    features = most_variable(truth, n_features)
    rng = np.random.default_rng(seed)
    cells = np.sort(rng.choice(truth.shape[0], size=min(n_cells, truth.shape[0]), replace=False))
    labels = None if outputs.labels is None else np.asarray(outputs.labels)[cells]
    if labels is not None:
        cells, labels = cells[np.argsort(labels, kind="stable")], np.sort(labels, kind="stable")
    shown = {
        title: np.log1p(np.clip(np.asarray(values)[np.ix_(cells, features)], 0, None))
        for title, values in panels.items()
    }
    high = max(float(values.max()) for values in shown.values()) or 1.0
    names = feature_names or [f"feature_{i}" for i in range(truth.shape[1])]

    width = 1.2 + len(shown) * (0.14 * len(features) + 0.5)
    figure = new_figure(width, 1.8 + 0.22 * len(cells))
    figure.set_layout_engine("constrained")
    axes = figure.subplots(1, len(shown), squeeze=False).ravel()
    for index, (ax, (title, values)) in enumerate(zip(axes, shown.items(), strict=True)):
        image = ax.imshow(values, aspect="auto", cmap="magma", vmin=0.0, vmax=high, interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(len(features)), [str(names[f]) for f in features], rotation=90, fontsize=6)
        row_names = [f"#{c}" + (f" {labels[i]}" if labels is not None else "") for i, c in enumerate(cells)]
        ax.set_yticks(range(len(cells)), row_names if index == 0 else [], fontsize=7)
    figure.colorbar(image, ax=list(axes), label="log1p(count)", shrink=0.8)
    figure.suptitle(
        f"{domain}: {len(cells)} random cells x the {len(features)} most variable features (log1p counts)",
        fontsize=11,
    )
    return save_png(figure, path, dpi)
