"""Batch labels in runs: which batch evaluation generates as, and the CLI's --batch / --transform-batch."""

from __future__ import annotations

import argparse
from typing import Any

from sharedlatent.errors import SharedLatentError, listed

GENERATED_BATCH_RULE = "the first of the model's batch labels, sorted"


def generated_batch(model: Any) -> str | None:
    """The batch evaluation decodes generated samples, interpolations and noise cycles as (GENERATED_BATCH_RULE);
    None for a model fitted without batch labels."""
    encoder = getattr(model, "batch_encoder", None)
    return None if encoder is None else encoder.categories[0]


def add_batch_options(parser: argparse.ArgumentParser, *, samples: bool = True) -> None:
    """--transform-batch (decode as if from that batch), and with `samples` --batch (the input's one batch label)."""
    if samples:
        parser.add_argument(
            "--batch",
            metavar="LABEL",
            help="the input samples' batch (a batch model; .h5ad / .h5mu input reads the obs column it was trained on)",
        )
    parser.add_argument("--transform-batch", metavar="LABEL", help='decode "as if from" this batch (a batch model)')


def require_labels(model: Any, given: Any, flags: str) -> None:
    """Refuse in one line a batch model's call that has no labels to decode with."""
    from sharedlatent.covariates import SHOWN_LABELS  # numpy: kept out of the CLI's parse time

    encoder = getattr(model, "batch_encoder", None)
    if encoder is None or given is not None:
        return
    raise SharedLatentError(
        f"this run's model decodes per batch ({listed(encoder.categories, SHOWN_LABELS)}); give {flags}"
    )


def refuse_labels_without_batches(model: Any, args: argparse.Namespace) -> None:
    """--batch / --transform-batch on a model fitted without batch labels is a mistake, said in one line."""
    given = [flag for flag in ("batch", "transform_batch") if getattr(args, flag, None) is not None]
    if given and getattr(model, "batch_encoder", None) is None:
        flag = "--" + given[0].replace("_", "-")
        raise SharedLatentError(f"{flag} applies only to a run whose model was fitted with batch labels (batch_key)")
