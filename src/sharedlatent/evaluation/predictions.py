"""What a trained model made of one split, per domain, as plain arrays: the inputs of every figure and metric.

runs.predictions.compute_outputs fills these from a model; metrics and figures read them without torch or the API."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
    """Outputs of every domain on one split, with the split's labels and, for a batch model, its batch labels and
    the batch that generated samples (and noise cycles) are decoded as."""

    domains: dict[str, DomainOutputs]
    labels: np.ndarray | None = None
    joint_encoding: np.ndarray | None = None
    generated_method: str = "box"
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    batches: np.ndarray | None = None
    generated_batch: str | None = None

    @property
    def domain_names(self) -> list[str]:
        return list(self.domains)
