"""A split's figures as one job of plain data (numpy arrays, renderers, the model's layout as a summary, the losses),
so that they can be drawn without the model or torch: in the process that trained, or in the evaluation worker
(runs/evaluation_worker.py), two processes drawing a share each."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sharedlatent.storage import write_text

if TYPE_CHECKING:  # matplotlib loads only where figures are drawn
    from sharedlatent.evaluation.predictions import RunOutputs
    from sharedlatent.figures.loss_history import LossCurves
    from sharedlatent.figures.renderers import Renderer
    from sharedlatent.figures.summary import ModelSummary

# Modules the worker imports before its job arrives (their import is most of a small run's figure time)
FIGURE_MODULES = (
    "sharedlatent.figures.samples",
    "sharedlatent.figures.losses",
    "sharedlatent.figures.diagram",
    "sharedlatent.figures.latent",
    "sharedlatent.figures.heatmap",
    "sharedlatent.figures.scatter",
)


@dataclass
class FigureJob:
    """Everything the figures of one split read: where they go, the model's outputs and how to draw each domain."""

    folder: Path
    layout: str  # the sample grid's file name names it
    split: str
    outputs: RunOutputs
    interpolation: dict[str, np.ndarray]
    renderers: dict[str, Renderer]
    pictured: frozenset[str]  # domains with a renderer of their own; the others get feature scatters
    colour: tuple[str, np.ndarray] | None  # an obs column the latent plot is coloured by
    losses: LossCurves | None  # None: no training history (a reloaded model without one)
    summary: ModelSummary
    count_domains: tuple[str, ...]  # domains read as counts: a heatmap each
    feature_names: dict[str, list[str]]


def draw_figures(job: FigureJob, share: int = 0, shares: int = 1) -> list[Path]:
    """Draw every figure of the job (and model.txt) into its folder; returns the figures in report order. With
    `shares`, draw only every `shares`-th figure from number `share` on (merge_shares puts the parts back in order)."""
    return [draw() for draw in figure_plan(job)[share::shares]]


def merge_shares(parts: list[list[Path]]) -> list[Path]:
    """The figures of draw_figures(job, share, len(parts)) for each share, back in report order."""
    count = len(parts)
    return [parts[index % count][index // count] for index in range(sum(len(part) for part in parts))]


def figure_plan(job: FigureJob) -> list[Callable[[], Path]]:
    """Each figure of the job as a call that draws it and returns its path, in report order."""
    from sharedlatent.figures.latent import plot_interpolation, plot_latent_space
    from sharedlatent.figures.losses import plot_loss_curves
    from sharedlatent.figures.samples import plot_sample_grid

    folder, split, outputs, renderers = job.folder, job.split, job.outputs, job.renderers
    plan = [partial(plot_sample_grid, outputs, renderers, folder / f"samples_{job.layout}_{split}.png")]
    if job.losses is not None and job.losses.records:
        plan.append(partial(plot_loss_curves, job.losses, folder / "loss_curves.png"))
    plan.append(partial(_model_diagram, job))
    projection = "umap" if importlib.util.find_spec("umap") else "pca"
    latent_path = folder / f"latent_{split}.png"
    plan.append(partial(plot_latent_space, outputs, latent_path, method=projection, colour=job.colour))
    plan.append(partial(plot_interpolation, job.interpolation, renderers, folder / f"interpolation_{split}.png"))
    return plan + _count_heatmaps(job) + _feature_scatters(job)


def _model_diagram(job: FigureJob) -> Path:
    """model.txt and model.png."""
    from sharedlatent.figures.diagram import plot_model_diagram
    from sharedlatent.figures.summary import model_text_diagram

    write_text(job.folder / "model.txt", model_text_diagram(job.summary))
    return plot_model_diagram(job.summary, job.folder / "model.png")


def _count_heatmaps(job: FigureJob) -> list[Callable[[], Path]]:
    """A heatmap per count domain: cells by the most variable features, truth beside reconstruction and translation."""
    from sharedlatent.figures.heatmap import plot_count_heatmap

    plan = []
    for domain in job.count_domains:
        if domain in job.pictured or job.outputs.domains[domain].truth.shape[1] <= 1:
            continue
        path = job.folder / f"heatmap_{domain}_{job.split}.png"
        names = job.feature_names.get(domain)
        plan.append(partial(plot_count_heatmap, job.outputs, domain, path, feature_names=names))
    return plan


def _feature_scatters(job: FigureJob) -> list[Callable[[], Path]]:
    """A feature scatter per direction into each domain that has no picture of its own (tables, omics)."""
    from sharedlatent.figures.scatter import plot_feature_scatter

    plan = []
    for target, out in job.outputs.domains.items():
        if target in job.pictured or out.truth.shape[1] <= 1:
            continue
        names = job.feature_names.get(target) or [f"feature_{i}" for i in range(out.truth.shape[1])]
        for source, translated in out.translated.items():
            path = job.folder / f"scatter_{source}_to_{target}_{job.split}.png"
            plan.append(partial(plot_feature_scatter, out.truth, translated, path, feature_names=names))
    return plan
