"""What the run metrics read from a model, gathered as plain data (numpy arrays and fitted preprocessors).

The model runs once here (torch); evaluation/run_metrics.py scores the result with scikit-learn, in this process or
in the evaluation worker (runs/evaluation_worker.py), which imported scikit-learn while the model trained."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from sharedlatent.count_inputs import CountInputWarning
from sharedlatent.evaluation.latent_usage import ACTIVE_THRESHOLD, active_latent_dimensions, gaussian_kl_per_dimension
from sharedlatent.evaluation.predictions import RunOutputs

if TYPE_CHECKING:
    from sharedlatent.preprocessing import Preprocessor

NOISE_SAMPLES = 1000
PRIOR_SEED = 1  # the prior samples the label metrics judge; the outputs' generated samples use the run's seed


class TrainedModel(Protocol):
    """What the run metrics ask of a model (SharedLatentVAE has it): its config and preprocessors, and encode,
    latent_distribution, cycle, generate (with batch labels, None for a model fitted without them)."""

    config: Any
    preprocessors: dict[str, Any]

    def encode(self, values: np.ndarray, domain: str, *, batch: Any = None) -> np.ndarray: ...

    def latent_distribution(
        self, x: np.ndarray, domain: str, *, batch: Any = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def cycle(self, values: np.ndarray, source: str, target: str, *, batch: Any = None) -> np.ndarray: ...

    def generate(
        self, n: int, method: str = "box", seed: int = 0, *, transform_batch: Any = None
    ) -> dict[str, np.ndarray]: ...


@dataclass
class DomainScales:
    """How the model reads each domain: its fitted preprocessor and its likelihood's name (counts or not)."""

    preprocessors: Mapping[str, Preprocessor]
    likelihoods: Mapping[str, str]

    @classmethod
    def of(cls, model: TrainedModel) -> DomainScales:
        return cls(
            preprocessors=dict(model.preprocessors),
            likelihoods={name: model.config.model.likelihood_for(name) for name in model.preprocessors},
        )


@dataclass
class NoiseCycles:
    """The original's check: random inputs (uniform over each feature's training range) per source domain, and their
    cycles there and back, keyed by (source, target)."""

    inputs: dict[str, np.ndarray]
    cycled: dict[tuple[str, str], np.ndarray]


@dataclass
class MetricsInputs:
    """Everything run_metrics.score_run scores, without the model: the split's outputs, the training rows the
    baselines and classifiers fit on, and what the model made of them."""

    outputs: RunOutputs
    train_domains: dict[str, np.ndarray]  # training rows (a bounded, seeded subsample for large data)
    train_labels: np.ndarray | None
    scales: DomainScales
    latent_usage: dict[str, Any]
    noise_cycles: NoiseCycles
    train_encodings: dict[str, np.ndarray] | None  # each domain's encodings of the training rows, for label transfer
    prior_samples: dict[str, np.ndarray] | None  # pairs generated from the prior, for the label metrics

    @property
    def has_labels(self) -> bool:
        """Whether the label metrics apply: labelled test and training samples with more than one class."""
        return (
            self.outputs.labels is not None and self.train_labels is not None and len(np.unique(self.train_labels)) > 1
        )


def gather_metrics_inputs(
    model: TrainedModel,
    outputs: RunOutputs,
    train_domains: dict[str, np.ndarray],
    train_labels: np.ndarray | None = None,
    *,
    train_batches: np.ndarray | None = None,
) -> MetricsInputs:
    """Run the model over what the metrics need beyond `outputs` (`train_batches`: the training rows' batch labels,
    for a batch model)."""
    inputs = MetricsInputs(
        outputs=outputs,
        train_domains=train_domains,
        train_labels=train_labels,
        scales=DomainScales.of(model),
        latent_usage=latent_usage(model, outputs),
        noise_cycles=noise_cycles(model, train_domains, batch=outputs.generated_batch),
        train_encodings=None,
        prior_samples=None,
    )
    if inputs.has_labels:
        assert outputs.labels is not None
        inputs.train_encodings = {
            name: model.encode(values, name, batch=train_batches) for name, values in train_domains.items()
        }
        inputs.prior_samples = model.generate(
            len(outputs.labels), method="prior", seed=PRIOR_SEED, transform_batch=outputs.generated_batch
        )
    return inputs


def latent_usage(model: TrainedModel, outputs: RunOutputs) -> dict[str, Any]:
    """Active latent dimensions (mean KL above 0.01 nats) of each domain's test encodings."""
    usage = {}
    for name, out in outputs.domains.items():
        finite = ~np.isnan(out.truth).any(axis=1)
        batch = None if outputs.batches is None else outputs.batches[finite]
        mean, log_sigma = model.latent_distribution(out.truth[finite], name, batch=batch)
        usage[name] = active_latent_dimensions(gaussian_kl_per_dimension(mean, log_sigma))
    return {
        "active_dimensions": usage,
        "latent_size": int(model.config.model.latent_size),
        "threshold_nats": ACTIVE_THRESHOLD,
    }


def noise_cycles(
    model: TrainedModel, train_domains: dict[str, np.ndarray], seed: int = 0, batch: str | None = None
) -> NoiseCycles:
    """Cycle random inputs (uniform over each feature's training range) there and back (a batch model's within
    `batch`)."""
    rng = np.random.default_rng(seed)
    inputs, cycled = {}, {}
    for source, values in train_domains.items():
        low, high = values.min(axis=0), values.max(axis=0)
        noise = rng.uniform(low, high, size=(NOISE_SAMPLES, values.shape[1])).astype(np.float32)
        inputs[source] = noise
        for target in train_domains:
            if target != source:
                with warnings.catch_warnings():  # uniform noise is not counts, on purpose
                    warnings.simplefilter("ignore", CountInputWarning)
                    cycled[(source, target)] = model.cycle(noise, source, target, batch=batch)
    return NoiseCycles(inputs, cycled)
