"""Evaluate a trained model into its run folder: metrics.json, every figure, run.json's figure list, report.html.

The model runs over the split once (`prepare`); metrics and figures all read that one Evaluation. Its cost is bounded
whatever the data's size: at most EVALUATION_SAMPLES samples of the split and REFERENCE_ROWS training rows, seeded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sharedlatent.datasets import PairedDataset, Split
from sharedlatent.datasets.streaming import StreamedSplit
from sharedlatent.errors import SharedLatentError, listed
from sharedlatent.evaluation.metrics_inputs import MetricsInputs, gather_metrics_inputs
from sharedlatent.evaluation.predictions import RunOutputs
from sharedlatent.names import COUNT_LIKELIHOODS, canonical
from sharedlatent.runs.batches import GENERATED_BATCH_RULE
from sharedlatent.runs.evaluation_worker import EvaluationJob, evaluate_here
from sharedlatent.runs.figure_job import FigureJob
from sharedlatent.runs.predictions import compute_outputs, interpolate
from sharedlatent.runs.record import RunRecord, write_record
from sharedlatent.storage import METRICS_FILE, split_file, write_json

if TYPE_CHECKING:
    from sharedlatent.api import SharedLatentVAE
    from sharedlatent.config import RunConfig
    from sharedlatent.figures.renderers import Renderer
    from sharedlatent.runs.evaluation_worker import EvaluationWorker
    from sharedlatent.training.loop import History

SPLITS = ("train", "test")
INTERPOLATION_STEPS = 10
EVALUATION_SAMPLES = 2000  # FOSCTTM, kNN transfer and coherence are quadratic in samples: a seeded subsample above this
REFERENCE_ROWS = 10_000  # training rows the baselines, classifiers and noise ranges fit on: evaluation stays bounded
EVALUATION_SEED = 0


@dataclass
class Evaluation:
    """What the model made of one split, computed once and read by the metrics and every figure."""

    split: str
    data: Split  # the split's fully paired samples (at most EVALUATION_SAMPLES of them)
    n_available: int  # how many fully paired samples the split has
    outputs: RunOutputs
    interpolation: dict[str, np.ndarray]
    renderers: dict[str, Renderer]
    pictured: frozenset[str]  # domains the dataset gives a renderer of their own; the others get feature scatters
    colour: tuple[str, np.ndarray] | None = None  # an obs column the latent plot is coloured by, per sample
    subsample_seed: int = EVALUATION_SEED  # the seed of the subsample when data is one (the loader's, if it drew it)


def prepare(model: SharedLatentVAE, dataset: PairedDataset, split: str, color_by: str | None = None) -> Evaluation:
    """Run the model over the paired samples of `split` (metrics compare domains of the same samples); `color_by`
    names an obs column of AnnData / MuData data to colour the latent plot by."""
    if split not in SPLITS:
        raise SharedLatentError(f"split must be 'train' or 'test', got {split!r}")
    available = getattr(dataset, split).paired()
    data = seeded_rows(available, EVALUATION_SAMPLES)
    n_available, seed = available.n_samples, EVALUATION_SEED
    if split == "test" and dataset.test_subsample is not None:  # the loader already kept a subsample
        n_available, seed = dataset.test_subsample
    return Evaluation(
        split=split,
        data=data,
        n_available=n_available,
        subsample_seed=seed,
        outputs=compute_outputs(model, data, seed=model.config.train.seed),
        interpolation=interpolate(model, data, INTERPOLATION_STEPS),
        renderers={name: _renderer(model, dataset, name) for name in dataset.domain_names},
        pictured=frozenset(name for name in dataset.domain_names if dataset.renderers.get(name) is not None),
        colour=None if color_by is None else (color_by, obs_column(dataset, color_by, data.sample_ids)),
    )


def obs_column(dataset: PairedDataset, column: str, sample_ids: np.ndarray | None) -> np.ndarray:
    """The values of obs `column` for the given samples: floats (NaN where missing) for a numeric column, strings
    ("missing" where missing) for any other."""
    if dataset.obs is None or sample_ids is None:
        raise SharedLatentError(
            f"--color-by {column}: dataset {dataset.name!r} carries no obs; colouring by an obs column needs data "
            "read from .h5ad or .h5mu files"
        )
    if column not in dataset.obs.columns:
        raise SharedLatentError(
            f"--color-by {column}: no obs column {column!r}; the obs columns are: {listed(dataset.obs.columns)}"
        )
    values = dataset.obs[column].reindex(sample_ids)
    if values.dtype.kind in "fiu":
        return values.to_numpy(dtype=float)
    return values.astype(object).where(values.notna(), "missing").astype(str).to_numpy()


def count_domains(model: SharedLatentVAE) -> list[str]:
    """The domains the model reads as counts (negative binomial, ZINB)."""
    return [
        name for name in model.domain_names if canonical(model.config.model.likelihood_for(name)) in COUNT_LIKELIHOODS
    ]


def _renderer(model: SharedLatentVAE, dataset: PairedDataset, domain: str) -> Renderer:
    """The dataset's renderer of the domain; a count domain without one gets log1p bar profiles."""
    if dataset.renderers.get(domain) is None and domain in count_domains(model):
        from sharedlatent.figures.renderers import ProfileRenderer

        return ProfileRenderer(log1p=True)
    return dataset.renderer(domain)


