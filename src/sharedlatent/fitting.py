"""What `SharedLatentVAE.fit` settles before the training loop runs: settings chosen from the data, how long
to train, the fitted preprocessing, and the validation samples. Each step reads and updates the model."""

from __future__ import annotations

import dataclasses
import math
import warnings
from contextlib import nullcontext
from typing import Any

import numpy as np
import torch

from sharedlatent import names
from sharedlatent.auto_settings import count_likelihood_warning, resolve_auto
from sharedlatent.config import TrainConfig
from sharedlatent.continuous_covariates import CovariateScaler
from sharedlatent.covariates import BatchEncoder, label_array
from sharedlatent.datasets.base import Split
from sharedlatent.datasets.partial import check_partial
from sharedlatent.errors import SharedLatentError
from sharedlatent.preprocessing import fit_preprocessors, present_rows, transform_all
from sharedlatent.training.averaging import averaging_decay
from sharedlatent.training.epoch_search import needs_epoch_search, search_epochs_on
from sharedlatent.training.holdout import hold_out_rows, part_rows, validation_size
from sharedlatent.training.loop import History, fit_module
from sharedlatent.training.runtime import cpu_threads, flushing_subnormals, thread_count
from sharedlatent.training.schedules import build_schedule

Arrays = dict[str, np.ndarray]
Masks = dict[str, np.ndarray] | None
Part = tuple[Arrays, Masks]


def choose_auto_settings(model: Any, arrays: Arrays, present: Masks) -> None:
    """Replace "auto" likelihoods and preprocessing by what the training data suggest (rebuilding the module),
    and warn when a count likelihood meets values that are not counts."""
    rows = {name: present_rows(values, present, name) for name, values in arrays.items()}
    resolved, chosen = resolve_auto(model.config, rows)
    if chosen:
        model.config, model.auto_choices = resolved, chosen
        model.build_module()
    for name, values in rows.items():
        likelihood = model.config.model.likelihood_for(name)
        warning = likelihood in names.COUNT_LIKELIHOODS and count_likelihood_warning(values, name, likelihood)
        if warning:
            warnings.warn(warning, UserWarning, stacklevel=4)


def train_stages(
    model: Any,
    train_data: Any,
    validation_data: Any,
    settings: TrainConfig,
    *,
    progress: bool | None,
    checkpoint: Any,
    resume: bool,
) -> History:
    """Run `settings`' schedule on the model's module (in-memory or streamed data alike) with its thread count
    (subnormal floats flushed to zero on one thread), input noise and weight decay; writes an unset train.ema_decay
    into model.config (settle_ema_decay); sets and returns model.history."""
    settings = settle_ema_decay(model, settings, math.ceil(train_data.n_samples / settings.batch_size))
    stages = build_schedule(settings.schedule, model.domain_names, settings.epochs, settings.freeze_phases)
    threads = thread_count(model.module, settings.threads, settings.batch_size)
    # Subnormals are flushed on one thread only: threads a wider fit starts would keep the mode after it
    with cpu_threads(threads), flushing_subnormals() if threads == 1 else nullcontext():
        model.history = fit_module(
            model.module,
            stages,
            train_data,
            validation_data,
            settings,
            progress=progress,
            checkpoint=checkpoint,
            resume=resume,
            noise_levels=model.config.noise_levels(model.domain_names),
            weight_decay=model.config.weight_decay(model.domain_names),
        )
    return model.history


def trained_length(
    model: Any,
    arrays: Arrays,
    present: Masks,
    validation: Any,
    batches: np.ndarray | None = None,
    covariates: np.ndarray | None = None,
) -> TrainConfig:
    """The training settings, with the epoch count chosen by k-fold CV when the hold-out would be too small."""
    settings = model.config.train
    n_samples = len(next(iter(arrays.values())))
    if validation is not None or not needs_epoch_search(n_samples, settings):
        return settings
    fold_config = dataclasses.replace(model.config, train=dataclasses.replace(settings, progress=False))

    def fold_losses(kept: Split, held_out: Split) -> list[float]:
        fold = type(model)(model.input_sizes, fold_config)
        fold.given_batch_encoder = model.batch_encoder  # the same codes, even for a batch that one fold lacks
        history = fold.fit(kept, validation=held_out)
        return [record.validation_loss for record in history.records]

    labels = None if batches is None else np.asarray(label_array(batches, n_samples, "fit"))
    model.epoch_search = search_epochs_on(arrays, present, settings.seed, fold_losses, labels, covariates)
    epochs = model.epoch_search.epochs
    # Written out as trained (config.toml shows the epoch count used); a rerun searches again from the data.
    chosen = dataclasses.replace(settings, epochs=epochs, patience=epochs + 1)
    model.config = dataclasses.replace(model.config, train=chosen)
    return chosen


def fit_preprocessing(model: Any, arrays: Arrays, present: Masks) -> Arrays:
    """Fit preprocessors, check the data against each likelihood and set library sizes on present rows."""
    methods = {name: model.config.model.preprocessing_for(name) for name in arrays}
    model.preprocessors = fit_preprocessors(methods, arrays, present)
    arrays = transform_all(model.preprocessors, arrays, present)
    rows = {name: present_rows(values, present, name) for name, values in arrays.items()}
    for name, values in rows.items():
        model.module.likelihoods[name].check_data(values, name)
    model.module.set_library_sizes({name: torch.from_numpy(values) for name, values in rows.items()})
    return arrays


