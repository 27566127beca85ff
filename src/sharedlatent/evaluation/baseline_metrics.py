"""The run's translations next to ridge, kNN and the mean predictor, fitted on the same training rows: from the
source as the model's encoder sees it (its preprocessing; log1p for count domains) to the target as the model
predicts it (its preprocessing; raw counts for count domains, whose decoder gives their expected value), so every
predictor estimates the same thing and is scored on the data's scale."""

from __future__ import annotations

from typing import Any

import numpy as np

from sharedlatent.evaluation.baselines import compare_direction, verdict_line
from sharedlatent.evaluation.metrics_inputs import DomainScales
from sharedlatent.evaluation.predictions import RunOutputs
from sharedlatent.names import LIKELIHOOD_KINDS, canonical


def model_space(scales: DomainScales, domain: str, values: np.ndarray) -> np.ndarray:
    """`values` as the model's encoder sees them: preprocessed, and log1p for count domains."""
    transformed = scales.preprocessors[domain].transform(np.asarray(values, dtype=np.float64))
    return np.log1p(np.maximum(transformed, 0)) if _is_counts(scales, domain) else transformed


def target_space(scales: DomainScales, domain: str, values: np.ndarray) -> np.ndarray:
    """`values` as the baselines predict them: preprocessed, counts left as counts (their means, as the model's
    decoder predicts them, not log1p, whose back-transform would predict below the mean)."""
    return scales.preprocessors[domain].transform(np.asarray(values, dtype=np.float64))


def baseline_comparison(
    scales: DomainScales, outputs: RunOutputs, train_domains: dict[str, np.ndarray]
) -> dict[str, Any]:
    """Per direction: scores of model, ridge, kNN and mean (standardised MSE first), a one-line verdict, notes."""
    directions, verdicts, notes = {}, [], []
    for target, out in outputs.domains.items():
        for source, translated in out.translated.items():
            direction = f"{source}->{target}"
            scores = compare_direction(
                direction,
                model_space(scales, source, train_domains[source]),
                target_space(scales, target, train_domains[target]),
                model_space(scales, source, outputs.domains[source].truth),
                target_test_raw=out.truth,
                target_train_raw=train_domains[target],
                model_prediction=translated,
                inverse=lambda values, name=target: _back(scales, name, values),
            )
            directions[direction] = {
                "standardized_mse": {name: score.standardized_mse for name, score in scores.scores.items()},
                "mse": {name: score.mse for name, score in scores.scores.items()},
                "pearson": {name: score.pearson for name, score in scores.scores.items()},
                "ridge_alpha": scores.ridge_alpha,
                "knn_neighbours": scores.knn_neighbours,
            }
            verdicts.append(verdict_line(direction, scores))
            notes += [f"{direction}: {note}" for note in scores.notes]
            if _is_counts(scales, target):  # two scales meet in one report; say which number is on which
                notes.append(
                    f"{direction}: the baselines predict raw counts from log1p(counts), as the encoder sees them; they"
                    " and the model are scored on raw counts (standardised MSE, verdict, MSE, pearson), as is the"
                    " translation MSE; translation_scores are on log1p(counts)"
                )
    return {"verdict": verdicts, "baselines": directions, "baseline_notes": sorted(set(notes))}


def _back(scales: DomainScales, domain: str, values: np.ndarray) -> np.ndarray:
    """Predictions in `target_space` back on the data's scale."""
    return scales.preprocessors[domain].inverse_transform(np.asarray(values, dtype=np.float64))


def _is_counts(scales: DomainScales, domain: str) -> bool:
    return LIKELIHOOD_KINDS.get(canonical(scales.likelihoods[domain])) == "counts"
