"""What a trained model makes of one split, per domain: the inputs of every figure and metric."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sharedlatent.api import SharedLatentVAE
from sharedlatent.datasets.base import Split


@dataclass
class DomainOutputs:
    """One domain's truth and the model's versions of it; `translated` and `cycled` are keyed by the other domain."""

    truth: np.ndarray
    reconstruction: np.ndarray
    translated: dict[str, np.ndarray]  # from each other domain into this one
    cycled: dict[str, np.ndarray]  # this domain -> other -> this domain
    generated: np.ndarray  # jointly generated with the other domains (row i of each domain is one pair)
    encoding: np.ndarray  # latent means from this domain alone


@dataclass
class RunOutputs:
    """Outputs of every domain on one split, with the split's labels."""

    domains: dict[str, DomainOutputs]
    labels: np.ndarray | None = None
    joint_encoding: np.ndarray | None = None
    generated_method: str = "box"
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def domain_names(self) -> list[str]:
        return list(self.domains)


def compute_outputs(
    model: SharedLatentVAE, split: Split, n_generated: int | None = None, method: str = "box", seed: int = 0
) -> RunOutputs:
    """Reconstruct, translate, cycle and encode every domain of `split`, and generate as many new pairs."""
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
