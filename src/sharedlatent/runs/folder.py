"""Run folders: train into one atomically, reload it, evaluate it into metrics, figures and a report."""

from __future__ import annotations

import datetime as _dt
import importlib.util
import os
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import RunConfig
from sharedlatent.datasets import PairedDataset, Split, load_dataset
from sharedlatent.errors import SharedLatentError
from sharedlatent.storage import CONFIG_FILE, HISTORY_FILE, METRICS_FILE, WEIGHTS_FILE, read_json, split_file, write_json, write_text
from sharedlatent.training.loop import History

RUN_FILE = "run.json"
INTERPOLATION_STEPS = 10
MIN_TEST_SAMPLES = 2  # latent alignment compares each test sample with the others


@dataclass
class RunRecord:
    """What a run folder says about how it was made (run.json)."""

    dataset: str
    data_options: dict[str, Any]
    domains: list[str]
    input_sizes: dict[str, int]
    feature_names: dict[str, list[str]]
    layout: str
    created: str
    train_seconds: float
    versions: dict[str, str]
    command: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)


def layout_name(model: SharedLatentVAE) -> str:
    """The original's layout label, e.g. 64-96-64-32-16 (input, private widths, shared widths, latent)."""
    config = model.config.model
    parts = {
        name: "-".join(map(str, [size, *config.widths_for(name)])) for name, size in model.input_sizes.items()
    }
    branches = next(iter(parts.values())) if len(set(parts.values())) == 1 else "_".join(f"{n}{p}" for n, p in parts.items())
    return "-".join([branches, *map(str, config.shared_widths), str(config.latent_size)])


def train_run(
    config: RunConfig,
    out: str | Path,
    data_options: dict[str, Any] | None = None,
    overwrite: bool = False,
    dataset: PairedDataset | None = None,
) -> Path:
    """Train on `config.dataset`, then write the whole run folder at once (nothing appears until it is complete)."""
    out = Path(out).resolve()
    _check_target(out, overwrite)
    data_options = dict(data_options or {})
    dataset = dataset or load_dataset(config.dataset, **data_options)
    if dataset.test.n_samples < MIN_TEST_SAMPLES:
        raise SharedLatentError(
            f"dataset {config.dataset!r} has {dataset.test.n_samples} test samples; evaluation needs at least {MIN_TEST_SAMPLES}"
        )
    config = with_dataset_settings(config, dataset)
    model = SharedLatentVAE(dataset.input_sizes, config)
    history = model.fit(dataset.train)
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        record = RunRecord(
            dataset=config.dataset,
            data_options=data_options,
            domains=dataset.domain_names,
            input_sizes=dataset.input_sizes,
            feature_names={name: list(dataset.feature_names.get(name, [])) for name in dataset.domain_names},
            layout=layout_name(model),
            created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            train_seconds=history.seconds,
            versions=_versions(),
            command=list(sys.argv),
        )
        model.save(staging / WEIGHTS_FILE)
        write_text(staging / CONFIG_FILE, config.to_toml())
        write_json(staging / HISTORY_FILE, history.to_dict())
        write_json(staging / RUN_FILE, asdict(record))
        evaluate_into(staging, model, dataset, record, history, "test")
        _replace_folder(staging, out, overwrite)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return out


def with_dataset_settings(config: RunConfig, dataset: PairedDataset) -> RunConfig:
    """A copy of `config` where domains it does not configure take the dataset's suggested settings."""
    if not dataset.domain_settings:
        return config
    values = config.to_dict()
    domains = values["model"].setdefault("domains", {})
    for name, settings in dataset.domain_settings.items():
        domains.setdefault(name, dict(settings))
    return RunConfig.from_dict(values)


def _check_target(out: Path, overwrite: bool) -> None:
    """Refuse an output path that would lose the user's files: a file, a non-empty folder (unless --overwrite and
    it is a run folder), the current folder or one of its parents, or a path under a file."""
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise SharedLatentError(f"output folder {out} cannot be created: {parent} is a file")
    if out.exists() and not out.is_dir():
        raise SharedLatentError(f"output path {out} exists and is not a folder")
    if out == Path.cwd().resolve() or out in Path.cwd().resolve().parents:
        raise SharedLatentError(f"output folder {out} is the current folder or holds it; name a new folder with --out")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise SharedLatentError(f"output folder {out} already exists and is not empty; pass --overwrite to replace it")
        if not (out / RUN_FILE).is_file():
            raise SharedLatentError(f"output folder {out} is not a sharedlatent run folder (no {RUN_FILE}); --overwrite replaces run folders only")


def _replace_folder(staging: Path, out: Path, overwrite: bool) -> None:
    """Move the finished run into place; an old folder is removed only once the new one is complete."""
    _check_target(out, overwrite)
    if out.exists():
        retired = out.parent / f".{out.name}.old-{os.getpid()}"
        os.replace(out, retired)
        os.replace(staging, out)
        shutil.rmtree(retired)
    else:
        os.replace(staging, out)


