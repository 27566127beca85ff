"""Run folders: train into one atomically (nothing appears until it is complete), reload it, re-evaluate it."""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import RunConfig
from sharedlatent.datasets import PairedDataset, load_dataset
from sharedlatent.errors import SharedLatentError, first_line
from sharedlatent.runs.evaluation_worker import EvaluationWorker, evaluation_worker
from sharedlatent.runs.record import NO_TEST_NOTE, RUN_FILE, RunRecord, read_record, write_record
from sharedlatent.runs.registration import run_registration
from sharedlatent.runs.reload import (
    absolute_data_options,
    check_data_files,
    fingerprint_data_files,
    is_path_option,
    reload_options,
)
from sharedlatent.runs.resume import run_checkpoint
from sharedlatent.runs.summary import check_model_matches, read_history
from sharedlatent.runs.target import (
    TEST_SAMPLES_FILE,
    check_target,
    evaluation_staging,
    staging_folder,
    sweep_stale_evaluations,
    sweep_stale_staging,
)
from sharedlatent.storage import CONFIG_FILE, HISTORY_FILE, WEIGHTS_FILE, signals_held, write_json, write_text
from sharedlatent.training import distributed

__all__ = ["RUN_FILE", "RunRecord", "evaluate_run", "load_run", "read_record", "train_run"]

MIN_TEST_SAMPLES = 2  # latent alignment compares each test sample with the others


def __getattr__(name: str) -> Any:
    """`evaluate_into` (its home is runs.evaluate), imported on first use: a run trained with --no-evaluate never
    imports the evaluation's scikit-learn and matplotlib."""
    if name == "evaluate_into":
        from sharedlatent.runs.evaluate import evaluate_into

        return evaluate_into
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def layout_name(model: SharedLatentVAE) -> str:
    """The original's layout label, e.g. 64-96-64-32-16 (input, private widths, shared widths, latent)."""
    config = model.config.model
    parts = {name: "-".join(map(str, [size, *config.widths_for(name)])) for name, size in model.input_sizes.items()}
    branches = (
        next(iter(parts.values())) if len(set(parts.values())) == 1 else "_".join(f"{n}{p}" for n, p in parts.items())
    )
    return "-".join([branches, *map(str, config.shared_widths), str(config.latent_size)])


def train_run(
    config: RunConfig,
    out: str | Path,
    data_options: dict[str, Any] | None = None,
    overwrite: bool = False,
    dataset: PairedDataset | None = None,
    resume: bool = False,
    evaluate: bool = True,
    color_by: str | None = None,
) -> Path:
    """Train on `config.dataset`, then write the whole run folder at once (nothing appears until it is complete).

    Training saves checkpoints beside `out`; `resume` continues from them (runs/resume.py). Without `evaluate`
    the folder has the model, config, history and run.json only (`evaluate_run` adds the rest later). `color_by`
    names an obs column (AnnData / MuData data) to colour the latent plot by. Under
    torchrun every rank trains its shard and only rank 0 writes the folder; the others return after training."""
    out = Path(out).resolve()
    main = distributed.is_main()
    if color_by is not None and not evaluate:
        raise SharedLatentError("--color-by colours the evaluation's latent plot, which --no-evaluate skips")
    check_target(out, overwrite)
    check_device(config.train.device)
    if main:
        sweep_stale_staging(out)
    data_options = absolute_data_options(dict(data_options or {}))
    refuse_inputs_inside(out, data_options)
    data_files = fingerprint_data_files(data_options)
    # Only rank 0 saves (or clears) checkpoints; the others read one when resuming.
    checkpoint = run_checkpoint(out, config, data_options, resume, overwrite, data_files) if main or resume else None
    dataset = dataset or load_dataset(config.dataset, **data_options)
    if 0 < dataset.test.n_samples < MIN_TEST_SAMPLES:
        raise SharedLatentError(
            f"dataset {config.dataset!r} has {dataset.test.n_samples} test samples; evaluation needs at least {MIN_TEST_SAMPLES}"
        )
    if color_by is not None and dataset.test.n_samples:  # a misspelt column is refused before training, not after
        from sharedlatent.runs.evaluate import obs_column

        obs_column(dataset, color_by, dataset.test.sample_ids)
    config = with_dataset_settings(config, dataset)
    model = SharedLatentVAE(dataset.input_sizes, config)
    # Started now, the evaluation worker imports matplotlib and scikit-learn while training runs
    with evaluation_worker(main and evaluate and dataset.test.n_samples > 0) as worker:
        history = model.fit(dataset.train, checkpoint=checkpoint, resume=resume)
        if not main:
            return out
        # Saved in the model file, so SharedLatentVAE.load reads new AnnData by feature name, layer and batch column.
        model.registration = model.registration or run_registration(
            config.dataset, data_options, dataset.input_sizes, dataset.feature_names
        )
        staging = staging_folder(out)
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
                chosen_settings=chosen_settings(model),
                data_files=data_files,
                data_notes=list(dataset.notes),
                distributed=distributed.description(model.device),
            )
            model.save(staging / WEIGHTS_FILE)
            write_text(staging / CONFIG_FILE, model.config.to_toml())  # "auto" settings written out as chosen
            write_json(staging / HISTORY_FILE, history.to_dict())
            if not dataset.test.n_samples:  # a final model trained on every sample: nothing is left to evaluate on
                record.data_notes.append(NO_TEST_NOTE)
            write_record(staging, record)
            write_test_samples(staging, dataset)
            if evaluate and dataset.test.n_samples:
                evaluate_after_training(staging, model, dataset, record, history, color_by, out, worker)
            _replace_folder(staging, out, overwrite)
            checkpoint.remove()
        finally:
            if worker is not None:
                worker.close()  # first: a worker stopped mid-figure must not write into staging as it goes
            if staging.exists():
                shutil.rmtree(staging)
    return out


