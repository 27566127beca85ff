"""Predicted against true values of single features: the best and worst translated features by Pearson r."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sharedlatent.errors import SharedLatentError
from sharedlatent.evaluation.correlation import per_feature_pearson
from sharedlatent.figures.canvas import DPI, new_figure, save_png


def plot_feature_scatter(
    truth: np.ndarray,
    prediction: np.ndarray,
    path: str | Path,
    *,
    feature_names: Sequence[str] | None = None,
    n_best: int = 3,
    n_worst: int = 3,
    title: str = "",
    max_points: int = 5000,
    dpi: int = DPI,
) -> Path:
    """Predicted against true values for the best and worst features by Pearson r, with the y = x line.

    Parameters
    ----------
    truth, prediction
        Samples x features, aligned.
    path
        Where the PNG goes.
    feature_names
        One name per feature for the panel titles; "feature i" when None.
    n_best, n_worst
        How many of the best and of the worst correlated features get a panel.
    title
        The figure's title; a default one when empty.
    max_points
        At most this many samples (a fixed random choice) are drawn per panel.
    dpi
        Resolution of the PNG.
    """
    truth, prediction = np.asarray(truth, dtype=float), np.asarray(prediction, dtype=float)
    correlations = per_feature_pearson(truth, prediction)
    names = list(feature_names) if feature_names is not None else [f"feature {i}" for i in range(truth.shape[1])]
    if len(names) != truth.shape[1]:
        raise SharedLatentError(f"got {len(names)} feature names for {truth.shape[1]} features")
    rows = _ranked_rows(correlations, n_best, n_worst)
    n_columns = max(1, max(len(chosen) for _, chosen in rows))
    figure = new_figure(3.0 * n_columns + 0.6, 3.0 * len(rows) + 0.5)
    figure.set_layout_engine("compressed")  # the constrained layout made for square panels
    axes = figure.subplots(len(rows), n_columns, squeeze=False)
    shown = np.random.default_rng(0).choice(truth.shape[0], size=min(truth.shape[0], max_points), replace=False)
    for row, (heading, chosen) in enumerate(rows):
        for column in range(n_columns):
            if column >= len(chosen):
                axes[row, column].set_axis_off()
                continue
            feature = chosen[column]
            tag = f" ({heading})" if heading else ""
            label = f"{names[feature]}\nr = {correlations[feature]:.3f}{tag}"
            colour = "#1f77b4" if row == 0 else "#d62728"
            _draw_panel(axes[row, column], truth[shown, feature], prediction[shown, feature], label, colour)
    if np.isnan(correlations).all():
        axes[0, 0].text(
            0.5, 0.5, "every feature is constant: r undefined", ha="center", va="center", transform=axes[0, 0].transAxes
        )
    figure.suptitle(title or "predicted vs true, best and worst features by Pearson r", fontsize=10)
    return save_png(figure, path, dpi)


def _ranked_rows(correlations: np.ndarray, n_best: int, n_worst: int) -> list[tuple[str, list[int]]]:
    """Panel rows as (heading, features): the best and the worst by r, or all defined ones when they are few."""
    defined = np.flatnonzero(~np.isnan(correlations))
    ranked = defined[np.argsort(-correlations[defined], kind="stable")]
    if len(ranked) <= n_best + n_worst:
        return [("", list(ranked))]  # too few to split into best and worst: all of them, best first
    return [("best", list(ranked[:n_best])), ("worst", list(ranked[len(ranked) - n_worst :]))]


def _draw_panel(ax, x: np.ndarray, y: np.ndarray, label: str, colour: str) -> None:
    """One feature: predicted against true, on square axes with the y = x line."""
    ax.scatter(x, y, s=8, alpha=0.5, linewidths=0, color=colour)
    low, high = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
    pad = 0.05 * (high - low or 1.0)
    ax.plot([low - pad, high + pad], [low - pad, high + pad], "--", color="#555555", linewidth=0.8)
    ax.set_xlim(low - pad, high + pad)
    ax.set_ylim(low - pad, high + pad)
    ax.set_box_aspect(1)  # square panels, so the y = x line runs corner to corner
    ax.set_title(label, fontsize=9)
    ax.set_xlabel("true", fontsize=8)
    ax.set_ylabel("predicted", fontsize=8)
    ax.tick_params(labelsize=7)
