"""Batch labels in runs: which batch evaluation generates as."""

from __future__ import annotations

from typing import Any

GENERATED_BATCH_RULE = "the first of the model's batch labels, sorted"


def generated_batch(model: Any) -> str | None:
    """The batch evaluation decodes generated samples, interpolations and noise cycles as (GENERATED_BATCH_RULE);
    None for a model fitted without batch labels."""
    encoder = getattr(model, "batch_encoder", None)
    return None if encoder is None else encoder.categories[0]