def seeded_rows(data: Split, limit: int) -> Split:
    """`data` itself when it has at most `limit` samples, else `limit` of them drawn with EVALUATION_SEED (in order);
    a split on disk (StreamedSplit) is read into memory after subsampling."""
    if data.n_samples > limit:
        data = data.subset(np.sort(np.random.default_rng(EVALUATION_SEED).choice(data.n_samples, limit, replace=False)))
    return data.in_memory() if isinstance(data, StreamedSplit) else data


def sample_note(evaluation: Evaluation) -> str:
    """What the metrics were computed on, e.g. "computed on 2000 of 50000 test samples, seed 0"."""
    n, split = evaluation.data.n_samples, evaluation.split
    if n == evaluation.n_available:
        return f"computed on all {n} {split} samples"
    return f"computed on {n} of {evaluation.n_available} {split} samples, seed {evaluation.subsample_seed}"


def metrics_header(model: SharedLatentVAE, record: RunRecord, evaluation: Evaluation) -> dict[str, Any]:
    """What metrics.json says about the run before its scores: split, dataset, layout, schedule, training time,
    and the samples the scores were computed on."""
    return {
        "split": evaluation.split,
        "dataset": record.dataset,
        "layout": record.layout,
        "schedule": model.config.train.schedule,
        "train_seconds": record.train_seconds,
        "evaluated_on": sample_note(evaluation),
    }


def metrics_inputs(model: SharedLatentVAE, dataset: PairedDataset, evaluation: Evaluation) -> MetricsInputs:
    """What the split's metrics read from the model, as plain data, with at most REFERENCE_ROWS training rows
    (absent rows of partially paired data are zero-filled placeholders, so only fully paired rows are used)."""
    reference = seeded_rows(dataset.train.paired(), REFERENCE_ROWS)
    return gather_metrics_inputs(
        model, evaluation.outputs, reference.domains, reference.labels, train_batches=reference.batches
    )


def write_metrics(folder: Path, split: str, header: dict[str, Any], scores: dict[str, Any]) -> dict[str, Any]:
    """Write the split's metrics to metrics.json (metrics_<split>.json for other splits)."""
    metrics = header | scores
    if "batch_mixing" in metrics:  # say why generated samples and noise cycles are of that batch
        metrics["batch_mixing"]["generated_as_batch_rule"] = GENERATED_BATCH_RULE
    write_json(folder / split_file(METRICS_FILE, split), metrics)
    return metrics


