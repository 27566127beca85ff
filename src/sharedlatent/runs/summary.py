"""A run folder in a few lines (train's summary, `info`), and whether a metrics file has evaluate's shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sharedlatent.config import RunConfig
from sharedlatent.errors import SharedLatentError
from sharedlatent.names import VALUE_OUTPUT_LIKELIHOODS, canonical
from sharedlatent.plain_values import flattened
from sharedlatent.runs.record import NO_TEST_NOTE, read_record
from sharedlatent.storage import CONFIG_FILE, HISTORY_FILE, METRICS_FILE, WEIGHTS_FILE, read_json, split_file
from sharedlatent.training.history import History, checked_history


def metrics_shaped(metrics: Any) -> bool:
    """Whether parsed metrics look like evaluate's: a table whose translation entry is a table of tables."""
    if not isinstance(metrics, dict) or not isinstance(metrics.get("split", ""), str):
        return False
    tables = [metrics.get(key, {}) for key in ("translation", "cycle")]
    return all(isinstance(t, dict) and all(isinstance(v, dict) for v in t.values()) for t in tables)


def check_model_matches(folder: Path) -> None:
    """Raise SharedLatentError unless the folder's model file reads and checks, and was trained with the config
    that config.toml shows (info describes a run from config.toml; the model is what translate uses)."""
    from sharedlatent.model_file import read_model_file

    folder = Path(folder)
    metadata, _ = read_model_file(folder / WEIGHTS_FILE)
    saved = flattened(RunConfig.from_dict(metadata["config"]).to_dict())
    shown = flattened(RunConfig.from_toml(folder / CONFIG_FILE).to_dict())
    # A key config.toml leaves unset is read as its rule or an older version's default; only set values must agree
    differing = sorted(key for key, value in shown.items() if value is not None and saved.get(key) != value)
    if differing:
        raise SharedLatentError(
            f"{folder / CONFIG_FILE} differs from the config its model was trained with ({', '.join(differing[:3])})"
        )


def read_history(folder: Path) -> History | None:
    """The folder's history.json, or None without one; a damaged file is one line, not a traceback."""
    path = folder / HISTORY_FILE
    if not path.exists():
        return None
    values = read_json(path)  # its own one-line error for a file that is not JSON
    try:
        return checked_history(values)
    except SharedLatentError as error:
        raise SharedLatentError(f"{path} is {error}") from None


def summary_lines(folder: Path, list_files: bool = False) -> str:
    """A short description of a run folder: dataset, layout, schedule, headline metrics, files."""
    folder = Path(folder)
    record = read_record(folder)
    config = RunConfig.from_toml(folder / CONFIG_FILE)
    lines = [
        f"run       {folder}",
        f"dataset   {record.dataset} {record.data_options or ''}".rstrip(),
        f"domains   {', '.join(f'{n} ({s} features)' for n, s in record.input_sizes.items())}",
        f"layout    {record.layout}  (latent {config.model.latent_size}, joint posterior {config.model.joint_posterior}, "
        f"{output_start_text(config, record.domains)})",
        f"training  schedule {config.train.schedule}, {config.train.epochs} epochs max, batch {config.train.batch_size}, "
        f"noise {noise_text(config, record.domains)}, weight decay {weight_decay_text(config)}, "
        f"weight average {weight_average_text(config)}, "
        f"{'Adam moments per phase, ' if config.train.moments_per_phase else ''}{record.train_seconds:.1f} s",
        *(f"data      {note}" for note in record.data_notes),
    ]
    lines += [f"auto      {name}: {text}" for name, text in record.chosen_settings.items()]
    no_test = NO_TEST_NOTE in record.data_notes  # a final model: `evaluate --split train` is all there can be
    metrics_file = folder / split_file(METRICS_FILE, "train" if no_test else "test")
    if metrics_file.exists():
        metrics = read_json(metrics_file)
        try:
            for direction, values in metrics.get("translation", {}).items():
                lines.append(
                    f"translate {direction}: MSE {values['mse']:.4g} ({values['mse_vs_mean_predictor']:.2f}x the mean predictor's MSE) "
                    f"on the {metrics['split']} split"
                )
            for direction, values in metrics.get("cycle", {}).items():
                lines.append(f"cycle     {direction}: MSE {values['mse']:.4g}")
            lines += [f"baseline  {line}" for line in metrics.get("verdict", [])]
            lines += mixing_lines(metrics)
            lines += uninformative_warnings(metrics)
        except (KeyError, TypeError, AttributeError, ValueError):
            raise SharedLatentError(
                f"{metrics_file} is not a sharedlatent metrics file; rerun `sharedlatent evaluate {folder}`"
            ) from None
    else:
        split = " --split train" if no_test else ""
        lines.append(
            f"metrics   not computed yet: `sharedlatent evaluate {folder}{split}` writes metrics, figures and report"
        )
    if list_files:
        lines.append("files     " + ", ".join(sorted(p.name for p in folder.iterdir())))
    return "\n".join(lines)


