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
) -> np.ndarray:
    """Point reconstructions of `domain` from latent points, in the user's units (`observed`: that domain's
    preprocessed input, for its library size; `library`: a library size column given instead)."""
    arrays = {"z": latent, **({} if observed is None else {"x": observed})}
    arrays.update({} if library is None else {"library": library})

    def reconstruct(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        size = module.observed_library(domain, batch["x"]) if "x" in batch else batch.get("library")
        return module.reconstruction(domain, module.decode(batch["z"], [domain])[domain], size)

    return preprocessor.inverse_transform(map_chunks(module, arrays, reconstruct, device))


def encode_means(
    module: SharedLatentModule,
    arrays: Mapping[str, np.ndarray],
    present: Mapping[str, np.ndarray] | None,
    device: torch.device,
) -> np.ndarray:
    """Latent means of preprocessed `arrays`, combining only the present domains of each row."""
    if present is None:
        return map_chunks(module, arrays, lambda batch: module.latent(batch).mean, device)
    domains = list(arrays)
    stacked = {**arrays, **{f"present:{name}": present[name].astype(np.float32) for name in domains}}

    def encode(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        masks = {name: batch[f"present:{name}"] for name in domains}
        return module.latent({name: batch[name] for name in domains}, masks).mean

    return map_chunks(module, stacked, encode, device)
