"""`SharedLatentVAE.fit` on data held in memory: covariates, "auto" settings, preprocessing, the validation
hold-out, then the training loop over tensors (fitting_streamed.py does the same for data that stays on disk)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sharedlatent.continuous_covariates import joined
from sharedlatent.datasets.partial import check_partial
from sharedlatent.errors import SharedLatentError
from sharedlatent.fitting import (
    choose_auto_settings,
    fit_batch_covariate,
    fit_continuous_covariates,
    fit_preprocessing,
    settle_kl_reduction,
    settle_weight_decay,
    settle_zero_output_layers,
    split_validation,
    train_stages,
    trained_length,
)
from sharedlatent.inference import encode_means
from sharedlatent.library_prediction import fit_library_predictors
from sharedlatent.training.checkpoint import as_checkpoint
from sharedlatent.training.loop import History, TensorData


def fit_in_memory(
    model: Any,
    train: Any,
    validation: Any,
    *,
    present: Mapping[str, Any] | None,
    batch: Any,
    covariates: Any,
    progress: bool | None,
    checkpoint: Any,
    resume: bool,
) -> History:
    """Train `model` on arrays per domain (or a Split); sets its history and the box its training encodings fill."""
    train_arrays, train_present = check_partial(train, "training data", model.input_sizes, present=present)
    if validation is None:  # a fold of the epoch search (given its held-out rows) may lack what the whole data has
        refuse_unlinked(train_present)
    checkpoint = as_checkpoint(checkpoint, model.config)  # identified by the config as given, "auto" and all
    n_samples = len(next(iter(train_arrays.values())))
    batch_rows, validation_batch = fit_batch_covariate(model, batch, n_samples, validation)
    continuous, validation_continuous = fit_continuous_covariates(model, covariates, n_samples, validation)
    covariates = joined(batch_rows, continuous)
    validation_covariates = joined(validation_batch, validation_continuous)
    settle_kl_reduction(model)
    settle_zero_output_layers(model)
    choose_auto_settings(model, train_arrays, train_present)
    settle_weight_decay(model)
    # the folds of an epoch search get the standardised columns (their own scaling is then near the identity)
    settings = trained_length(model, train_arrays, train_present, validation, batch, continuous)
    train_arrays = fit_preprocessing(model, train_arrays, train_present)
    ((train_arrays, train_present), covariates), held = split_validation(
        model, train_arrays, train_present, validation, settings, covariates, validation_covariates
    )
    validation_data = None if held is None else TensorData.from_numpy(*held[0], model.device, held[1])
    train_data = TensorData.from_numpy(train_arrays, train_present, model.device, covariates)
    train_stages(model, train_data, validation_data, settings, progress=progress, checkpoint=checkpoint, resume=resume)
    encodings = encode_means(model.module, train_arrays, train_present, model.device, covariates)
    model.latent_box = (encodings.min(axis=0), encodings.max(axis=0))
    model.library_predictors = fit_library_predictors(model, train_arrays, train_present, covariates)
    return model.history


def refuse_unlinked(present: dict[str, np.ndarray] | None) -> None:
    """Refuse training data where a domain has no sample, or no sample has two domains: nothing would tie the
    domains' encodings together (two AnnData objects whose obs_names share nothing trained two unrelated
    autoencoders, and translated)."""
    if present is None:
        return
    empty = [name for name, mask in present.items() if not np.asarray(mask, dtype=bool).any()]
    if empty:
        raise SharedLatentError(f"domain {empty[0]!r} has no samples (0 present); give it the cells it measured")
    if len(present) < 2:
        return
    if not (np.sum([np.asarray(mask, dtype=bool) for mask in present.values()], axis=0) >= 2).any():
        raise SharedLatentError(
            "no sample has more than one domain, so nothing links the domains; AnnData and MuData pair cells by "
            "obs_names: check that the objects name the same cells alike"
        )