NO_INFORMATION_RATIO = 0.97  # a translation this close to the training mean's error carries (almost) nothing
RAW_WORSE_RATIO = 2.0  # ... and one this far above it in the data's units has values far off, whatever the verdict


def uninformative_warnings(metrics: dict) -> list[str]:
    """A warning per direction whose translation is no better than predicting the training mean, or whose MSE in the
    data's units is RAW_WORSE_RATIO times the mean's or more (values far off, whatever the standardised verdict).

    Judged on standardised MSE (each feature scaled by its training std) where the baselines were scored: on the
    data's scale one large feature (a protein at 20,000 counts, a column near 1e9) decides the ratio alone."""
    warnings = []
    for direction, values in metrics.get("translation", {}).items():
        standardized = (metrics.get("baselines") or {}).get(direction, {}).get("standardized_mse") or {}
        if standardized.get("model") is not None and standardized.get("mean"):
            ratio, measure = standardized["model"] / standardized["mean"], "standardised MSE"
        else:
            ratio, measure = values.get("mse_vs_mean_predictor", 0), "MSE"
        source, target = direction.split("->")[0], direction.split("->")[-1]
        raw = values.get("mse_vs_mean_predictor")
        if ratio >= NO_INFORMATION_RATIO:
            warnings.append(
                f"warning   {direction}: no better than the training mean ({ratio:.2f}x its {measure}): "
                f"translated, the {source} encoding predicts {target} no better than its average does"
            )
        elif raw is not None and raw >= RAW_WORSE_RATIO:
            warnings.append(
                f"warning   {direction}: in the data's units the MSE is {raw:.2f}x the training mean's, though "
                f"{ratio:.2f}x on the standardised scale: a few translated values lie far off (an outlier in the "
                f"training data, or one large-unit feature of {target}); look at the largest errors"
            )
    return warnings


def mixing_lines(metrics: dict) -> list[str]:
    """The batch mixing of a batch model's run, in one line (none for a run without batches)."""
    mixing = metrics.get("batch_mixing")
    if not mixing:
        return []
    entropy = "n/a" if mixing["entropy"] is None else f"{mixing['entropy']:.3f}"
    return [f"batches   mixing entropy {entropy} over {mixing['batches']} batches (k {mixing['k']}; 1 is perfect)"]


def output_start_text(config: RunConfig, domains: list[str]) -> str:
    """How the output layers of the domains whose decoder outputs the value itself (gaussian, gaussian_fixed) started.
    Fit writes model.zero_output_layers out, so a config without it predates the setting (version 0.3 and older),
    whose layers all started Glorot-uniform."""
    valued = [name for name in domains if canonical(config.model.likelihood_for(name)) in VALUE_OUTPUT_LIKELIHOODS]
    if not valued:  # model.zero_output_layers (true or not) zeroes only gaussian domains' output layers
        return (
            "output layers Glorot (no gaussian domain to start at zero)"
            if config.model.zero_output_layers
            else "output layers Glorot"
        )
    zero = config.model.zero_output_layers
    which = "" if len(valued) == len(domains) else f" ({', '.join(valued)})"
    if zero is None:
        return f"output layers{which} Glorot (trained before model.zero_output_layers existed)"
    return f"output layers{which} start at zero" if zero else "output layers Glorot"


def weight_decay_text(config: RunConfig) -> str:
    """The weight decay a saved run trained with. Fit writes it into config.toml; a run's config without it was
    trained before train.weight_decay existed, with none."""
    decay = config.train.weight_decay
    return "0 (trained before train.weight_decay existed)" if decay is None else f"{decay + 0.0:g}"


def weight_average_text(config: RunConfig) -> str:
    """The weight average a saved run kept: its decay per step, "off", or, for a run's config without the key
    (fit writes it out), none, as before train.ema_decay existed."""
    decay = config.train.ema_decay
    if decay is None:
        return "off (trained before train.ema_decay existed)"
    return f"decay {decay:.4g}" if decay else "off"


def noise_text(config: RunConfig, domains: list[str]) -> str:
    """The input-noise std: one number when every domain has it, else per domain ("left 0.2, right 0")."""
    levels = config.noise_levels(domains)
    if len(set(levels.values())) == 1:
        return f"{next(iter(levels.values())):g}"
    return ", ".join(f"{name} {level:g}" for name, level in levels.items())
