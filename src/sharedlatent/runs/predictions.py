"""Run a trained model over one split once, keeping every output that the metrics and figures read."""

from __future__ import annotations

import numpy as np

from sharedlatent.api import SharedLatentVAE
from sharedlatent.datasets.base import Split
from sharedlatent.evaluation.predictions import DomainOutputs, RunOutputs
from sharedlatent.runs.batches import generated_batch


def compute_outputs(
    model: SharedLatentVAE, split: Split, *, n_generated: int | None = None, method: str = "box", seed: int = 0
) -> RunOutputs:
    """Reconstruct, translate, cycle and encode every domain of `split`, and generate as many new pairs.

    Parameters
    ----------
    model
        The trained model.
    split
        Fully paired samples (row i of every domain is one sample).
    n_generated
        How many pairs to generate; as many as `split` has samples when None.
    method
        How generation samples the latent space ("box" or "prior").
    seed
        Seed of the generation.

    A batch model decodes each sample in its own batch (split.batches) and generates as `generated_batch`.
    """
    names, batch, generated_as = model.domain_names, split.batches, generated_batch(model)
    generated = model.generate(n_generated or split.n_samples, method=method, seed=seed, transform_batch=generated_as)
    domains = {}
    for name in names:
        truth = split.domains[name]
        others = [other for other in names if other != name]
        domains[name] = DomainOutputs(
            truth=truth,
            reconstruction=model.reconstruct(truth, name, batch=batch),
            translated={other: model.translate(split.domains[other], other, name, batch=batch) for other in others},
            cycled={other: model.cycle(truth, name, other, batch=batch) for other in others},
            generated=generated[name],
            encoding=model.encode(truth, name, batch=batch),
        )
    joint = model.encode_joint({name: split.domains[name] for name in names}, batch=batch)
    return RunOutputs(domains, split.labels, joint, method, batches=batch, generated_batch=generated_as)


def interpolate(model: SharedLatentVAE, split: Split, steps: int) -> dict[str, np.ndarray]:
    """Decode a straight latent line between the joint encodings of two samples (of different labels when known);
    a batch model decodes the line as `generated_batch`."""
    first, second = 0, min(1, split.n_samples - 1)
    if split.labels is not None:
        different = np.flatnonzero(split.labels != split.labels[first])
        second = int(different[0]) if different.size else second
    ends_batch = None if split.batches is None else split.batches[[first, second]]
    ends = model.encode_joint(
        {name: values[[first, second]] for name, values in split.domains.items()}, batch=ends_batch
    )
    weights = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return model.decode((1 - weights) * ends[0] + weights * ends[1], transform_batch=generated_batch(model))