def figure_job(
    folder: Path, model: SharedLatentVAE, record: RunRecord, history: History | None, evaluation: Evaluation
) -> FigureJob:
    """The split's figures as plain data (runs/figure_job.py), drawn here or by the evaluation worker."""
    from sharedlatent.figures.loss_history import LossCurves
    from sharedlatent.figures.summary import describe_model

    return FigureJob(
        folder=folder.absolute(),  # a worker process reads it too
        layout=record.layout,
        split=evaluation.split,
        outputs=evaluation.outputs,
        interpolation=evaluation.interpolation,
        renderers=evaluation.renderers,
        pictured=evaluation.pictured,
        colour=evaluation.colour,
        losses=LossCurves.of(history) if history is not None else None,
        summary=describe_model(model.module),
        count_domains=tuple(count_domains(model)),
        feature_names={name: list(values) for name, values in (record.feature_names or {}).items()},
    )


def write_report(
    folder: Path, record: RunRecord, metrics: dict[str, Any], figures: list[Path], split: str, config: RunConfig
) -> Path:
    """Write report.html (report_<split>.html for other splits) from the metrics, figures and config (`config`: the
    run's, for the input noise its rule gave, which config.toml leaves unset, the weight decay and the weight
    average)."""
    from sharedlatent.figures import report
    from sharedlatent.runs.summary import noise_text, weight_average_text, weight_decay_text

    subtitle = f"{record.dataset} {record.data_options or ''}, trained {record.created} in {record.train_seconds:.1f} s"
    if record.data_notes:
        subtitle += "; data: " + "; ".join(record.data_notes)
    if metrics.get("evaluated_on"):
        subtitle += f"; metrics {metrics['evaluated_on']}"
    config_text = config.to_toml()  # the model's own, as train wrote config.toml; never the file, which is data
    return report.write_report(
        folder,
        metrics=metrics,
        figures=figures,
        title=f"sharedlatent run: {record.dataset}, layout {record.layout}, {split} split",
        config_text=config_text,
        subtitle=subtitle.replace(" ,", ","),
        file_name=split_file(report.REPORT_FILE, split),
        chosen_settings=record.chosen_settings,
        rule_settings={
            "input noise": noise_text(config, record.domains),
            "weight decay": weight_decay_text(config),
            "weight average": weight_average_text(config),
        },
    )


def listed_figures(listed: list[str], drawn: list[Path], split: str) -> list[str]:
    """run.json's figure list once `split`'s figures are drawn: those, then the ones listed for the other splits,
    which stay in the folder (evaluating the train split keeps the test figures)."""
    names = [path.name for path in drawn]
    others = {f"_{other}.png" for other in SPLITS if other != split}
    return names + [name for name in listed if name not in names and any(name.endswith(end) for end in others)]


def evaluate_into(
    folder: Path,
    model: SharedLatentVAE,
    dataset: PairedDataset,
    record: RunRecord,
    history: History | None,
    split: str,
    color_by: str | None = None,
    worker: EvaluationWorker | None = None,
) -> dict[str, Any]:
    """Write metrics.json, every figure and report.html for one split of the dataset into `folder`
    (other splits than test write metrics_<split>.json and report_<split>.html beside them); `color_by` names an
    obs column to colour the latent plot by. A started `worker` scores the metrics and draws the figures
    (runs/evaluation_worker.py)."""
    evaluation = prepare(model, dataset, split, color_by)
    job = EvaluationJob(
        figure_job(folder, model, record, history, evaluation), metrics_inputs(model, dataset, evaluation)
    )
    if worker is not None:
        worker.submit(job)
    result = worker.result() if worker is not None else evaluate_here(job)
    metrics = write_metrics(folder, split, metrics_header(model, record, evaluation), result.metrics)
    record.figures = listed_figures(record.figures, result.figures, split)
    write_record(folder, record)
    write_report(folder, record, metrics, result.figures, split, model.config)
    return metrics