def split_validation(
    model: Any,
    arrays: Arrays,
    present: Masks,
    validation: Any,
    settings: TrainConfig,
    covariates: np.ndarray | None = None,
    validation_covariates: np.ndarray | None = None,
) -> tuple[tuple[Part, Any], tuple[Part, Any] | None]:
    """((training part, its covariate rows), (validation part, its covariate rows) or None): the given validation
    samples preprocessed, else a seeded hold-out of train.validation_fraction (30 samples or more), whose rows are
    taken from the arrays, masks and covariate rows alike."""
    if validation is not None:
        values, masks = check_partial(validation, "validation data", model.input_sizes)
        return ((arrays, present), covariates), (
            (transform_all(model.preprocessors, values, masks), masks),
            validation_covariates,
        )
    n_samples = len(next(iter(arrays.values())))
    if not validation_size(n_samples, settings.validation_fraction):
        return ((arrays, present), covariates), None
    kept, held = hold_out_rows(n_samples, settings.validation_fraction, settings.seed)
    return tuple(
        (part_rows(arrays, present, rows), None if covariates is None else covariates[rows]) for rows in (kept, held)
    )


def fit_batch_covariate(model: Any, labels: Any, n_samples: int, validation: Any) -> tuple[Any, Any]:
    """(training rows, validation rows) of one-hot batch labels, or (None, None) without labels. Sets the model's
    label encoder (kept when it already knows every label, as a fold model's or a refit's) and model.batch_categories
    to the label count when it was 0, rebuilding the module."""
    width = model.config.model.batch_categories
    if labels is None:
        if width:
            raise SharedLatentError(f"model.batch_categories is {width}: give fit one batch label per sample (batch=)")
        return None, None
    values = label_array(labels, n_samples, "fit")
    known = model.batch_encoder
    encoder = known if known and set(values) <= set(known.categories) else BatchEncoder.fit(values, n_samples, width)
    held = _validation_labels(validation, "batches", "batch labels")
    model.batch_encoder = encoder
    _set_input_width(model, "batch_categories", encoder.width)
    rows = encoder.one_hot(values, n_samples, "fit")
    return rows, None if held is None else encoder.one_hot(held, len(held), "validation")


def fit_continuous_covariates(model: Any, values: Any, n_samples: int, validation: Any) -> tuple[Any, Any]:
    """(training rows, validation rows) of standardised continuous covariates, or (None, None) without them. Sets
    the model's scaler (the training mean and std) and model.continuous_covariates to the column count, rebuilding
    the module when that changes."""
    width = model.config.model.continuous_covariates
    if values is None:
        if width:
            raise SharedLatentError(
                f"model.continuous_covariates is {width}: give fit covariates= (one row per sample)"
            )
        model.covariate_scaler = None
        return None, None
    scaler = CovariateScaler.fit(values, n_samples)
    held = _validation_labels(validation, "covariates", "covariates")
    model.covariate_scaler = scaler
    _set_input_width(model, "continuous_covariates", scaler.width)
    rows = scaler.rows(values, n_samples, "fit")
    return rows, None if held is None else scaler.rows(held, len(held), "validation")


def _validation_labels(validation: Any, field: str, what: str) -> Any:
    """The given validation Split's `field` (batches or covariates), which fitting with `what` needs; None
    without a validation set."""
    if validation is None:
        return None
    held = getattr(validation, field, None)
    if held is None:
        raise SharedLatentError(f"with {what}, give validation as a Split with {field}, or leave it out")
    return held


def _set_input_width(model: Any, field: str, width: int) -> None:
    """Set the model config's `field` (a count of covariate columns) to `width`, rebuilding the module if it changed."""
    if getattr(model.config.model, field) != width:
        layout = dataclasses.replace(model.config.model, **{field: width})
        model.config = dataclasses.replace(model.config, model=layout)
        model.build_module()


def settle_weight_decay(model: Any) -> None:
    """Write out an unset train.weight_decay as the value its rule gives (after the "auto" preprocessing is chosen),
    so config.toml says what training used and a config without the key is known to predate it."""
    if model.config.train.weight_decay is None:
        chosen = model.config.weight_decay(model.domain_names)
        train = dataclasses.replace(model.config.train, weight_decay=chosen)
        model.config = dataclasses.replace(model.config, train=train)


def settle_ema_decay(model: Any, settings: TrainConfig, steps_per_epoch: int) -> TrainConfig:
    """`settings` and the model's config with an unset train.ema_decay written out as the value its rule gives for
    this many steps per epoch, so config.toml says what training used and a config without the key is known to
    predate the weight average."""
    if settings.ema_decay is not None:
        return settings
    chosen = averaging_decay(None, steps_per_epoch)
    model.config = dataclasses.replace(model.config, train=dataclasses.replace(model.config.train, ema_decay=chosen))
    return dataclasses.replace(settings, ema_decay=chosen)


def settle_zero_output_layers(model: Any) -> None:
    """Write out an unset model.zero_output_layers (after train.kl_reduction is settled): true unless the KL is
    summed. Rebuilds an untrained module when that start differs from the one it was built with (a trained or
    loaded one keeps its weights: its start is long past)."""
    layout = model.config.model
    if layout.zero_output_layers is not None:
        return
    chosen = model.config.train.kl_reduction != "sum"
    model.config = dataclasses.replace(model.config, model=dataclasses.replace(layout, zero_output_layers=chosen))
    untrained = model.history is None and model.loaded_from is None
    if untrained and model.module.zero_output_layers != chosen:
        model.build_module()


def settle_kl_reduction(model: Any) -> None:
    """Write out train.kl_reduction "auto": "sum" (the ELBO) with covariates, else "mean" (the original's)."""
    if model.config.train.kl_reduction != names.AUTO:
        return
    layout = model.config.model
    chosen = "sum" if layout.batch_categories or layout.continuous_covariates else "mean"
    model.config = dataclasses.replace(model.config, train=dataclasses.replace(model.config.train, kl_reduction=chosen))
