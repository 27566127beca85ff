"""The numbers of a run folder's metrics.json: errors per domain and direction, baselines, latent alignment, labels."""

from __future__ import annotations

import warnings
from typing import Any, Protocol

import numpy as np

from sharedlatent.count_inputs import CountInputWarning
from sharedlatent.evaluation import metrics as evaluate
from sharedlatent.evaluation.baseline_metrics import baseline_comparison, latent_usage
from sharedlatent.evaluation.mixing import mixing_entry
from sharedlatent.evaluation.omics import outputs_metrics
from sharedlatent.evaluation.predictions import RunOutputs

NOISE_SAMPLES = 1000


class TrainedModel(Protocol):
    """What the run metrics ask of a model (SharedLatentVAE has it): its config, and encode, cycle, generate
    (with batch labels, None for a model fitted without them)."""

    config: Any

    def encode(self, values: np.ndarray, domain: str, *, batch: Any = None) -> np.ndarray: ...

    def cycle(self, values: np.ndarray, source: str, target: str, *, batch: Any = None) -> np.ndarray: ...

    def generate(
        self, n: int, method: str = "box", seed: int = 0, *, transform_batch: Any = None
    ) -> dict[str, np.ndarray]: ...


def error_pair(truth: np.ndarray, prediction: np.ndarray) -> dict[str, float]:
    """MSE and MAE of `prediction` against `truth`."""
    return {
        "mse": evaluate.mean_squared_error(truth, prediction),
        "mae": evaluate.mean_absolute_error(truth, prediction),
    }


def noise_cycle_errors(
    model: TrainedModel, train_domains: dict[str, np.ndarray], seed: int = 0, batch: str | None = None
) -> dict[str, dict[str, float]]:
    """The original's check: cycle random inputs (uniform over each feature's training range) there and back
    (a batch model's within `batch`)."""
    rng = np.random.default_rng(seed)
    errors = {}
    for source, values in train_domains.items():
        low, high = values.min(axis=0), values.max(axis=0)
        noise = rng.uniform(low, high, size=(NOISE_SAMPLES, values.shape[1])).astype(np.float32)
        for target in train_domains:
            if target != source:
                with warnings.catch_warnings():  # uniform noise is not counts, on purpose
                    warnings.simplefilter("ignore", CountInputWarning)
                    cycled = model.cycle(noise, source, target, batch=batch)
                errors[f"{source}->{target}->{source}"] = error_pair(noise, cycled)
    return errors


def compute_run_metrics(
    model: TrainedModel,
    outputs: RunOutputs,
    train_domains: dict[str, np.ndarray],
    train_labels: np.ndarray | None = None,
    *,
    train_batches: np.ndarray | None = None,
) -> dict[str, Any]:
    """Every metric of a split: reconstruction, translation, cycle, baselines, latent alignment, label coherence,
    and batch mixing when `outputs` has batch labels (`train_batches`: the training rows', for a batch model)."""
    names = outputs.domain_names
    metrics: dict[str, Any] = {"n_samples": int(outputs.domains[names[0]].truth.shape[0])}
    metrics["reconstruction"] = {
        name: error_pair(out.truth, out.reconstruction) for name, out in outputs.domains.items()
    }
    metrics["baseline_mean_predictor"] = {
        name: evaluate.mean_predictor_errors(train_domains[name], out.truth) for name, out in outputs.domains.items()
    }
    metrics["translation"] = {}
    metrics["cycle"] = {}
    for target, out in outputs.domains.items():
        for source, translated in out.translated.items():
            baseline = metrics["baseline_mean_predictor"][target]["mse"]
            row = error_pair(out.truth, translated)
            row["mse_vs_mean_predictor"] = row["mse"] / baseline if baseline > 0 else float("nan")
            metrics["translation"][f"{source}->{target}"] = row
        for other, cycled in out.cycled.items():
            metrics["cycle"][f"{target}->{other}->{target}"] = error_pair(out.truth, cycled)
    # Correlations for continuous targets (log1p scale for counts), AUROC/AUPRC for binary ones.
    metrics["translation_scores"] = outputs_metrics(
        outputs, {name: model.config.model.likelihood_for(name) for name in names}
    )
    metrics |= baseline_comparison(model, outputs, train_domains)
    metrics["latent_usage"] = latent_usage(model, outputs)
    metrics["noise_cycle"] = noise_cycle_errors(model, train_domains, batch=outputs.generated_batch)
    metrics["latent"] = latent_alignment(outputs)
    if outputs.batches is not None and outputs.joint_encoding is not None:
        metrics["batch_mixing"] = mixing_entry(outputs.joint_encoding, outputs.batches, outputs.generated_batch)
    if outputs.labels is not None and train_labels is not None and len(np.unique(train_labels)) > 1:
        metrics["labels"] = label_metrics(model, outputs, train_domains, train_labels, train_batches)
    return metrics


def latent_alignment(outputs: RunOutputs) -> dict[str, dict[str, float]]:
    """FOSCTTM and paired/unpaired distance ratio between each pair of domains' encodings of the same samples."""
    names = outputs.domain_names
    alignment = {}
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            a, b = outputs.domains[first].encoding, outputs.domains[second].encoding
            alignment[f"{first}~{second}"] = {
                "foscttm": evaluate.foscttm(a, b),
                "paired_distance_ratio": evaluate.paired_distance_ratio(a, b),
            }
    return alignment


def label_metrics(
    model: TrainedModel,
    outputs: RunOutputs,
    train_domains: dict[str, np.ndarray],
    train_labels: np.ndarray,
    train_batches: np.ndarray | None = None,
) -> dict[str, Any]:
    """kNN label transfer across domains' encodings and class coherence of translated and generated samples."""
    names = outputs.domain_names
    labels = outputs.labels
    train_encodings = {name: model.encode(values, name, batch=train_batches) for name, values in train_domains.items()}
    classifiers = {name: evaluate.fit_domain_classifier(values, train_labels) for name, values in train_domains.items()}
    result: dict[str, Any] = {"knn_transfer": {}, "translation_coherence": {}, "real_data_accuracy": {}}
    for name in names:
        result["real_data_accuracy"][name] = evaluate.coherence_accuracy(
            classifiers[name], outputs.domains[name].truth, labels
        )
        for other in names:
            if other == name:
                continue
            result["knn_transfer"][f"{name}->{other}"] = evaluate.knn_label_transfer_accuracy(
                train_encodings[name], train_labels, outputs.domains[other].encoding, labels
            )
            result["translation_coherence"][f"{other}->{name}"] = evaluate.coherence_accuracy(
                classifiers[name], outputs.domains[name].translated[other], labels
            )
    prior = model.generate(len(labels), method="prior", seed=1, transform_batch=outputs.generated_batch)
    first, second = names[0], names[1]
    result["generated_pair_agreement"] = {
        "prior": evaluate.pair_agreement(classifiers[first], prior[first], classifiers[second], prior[second]),
        outputs.generated_method: evaluate.pair_agreement(
            classifiers[first], outputs.domains[first].generated, classifiers[second], outputs.domains[second].generated
        ),
    }
    return result
