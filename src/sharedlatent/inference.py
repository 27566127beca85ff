"""Encoding and decoding arrays in chunks through a trained module (no gradients), in the user's units."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from sharedlatent.nn.model import SharedLatentModule
from sharedlatent.training.runtime import map_chunks


def decode_points(
    module: SharedLatentModule,
    preprocessor: Any,
    latent: np.ndarray,
    domain: str,
    device: torch.device,
    observed: np.ndarray | None = None,
    library: np.ndarray | None = None,
    covariates: np.ndarray | None = None,
) -> np.ndarray:
    """Point reconstructions of `domain` from latent points, in the user's units (`observed`: that domain's
    preprocessed input, for its library size; `library`: a library size column given instead; `covariates`:
    the covariate rows (batch one-hot, then standardised continuous covariates) to decode as)."""
    arrays = {"z": latent, **({} if observed is None else {"x": observed})}
    arrays.update({} if library is None else {"library": library})
    arrays.update({} if covariates is None else {"covariates": covariates})

    def reconstruct(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        size = module.observed_library(domain, batch["x"]) if "x" in batch else batch.get("library")
        return module.reconstruction(domain, module.decode(batch["z"], [domain], batch.get("covariates"))[domain], size)

    return preprocessor.inverse_transform(map_chunks(module, arrays, reconstruct, device))


def encode_means(
    module: SharedLatentModule,
    arrays: Mapping[str, np.ndarray],
    present: Mapping[str, np.ndarray] | None,
    device: torch.device,
    covariates: np.ndarray | None = None,
) -> np.ndarray:
    """Latent means of preprocessed `arrays`, combining only the present domains of each row (`covariates`:
    the covariate rows (batch one-hot, then standardised continuous covariates))."""
    domains = list(arrays)
    stacked = dict(arrays)
    if present is not None:
        stacked.update({f"present:{name}": present[name].astype(np.float32) for name in domains})
    if covariates is not None:
        stacked["covariates"] = covariates

    def encode(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        masks = None if present is None else {name: batch[f"present:{name}"] for name in domains}
        return module.latent({name: batch[name] for name in domains}, masks, batch.get("covariates")).mean

    return map_chunks(module, stacked, encode, device)
