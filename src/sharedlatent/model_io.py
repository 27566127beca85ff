"""A model in one safetensors file: its weights plus the metadata that rebuilds it (config, input sizes, latent
box, fitted preprocessing, AnnData registration, batch labels, continuous covariates, count domains' library
predictors). Loading checks the file first: it is data, never trusted."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from sharedlatent.config import RunConfig
from sharedlatent.continuous_covariates import CovariateScaler
from sharedlatent.covariates import BatchEncoder
from sharedlatent.library_prediction import LibraryPredictor, regressor_width
from sharedlatent.model_file import FORMAT_VERSION, read_model_file
from sharedlatent.preprocessing import preprocessor_from_dict
from sharedlatent.scverse.registration import Registration
from sharedlatent.storage import save_weights


def save_model(model: Any, path: str | Path) -> None:
    """Write `model`'s weights and the metadata that rebuilds it to `path`, atomically."""
    metadata: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "input_sizes": model.input_sizes,
        "latent_box": None if model.latent_box is None else [a.tolist() for a in model.latent_box],
        "preprocessors": {name: p.to_dict() for name, p in model.preprocessors.items()},
        "registration": None if model.registration is None else model.registration.to_dict(),
    }
    if model.batch_encoder is not None:  # absent otherwise, so files without batches are unchanged
        obs_key = None if model.registration is None else model.registration.batch_key
        metadata["batch"] = {"labels": list(model.batch_encoder.categories), "obs_key": obs_key}
    if getattr(model, "library_predictors", None):  # absent otherwise, as the batch record
        metadata["library"] = {name: p.to_dict() for name, p in model.library_predictors.items()}
    if getattr(model, "covariate_scaler", None) is not None:  # absent otherwise, as the batch record
        keys = None if model.registration is None else model.registration.continuous_keys
        metadata["covariates"] = {**model.covariate_scaler.to_dict(), "obs_keys": keys}
    save_weights(path, model.module.state_dict(), metadata)


def load_model(cls: type, path: str | Path, device: str = "cpu") -> Any:
    """An instance of `cls` (SharedLatentVAE) rebuilt from a file `save_model` wrote, after checking the file."""
    metadata, tensors = read_model_file(path)  # read once: the tensors loaded are the ones checked
    config = RunConfig.from_dict(metadata["config"])
    config.train = dataclasses.replace(config.train, device=device)
    model = cls(metadata["input_sizes"], config)
    model.module.load_state_dict(tensors)
    model.preprocessors = {name: preprocessor_from_dict(values) for name, values in metadata["preprocessors"].items()}
    model.registration = Registration.from_dict(metadata.get("registration"))
    if metadata.get("batch") is not None:
        batch = metadata["batch"]
        model.batch_encoder = BatchEncoder(tuple(batch["labels"]), config.model.batch_categories)
        if batch["obs_key"] is not None:
            model.registration = model.registration or Registration({})
            model.registration.batch_key = batch["obs_key"]
    if metadata.get("covariates") is not None:
        model.covariate_scaler = CovariateScaler.from_dict(metadata["covariates"])
        if metadata["covariates"]["obs_keys"] is not None:
            model.registration = model.registration or Registration({})
            model.registration.continuous_keys = list(metadata["covariates"]["obs_keys"])
    width = regressor_width(config.model)
    model.library_predictors = {
        name: LibraryPredictor.from_dict(values, width, f"{path}: library of domain {name!r}")
        for name, values in (metadata.get("library") or {}).items()
    }
    model.loaded_from = str(path)
    if metadata.get("latent_box") is not None:
        low, high = metadata["latent_box"]
        model.latent_box = (np.asarray(low, dtype=np.float32), np.asarray(high, dtype=np.float32))
    return model
