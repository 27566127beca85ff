"""Run a trained model over one split once, keeping every output that the metrics and figures read."""

from __future__ import annotations

import numpy as np

from sharedlatent.api import SharedLatentVAE
from sharedlatent.datasets.base import Split
from sharedlatent.evaluation.predictions import DomainOutputs, RunOutputs


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
    """
    names = model.domain_names
    generated = model.generate(n_generated or split.n_samples, method=method, seed=seed)
    domains = {}
    for name in names:
        truth = split.domains[name]
        domains[name] = DomainOutputs(
            truth=truth,
            reconstruction=model.reconstruct(truth, name),
            translated={other: model.translate(split.domains[other], other, name) for other in names if other != name},
            cycled={other: model.cycle(truth, name, other) for other in names if other != name},
            generated=generated[name],
            encoding=model.encode(truth, name),
        )
    joint = model.encode_joint({name: split.domains[name] for name in names})
    return RunOutputs(domains, split.labels, joint, method)


def interpolate(model: SharedLatentVAE, split: Split, steps: int) -> dict[str, np.ndarray]:
    """Decode a straight latent line between the joint encodings of two samples (of different labels when known)."""
    first, second = 0, min(1, split.n_samples - 1)
    if split.labels is not None:
        different = np.flatnonzero(split.labels != split.labels[first])
        second = int(different[0]) if different.size else second
    ends = model.encode_joint({name: values[[first, second]] for name, values in split.domains.items()})
    weights = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return model.decode((1 - weights) * ends[0] + weights * ends[1])
