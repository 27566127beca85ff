"""Training and validation loss per epoch, one panel per stage and phase of the schedule."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sharedlatent.figures.canvas import DPI, new_figure, save_png
from sharedlatent.figures.loss_history import LossHistory


def plot_loss_curves(history: LossHistory, path: str | Path, *, dpi: int = DPI) -> Path:
    """Train and validation loss per epoch, one panel per stage and phase of the schedule."""
    panels: dict[tuple[int, str], list] = {}
    for record in history.records:
        panels.setdefault((record.stage, record.phase), []).append(record)
    n_panels = max(1, len(panels))
    n_columns = min(n_panels, 4)
    n_rows = -(-n_panels // n_columns)
    notes = list(history.stopped_early)
    figure = new_figure(3.6 * n_columns + 0.4, 2.9 * n_rows + 0.3 + 0.2 * len(notes))
    figure.set_layout_engine("constrained")
    axes = figure.subplots(n_rows, n_columns, squeeze=False).ravel()
    for ax in axes[len(panels) :]:
        ax.set_axis_off()
    if not panels:
        axes[0].text(0.5, 0.5, "no training records", ha="center", va="center", transform=axes[0].transAxes)
    for ax, ((stage, phase), records) in zip(axes, panels.items(), strict=False):
        _draw_loss_panel(ax, stage, phase, records)
    title = f"training loss per sample ({history.seconds:.0f} s)" if history.seconds else "training loss per sample"
    figure.suptitle(title, fontsize=11)
    if notes:
        figure.supxlabel("; ".join(notes), fontsize=8, color="#555555")
    return save_png(figure, path, dpi)


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