def _versions() -> dict[str, str]:
    import torch

    from sharedlatent import __version__

    return {"sharedlatent": __version__, "torch": torch.__version__, "numpy": np.__version__, "python": sys.version.split()[0]}


def read_record(folder: str | Path) -> RunRecord:
    folder = Path(folder)
    if not folder.is_dir():
        raise SharedLatentError(f"run folder {folder} does not exist")
    values = read_json(folder / RUN_FILE)
    try:
        return RunRecord(**values)
    except TypeError as error:
        raise SharedLatentError(f"{folder / RUN_FILE} is not a sharedlatent run record: {error}") from None


def load_run(folder: str | Path) -> tuple[SharedLatentVAE, RunRecord]:
    """The trained model and the record of a run folder."""
    record = read_record(folder)
    return SharedLatentVAE.load(Path(folder) / WEIGHTS_FILE), record


def evaluate_run(folder: str | Path, split: str = "test") -> dict[str, Any]:
    """Reload a run and its dataset, recompute metrics, figures and the report for `split`."""
    folder = Path(folder)
    model, record = load_run(folder)
    dataset = load_dataset(record.dataset, **record.data_options)
    if dataset.input_sizes != model.input_sizes:
        raise SharedLatentError(f"dataset {record.dataset!r} now has sizes {dataset.input_sizes}, the run was trained on {model.input_sizes}")
    history = History.from_dict(read_json(folder / HISTORY_FILE)) if (folder / HISTORY_FILE).exists() else None
    return evaluate_into(folder, model, dataset, record, history, split)


def evaluate_into(
    folder: Path, model: SharedLatentVAE, dataset: PairedDataset, record: RunRecord, history: History | None, split: str
) -> dict[str, Any]:
    """Write metrics.json, every figure and report.html for one split of the dataset into `folder`
    (other splits than test write metrics_<split>.json and report_<split>.html beside them)."""
    from sharedlatent.figures import plots, report
    from sharedlatent.figures.summary import describe_model, model_text_diagram
    from sharedlatent.evaluation.predictions import compute_outputs
    from sharedlatent.evaluation.run_metrics import compute_run_metrics

    if split not in ("train", "test"):
        raise SharedLatentError(f"split must be 'train' or 'test', got {split!r}")
    data = getattr(dataset, split).paired()  # metrics compare domains of the same samples
    outputs = compute_outputs(model, data, seed=model.config.train.seed)
    metrics = {"split": split, "dataset": record.dataset, "layout": record.layout, "schedule": model.config.train.schedule}
    metrics["train_seconds"] = record.train_seconds
    reference = dataset.train.paired()  # absent rows of partially paired data are zero-filled placeholders
    metrics |= compute_run_metrics(model, outputs, reference.domains, reference.labels)
    write_json(folder / split_file(METRICS_FILE, split), metrics)

    renderers = {name: dataset.renderer(name) for name in dataset.domain_names}
    figures = [plots.plot_sample_grid(outputs, renderers, folder / f"samples_{record.layout}_{split}.png")]
    if history is not None and history.records:
        figures.append(plots.plot_loss_curves(history, folder / "loss_curves.png"))
    summary = describe_model(model.module)
    write_text(folder / "model.txt", model_text_diagram(summary))
    figures.append(plots.plot_model_diagram(summary, folder / "model.png"))
    projection = "umap" if importlib.util.find_spec("umap") else "pca"
    figures.append(plots.plot_latent_space(outputs, folder / f"latent_{split}.png", method=projection))
    figures.append(plots.plot_interpolation(interpolate(model, data), renderers, folder / f"interpolation_{split}.png"))
    for target, out in outputs.domains.items():
        if dataset.renderers.get(target) is None and out.truth.shape[1] > 1:
            for source, translated in out.translated.items():
                names = record.feature_names.get(target) or [f"feature_{i}" for i in range(out.truth.shape[1])]
                figures.append(plots.plot_feature_scatter(out.truth, translated, names, folder / f"scatter_{source}_to_{target}_{split}.png"))
    record.figures = [path.name for path in figures]
    write_json(folder / RUN_FILE, asdict(record))
    title = f"sharedlatent run: {record.dataset}, layout {record.layout}, {split} split"
    subtitle = f"{record.dataset} {record.data_options or ''}, trained {record.created} in {record.train_seconds:.1f} s".replace(" ,", ",")
    config_text = (folder / CONFIG_FILE).read_text() if (folder / CONFIG_FILE).exists() else ""
    report.write_report(folder, metrics, figures, title, config_text, subtitle, split_file(report.REPORT_FILE, split))
    return metrics


def interpolate(model: SharedLatentVAE, split: Split, steps: int = INTERPOLATION_STEPS) -> dict[str, np.ndarray]:
    """Decode a straight latent line between the joint encodings of two samples (of different labels when known)."""
    first, second = 0, min(1, split.n_samples - 1)
    if split.labels is not None:
        different = np.flatnonzero(split.labels != split.labels[first])
        second = int(different[0]) if different.size else second
    ends = model.encode_joint({name: values[[first, second]] for name, values in split.domains.items()})
    weights = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return model.decode((1 - weights) * ends[0] + weights * ends[1])
