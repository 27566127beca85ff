"""The numbers of a run folder's metrics.json: errors per domain and direction, baselines, latent alignment, labels.

They are scored from plain data (evaluation/metrics_inputs.py), so any process with scikit-learn can score them."""

from __future__ import annotations

from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from sharedlatent.evaluation import metrics as evaluate
from sharedlatent.evaluation.baseline_metrics import baseline_comparison
from sharedlatent.evaluation.metrics_inputs import MetricsInputs
from sharedlatent.evaluation.mixing import mixing_entry
from sharedlatent.evaluation.omics import outputs_metrics
from sharedlatent.evaluation.predictions import RunOutputs


def error_pair(truth: np.ndarray, prediction: np.ndarray) -> dict[str, float]:
    """MSE and MAE of `prediction` against `truth`."""
    return {
        "mse": evaluate.mean_squared_error(truth, prediction),
        "mae": evaluate.mean_absolute_error(truth, prediction),
    }


def score_run(inputs: MetricsInputs) -> dict[str, Any]:
    """Every metric of a split from its gathered inputs (metrics_inputs.gather_metrics_inputs): reconstruction,
    translation, cycle, baselines, latent alignment, label coherence, and batch mixing when the outputs have batch
    labels. On one BLAS/OpenMP thread: on these bounded sizes threads cost more than they gain (on 2 busy cores the digits baselines took 10.4 s with scikit-learn's default threads, 0.33 s
    with one)."""
    with threadpool_limits(1):
        return _scores(inputs)


def _scores(inputs: MetricsInputs) -> dict[str, Any]:
    """score_run's metrics, section by section, in metrics.json's order."""
    outputs, train_domains = inputs.outputs, inputs.train_domains
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
    metrics["translation_scores"] = outputs_metrics(outputs, inputs.scales.likelihoods)
    metrics |= baseline_comparison(inputs.scales, outputs, train_domains)
    metrics["latent_usage"] = inputs.latent_usage
    noise = inputs.noise_cycles
    metrics["noise_cycle"] = {
        f"{source}->{target}->{source}": error_pair(noise.inputs[source], cycled)
        for (source, target), cycled in noise.cycled.items()
    }
    metrics["latent"] = latent_alignment(outputs)
    if outputs.batches is not None and outputs.joint_encoding is not None:
        metrics["batch_mixing"] = mixing_entry(outputs.joint_encoding, outputs.batches, outputs.generated_batch)
    if inputs.has_labels:
        metrics["labels"] = label_metrics(inputs)
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


def label_metrics(inputs: MetricsInputs) -> dict[str, Any]:
    """kNN label transfer across domains' encodings and class coherence of translated and generated samples."""
    outputs, train_labels = inputs.outputs, inputs.train_labels
    assert outputs.labels is not None and inputs.train_encodings is not None and inputs.prior_samples is not None
    names = outputs.domain_names
    labels = outputs.labels
    classifiers = {
        name: evaluate.fit_domain_classifier(values, train_labels) for name, values in inputs.train_domains.items()
    }
    result: dict[str, Any] = {"knn_transfer": {}, "translation_coherence": {}, "real_data_accuracy": {}}
    for name in names:
        result["real_data_accuracy"][name] = evaluate.coherence_accuracy(
            classifiers[name], outputs.domains[name].truth, labels
        )
        for other in names:
            if other == name:
                continue
            result["knn_transfer"][f"{name}->{other}"] = evaluate.knn_label_transfer_accuracy(
                inputs.train_encodings[name], train_labels, outputs.domains[other].encoding, labels
            )
            result["translation_coherence"][f"{other}->{name}"] = evaluate.coherence_accuracy(
                classifiers[name], outputs.domains[name].translated[other], labels
            )
    prior = inputs.prior_samples
    first, second = names[0], names[1]
    result["generated_pair_agreement"] = {
        "prior": evaluate.pair_agreement(classifiers[first], prior[first], classifiers[second], prior[second]),
        outputs.generated_method: evaluate.pair_agreement(
            classifiers[first], outputs.domains[first].generated, classifiers[second], outputs.domains[second].generated
        ),
    }
    return result
