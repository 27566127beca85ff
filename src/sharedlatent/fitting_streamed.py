"""`SharedLatentVAE.fit` on data that stays on disk (a StreamedSplit): the same steps as fitting.py, each a pass
over row chunks or a read of index arrays, so memory does not grow with the number of samples."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sharedlatent.datasets.streaming import StreamedSplit
from sharedlatent.errors import SharedLatentError
from sharedlatent.fitting import (
    choose_auto_settings,
    settle_kl_reduction,
    settle_weight_decay,
    settle_zero_output_layers,
    train_stages,
)
from sharedlatent.inference import encode_means
from sharedlatent.preprocessing import fit_streamed, transform_all
from sharedlatent.training.checkpoint import as_checkpoint
from sharedlatent.training.epoch_search import needs_epoch_search
from sharedlatent.training.holdout import hold_out_rows, validation_size
from sharedlatent.training.loop import History
from sharedlatent.training.sources import StreamedData

AUTO_SAMPLE_ROWS = 10_000  # "auto" settings look at up to this many seeded rows (all rows of smaller data)
# ... and at most this many values, as the sample is read dense (16 MB of float32 however wide the domain)
AUTO_SAMPLE_VALUES = 4_000_000


def fit_from_disk(
    model: Any, split: StreamedSplit, validation: Any, progress: bool | None, checkpoint: Any, resume: bool
) -> History:
    """Train `model` on `split` read batch by batch; its validation hold-out is an index array too."""
    if validation is not None:
        raise SharedLatentError("data on disk holds out its own validation samples (train.validation_fraction)")
    if split.input_sizes != dict(model.input_sizes):
        raise SharedLatentError(f"the files have feature counts {split.input_sizes}, the model {model.input_sizes}")
    if model.config.model.continuous_covariates:
        raise SharedLatentError("covariates are not read from disk yet; load the data in memory to fit them")
    if model.config.model.batch_categories:
        raise SharedLatentError("batch labels are not read from disk yet; load the data in memory to fit batches")
    settings, n = model.config.train, split.n_samples
    if needs_epoch_search(n, settings):
        raise SharedLatentError(
            f"{n} samples are too few to stream from disk (their validation hold-out would be under 30 samples, "
            "which in memory picks the epoch count by cross-validation); load them in memory (backed=false), or "
            "set train.validation_fraction=0 to train the configured epochs without a hold-out"
        )
    checkpoint = as_checkpoint(checkpoint, model.config)
    settle_kl_reduction(model)
    settle_zero_output_layers(model)
    sample = {
        name: split.read_domain(name, _auto_sample(n, settings.seed, width))
        for name, width in split.input_sizes.items()
    }
    choose_auto_settings(model, sample, None)
    settle_weight_decay(model)
    fit_preprocessing_streamed(model, split)
    kept, held = np.arange(n), None
    if validation_size(n, settings.validation_fraction):
        kept, held = hold_out_rows(n, settings.validation_fraction, settings.seed)
    train_data = StreamedData(split.subset(kept), model.preprocessors, model.device)
    validation_data = None if held is None else StreamedData(split.subset(held), model.preprocessors, model.device)
    train_stages(model, train_data, validation_data, settings, progress=progress, checkpoint=checkpoint, resume=resume)
    model.latent_box = latent_box(model, split.subset(kept))
    return model.history


def _auto_sample(n: int, seed: int, features: int) -> np.ndarray:
    """Seeded sorted rows for one domain's "auto" settings: AUTO_SAMPLE_ROWS, fewer for a wide one (at least 1,000)."""
    rows = min(AUTO_SAMPLE_ROWS, max(1_000, AUTO_SAMPLE_VALUES // max(features, 1)))
    if n <= rows:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, rows, replace=False))


def fit_preprocessing_streamed(model: Any, split: StreamedSplit) -> None:
    """Preprocessors fitted in one pass per domain; then a pass over the transformed rows checks them against each
    likelihood and gathers the row totals the count likelihoods' library sizes need."""
    methods = {name: model.config.model.preprocessing_for(name) for name in split.domains}
    model.preprocessors = {
        name: fit_streamed(methods[name], (split.read_domain(name, rows) for rows in split.chunk_rows()))
        for name in split.domains
    }
    totals: dict[str, list[torch.Tensor]] = {name: [] for name in split.domains}
    for chunk in split.chunks():
        for name, values in transform_all(model.preprocessors, chunk).items():
            model.module.likelihoods[name].check_data(values, name)
            totals[name].append(torch.from_numpy(values).sum(dim=1))
    model.module.set_library_sizes({name: torch.cat(sums)[:, None] for name, sums in totals.items()})


def latent_box(model: Any, split: StreamedSplit) -> tuple[np.ndarray, np.ndarray]:
    """The per-dimension min and max of the joint encodings of `split`, encoded chunk by chunk."""
    low = high = None
    for chunk in split.chunks():
        encodings = encode_means(model.module, transform_all(model.preprocessors, chunk), None, model.device)
        low = encodings.min(axis=0) if low is None else np.minimum(low, encodings.min(axis=0))
        high = encodings.max(axis=0) if high is None else np.maximum(high, encodings.max(axis=0))
    return low, high