def evaluate_after_training(
    staging: Path,
    model: SharedLatentVAE,
    dataset: PairedDataset,
    record: RunRecord,
    history: Any,
    color_by: str | None,
    out: Path,
    worker: EvaluationWorker | None = None,
) -> None:
    """evaluate_into for the test split (evaluated by `worker` when one was started); an evaluation that fails
    says, in one line, how to keep the training: its checkpoint stays, and `--resume --no-evaluate` writes the run
    from it (`sharedlatent evaluate` retries later)."""
    from sharedlatent.runs.evaluate import evaluate_into

    try:
        evaluate_into(staging, model, dataset, record, history, "test", color_by, worker)
    except Exception as error:  # noqa: BLE001 - any failure here would otherwise lose the trained model
        detail = first_line(error, typed=not isinstance(error, SharedLatentError))
        raise SharedLatentError(
            f"the evaluation after training failed ({detail}); the training is kept in its checkpoint: rerun the same "
            f"command with --resume --no-evaluate (without --color-by) to write {out} without evaluation, then "
            "`sharedlatent evaluate` it"
        ) from error


def write_test_samples(folder: Path, dataset: PairedDataset) -> None:
    """The held-out samples' IDs, one per line under a sample_id header, for data whose samples have IDs (tables,
    AnnData): which samples the metrics score, without rebuilding the split."""
    ids = getattr(dataset.test, "sample_ids", None)
    if ids is None or not dataset.test.n_samples:
        return
    import pandas as pd

    text = pd.DataFrame({"sample_id": np.asarray(ids).astype(str)}).to_csv(index=False)
    write_text(folder / TEST_SAMPLES_FILE, text)


def chosen_settings(model: SharedLatentVAE) -> dict[str, str]:
    """What fit chose from the data, as one sentence per domain (and for the epoch count, when it searched it)."""
    chosen = {
        name: f"likelihood {c.likelihood}, preprocessing {c.preprocessing} ({c.reason})"
        for name, c in model.auto_choices.items()
    }
    if model.epoch_search is not None:
        search = model.epoch_search
        chosen["train.epochs"] = (
            f"{search.epochs}, the lowest point of the median validation-loss curve of {len(search.per_fold)}-fold "
            "cross-validation (each fold's rescaled) "
            f"(folds' own best: {search.per_fold}; {search.seconds:.1f} s, not in the training time); "
            "a validation hold-out would have had under 30 samples"
        )
    return chosen


def with_dataset_settings(config: RunConfig, dataset: PairedDataset) -> RunConfig:
    """A copy of `config` where domains it does not configure take the dataset's suggested settings."""
    if not dataset.domain_settings:
        return config
    values = config.to_dict()
    domains = values["model"].setdefault("domains", {})
    for name, settings in dataset.domain_settings.items():
        domains.setdefault(name, dict(settings))
    return RunConfig.from_dict(values)


