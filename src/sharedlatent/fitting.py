"""What `SharedLatentVAE.fit` settles before the training loop runs: settings chosen from the data, how long
to train, the fitted preprocessing, and the validation samples. Each step reads and updates the model."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np
import torch

from sharedlatent import names
from sharedlatent.auto_settings import count_likelihood_warning, resolve_auto
from sharedlatent.config import TrainConfig
from sharedlatent.covariates import BatchEncoder
from sharedlatent.datasets.base import Split
from sharedlatent.datasets.partial import check_partial
from sharedlatent.errors import SharedLatentError
from sharedlatent.preprocessing import fit_preprocessors, present_rows, transform_all
from sharedlatent.training.epoch_search import needs_epoch_search, search_epochs_on
from sharedlatent.training.holdout import hold_out, hold_out_rows, validation_size

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


def trained_length(model: Any, arrays: Arrays, present: Masks, validation: Any) -> TrainConfig:
    """The training settings, with the epoch count chosen by k-fold CV when the hold-out would be too small."""
    settings = model.config.train
    if validation is not None or not needs_epoch_search(len(next(iter(arrays.values()))), settings):
        return settings
    fold_config = dataclasses.replace(model.config, train=dataclasses.replace(settings, progress=False))

    def fold_losses(kept: Split, held_out: Split) -> list[float]:
        history = type(model)(model.input_sizes, fold_config).fit(kept, validation=held_out)
        return [record.validation_loss for record in history.records]

    model.epoch_search = search_epochs_on(arrays, present, settings.seed, fold_losses)
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
    model: Any, arrays: Arrays, present: Masks, validation: Any, settings: TrainConfig
) -> tuple[Part, Part | None]:
    """(training part, validation part or None): the given validation samples preprocessed, else a seeded
    hold-out of train.validation_fraction when that is 30 samples or more."""
    if validation is not None:
        values, masks = check_partial(validation, "validation data", model.input_sizes)
        return (arrays, present), (transform_all(model.preprocessors, values, masks), masks)
    if validation_size(len(next(iter(arrays.values()))), settings.validation_fraction):
        return hold_out(arrays, settings.validation_fraction, settings.seed, present)
    return (arrays, present), None


def fit_batch_covariate(model: Any, labels: Any, n_samples: int, validation: Any) -> np.ndarray | None:
    """One-hot batch rows of the training samples, with the label encoder set on `model` (and model.batch_categories
    set to the label count when it was 0, rebuilding the module); None without labels."""
    width = model.config.model.batch_categories
    if labels is None:
        if width:
            raise SharedLatentError(f"model.batch_categories is {width}: give fit one batch label per sample (batch=)")
        model.batch_encoder = None
        return None
    encoder = BatchEncoder.fit(labels, n_samples, width)
    if validation is not None:
        raise SharedLatentError("with batch labels, leave validation out: fit holds out train.validation_fraction")
    if needs_epoch_search(n_samples, model.config.train):  # its fold models would train without the labels
        raise SharedLatentError("with batch labels, set train.validation_fraction to hold out 30 samples or more, or 0")
    model.batch_encoder = encoder
    if model.batch_encoder.width != width:
        layout = dataclasses.replace(model.config.model, batch_categories=model.batch_encoder.width)
        model.config = dataclasses.replace(model.config, model=layout)
        model.build_module()
    return model.batch_encoder.one_hot(labels, n_samples, "fit")


def settle_kl_reduction(model: Any) -> None:
    """Write out train.kl_reduction "auto": "sum" (the ELBO) with a batch covariate, else "mean" (the original's)."""
    if model.config.train.kl_reduction != names.AUTO:
        return
    chosen = "sum" if model.config.model.batch_categories else "mean"
    model.config = dataclasses.replace(model.config, train=dataclasses.replace(model.config.train, kl_reduction=chosen))


def split_covariates(covariates: np.ndarray | None, settings: TrainConfig) -> tuple[Any, Any]:
    """(training rows, validation rows) of `covariates`, split as split_validation splits the samples."""
    if covariates is None or not validation_size(len(covariates), settings.validation_fraction):
        return covariates, None
    kept, held = hold_out_rows(len(covariates), settings.validation_fraction, settings.seed)
    return covariates[kept], covariates[held]
