"""Translation metrics for omics-like domains, chosen by the target's likelihood; pure functions of arrays.

Binary targets (bernoulli) get per-feature AUROC / AUPRC of the predicted probabilities (truth binarised at
0.5). Continuous and count targets get Pearson and Spearman correlations per feature (across samples) and per
sample (across features), each as mean and median over the defined ones. Count targets (negative_binomial,
zinb) are compared as log1p(counts), the scale single-cell tools correlate on, so a few huge counts do not
dominate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sharedlatent.errors import SharedLatentError
from sharedlatent.evaluation.correlation import (
    per_feature_pearson,
    per_feature_spearman,
    per_sample_pearson,
    per_sample_spearman,
    summarize_correlations,
)
from sharedlatent.evaluation.metrics import auroc_auprc
from sharedlatent.names import COUNT_LIKELIHOODS, LIKELIHOOD_KINDS, canonical

BINARY_LIKELIHOODS: tuple[str, ...] = tuple(name for name, kind in LIKELIHOOD_KINDS.items() if kind == "binary")
__all__ = [
    "BINARY_LIKELIHOODS",
    "COUNT_LIKELIHOODS",
    "domain_metrics",
    "outputs_metrics",
    "per_sample_spearman",
    "target_kind",
    "translation_metrics",
]


def target_kind(likelihood: str) -> str:
    """ "binary", "counts" or "continuous": how a domain modelled with `likelihood` is scored (unknown names are
    continuous)."""
    return LIKELIHOOD_KINDS.get(canonical(likelihood), "continuous")


def domain_metrics(truth: np.ndarray, prediction: np.ndarray, likelihood: str = "gaussian") -> dict[str, float]:
    """Scores of `prediction` against `truth` (samples x features), chosen by the target domain's likelihood."""
    truth, prediction = np.asarray(truth, dtype=np.float64), np.asarray(prediction, dtype=np.float64)
    kind = target_kind(likelihood)
    if kind == "binary":
        scores = auroc_auprc((truth >= 0.5).astype(np.float64), prediction)
        defined = scores.auroc[~np.isnan(scores.auroc)]
        precision = scores.auprc[~np.isnan(scores.auprc)]
        return {
            "auroc_mean": scores.mean_auroc,
            "auroc_median": float(np.median(defined)) if defined.size else float("nan"),
            "auprc_mean": scores.mean_auprc,
            "auprc_median": float(np.median(precision)) if precision.size else float("nan"),
            "prevalence": float((truth >= 0.5).mean()),
            "features_scored": float(scores.n_scored),
        }
    if kind == "counts":
        if truth.min() < 0 or prediction.min() < 0:
            raise SharedLatentError("count targets and their predictions must be >= 0 to be compared as log1p(counts).")
        truth, prediction = np.log1p(truth), np.log1p(prediction)
    out: dict[str, float] = {}
    for name, values in (
        ("pearson_feature", per_feature_pearson(truth, prediction)),
        ("spearman_feature", per_feature_spearman(truth, prediction)),
        ("pearson_sample", per_sample_pearson(truth, prediction)),
        ("spearman_sample", per_sample_spearman(truth, prediction)),
    ):
        summary = summarize_correlations(values)
        out[f"{name}_mean"], out[f"{name}_median"] = summary.mean, summary.median
    out["mse"] = float(np.mean((truth - prediction) ** 2))
    return out


def translation_metrics(
    model: Any,
    data: Mapping[str, np.ndarray] | Any,
    likelihoods: Mapping[str, str] | None = None,
    include_reconstruction: bool = False,
) -> dict[str, dict[str, float]]:
    """domain_metrics for every direction "source->target" of a trained model on the paired samples of `data`.

    `data` is a Split (only its fully paired rows are used) or a mapping of aligned arrays; `likelihoods` overrides
    the model's per-domain likelihood names (e.g. to score a sigmoid_mse domain as binary)."""
    if hasattr(data, "paired"):
        data = data.paired().domains
    names = [name for name in model.domain_names if name in data]
    if len(names) < 2 and not include_reconstruction:
        raise SharedLatentError(f"translation metrics need at least two of the model's domains, got {names}")
    chosen = {name: model.config.model.likelihood_for(name) for name in names}
    chosen.update(likelihoods or {})
    results = {}
    for source in names:
        for target in names:
            if source == target and not include_reconstruction:
                continue
            prediction = model.translate(data[source], source, target)
            results[f"{source}->{target}"] = domain_metrics(data[target], prediction, chosen[target])
    return results


def outputs_metrics(outputs: Any, likelihoods: Mapping[str, str]) -> dict[str, dict[str, float]]:
    """domain_metrics for every translation held in a RunOutputs (keys "source->target"), without re-running the model."""
    results = {}
    for target, domain in outputs.domains.items():
        for source, prediction in domain.translated.items():
            results[f"{source}->{target}"] = domain_metrics(
                domain.truth, prediction, likelihoods.get(target, "sigmoid_mse")
            )
    return results