def refuse_inputs_inside(out: Path, data_options: dict[str, Any]) -> None:
    """Refuse an output folder that holds a file or folder the data is read from: writing the run replaces the
    whole folder, so --overwrite would delete the data (a path option inside a run folder is refused always)."""
    for key, value in data_options.items():
        if is_path_option(key) and isinstance(value, str):
            path = Path(value).resolve()
            if path == out or out in path.parents:
                raise SharedLatentError(
                    f"--out {out} holds the data option {key}={value}; writing the run replaces that folder, so "
                    "choose another --out or move the data out of it"
                )


def _replace_folder(staging: Path, out: Path, overwrite: bool) -> None:
    """Move the finished run into place; an old folder is removed only once the new one is complete."""
    check_target(out, overwrite)
    if out.exists():
        retired = out.parent / f".{out.name}.old-{os.getpid()}"
        os.replace(out, retired)
        os.replace(staging, out)
        shutil.rmtree(retired)
    else:
        os.replace(staging, out)


def check_device(name: str) -> None:
    """Refuse a device this machine lacks before any data is loaded or any training starts."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    if name == "mps" and not (mps and mps.is_available()):
        raise SharedLatentError("train.device is 'mps' but Apple MPS is not available on this machine")
    if name == "cuda" and not torch.cuda.is_available():
        raise SharedLatentError("train.device is 'cuda' but no CUDA GPU is available")


def _versions() -> dict[str, str]:
    import torch

    from sharedlatent import __version__

    return {
        "sharedlatent": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
    }


def load_run(folder: str | Path) -> tuple[SharedLatentVAE, RunRecord]:
    """The trained model (its file checked before anything is built) and the record of a run folder."""
    record = read_record(folder)
    model = SharedLatentVAE.load(Path(folder) / WEIGHTS_FILE)
    if record.domains and list(record.domains) != list(model.domain_names):
        raise SharedLatentError(
            f"{Path(folder) / RUN_FILE} lists domains {record.domains} but its model has {model.domain_names}"
        )
    sizes = dict(record.input_sizes or {})
    if sizes and sizes != model.input_sizes:
        raise SharedLatentError(
            f"{Path(folder) / RUN_FILE} lists input sizes {sizes} but its model has {model.input_sizes}"
        )
    return model, record


def evaluate_run(
    folder: str | Path,
    split: str = "test",
    trust_loader: bool = False,
    allow_pickle: bool = False,
    color_by: str | None = None,
) -> dict[str, Any]:
    """Reload a run and its dataset, recompute metrics, figures and the report for `split`.

    A run folder is data, never code: a `module:function` loader needs `trust_loader`, a pickle `allow_pickle`."""
    folder = Path(folder)
    with evaluation_worker(True) as worker:  # it imports its code while this process loads the model and data
        model, record = load_run(folder)
        check_model_matches(folder)  # the report shows the model's config; a config.toml that says otherwise is damage
        options = reload_options(record, trust_loader, allow_pickle)
        check_data_files(record)
        dataset = load_dataset(record.dataset, **options)
        if dataset.input_sizes != model.input_sizes:
            raise SharedLatentError(
                f"dataset {record.dataset!r} now has sizes {dataset.input_sizes}, the run was trained on {model.input_sizes}"
            )
        if split == "test" and not dataset.test.n_samples:
            raise SharedLatentError(
                f"{folder} was trained with test_fraction=0 and has no test split; use --split train"
            )
        history = read_history(folder)
        from sharedlatent.runs.evaluate import evaluate_into

        # Written into a hidden folder first and moved in only when complete: an evaluation that fails or is
        # stopped leaves the run as it was, never new figures beside the old metrics and report
        sweep_stale_evaluations(folder)
        staging = evaluation_staging(folder)
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir()
        try:
            metrics = evaluate_into(staging, model, dataset, record, history, split, color_by, worker)
            with signals_held():  # a stop between two renames would leave some files new and some old
                _move_files_into(staging, folder)
        finally:
            if worker is not None:
                worker.close()  # first: a worker stopped mid-figure must not write into staging as it goes
            shutil.rmtree(staging, ignore_errors=True)
        return metrics


def _move_files_into(staging: Path, folder: Path) -> None:
    """Move every file of `staging` into `folder`, each replacing its namesake in one rename, run.json last."""
    files = sorted((path for path in staging.iterdir() if path.is_file()), key=lambda path: path.name == RUN_FILE)
    for path in files:
        os.replace(path, folder / path.name)
