"""The categorical batch covariate: labels to one-hot rows for the encoders and decoders, checked against the labels
seen in training (saved with the model, model_io.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sharedlatent.errors import SharedLatentError, listed

SHOWN_LABELS = 5  # how many known labels an error lists
TRANSFORM_HINT = "; give transform_batch=LABEL to decode them as a known batch"


@dataclass(frozen=True)
class BatchEncoder:
    """The batch labels seen in training, in code order, and the one-hot width (model.batch_categories)."""

    categories: tuple[str, ...]
    width: int

    @classmethod
    def fit(cls, labels: Any, n_samples: int, width: int) -> BatchEncoder:
        """The sorted distinct labels of one label per training sample; `width` 0 takes their count."""
        values = label_array(labels, n_samples, "fit")
        categories = tuple(sorted(set(values)))
        if width and len(categories) > width:
            raise SharedLatentError(
                f"{len(categories)} batch labels but model.batch_categories is {width}; raise it or leave it 0"
            )
        return cls(categories, width or len(categories))

    def one_hot(self, labels: Any, n_samples: int, what: str, hint: str = "") -> np.ndarray:
        """float32 one-hot rows of `labels` (one label for all samples, or one each); unknown labels are refused."""
        values = label_array(labels, n_samples, what)
        index = {label: code for code, label in enumerate(self.categories)}
        unknown = [value for value in dict.fromkeys(values) if value not in index]
        if unknown:
            raise SharedLatentError(
                f"{what}: unknown batch label {unknown[0]!r}; the model was fitted on"
                f" {listed(self.categories, SHOWN_LABELS)}{hint}"
            )
        return np.eye(self.width, dtype=np.float32)[[index[value] for value in values]]


def label_array(labels: Any, n_samples: int, what: str) -> list[str]:
    """`labels` as `n_samples` strings: one label (a str or number) is repeated, a sequence must match."""
    if isinstance(labels, (str, int, np.integer)):
        return [str(labels)] * n_samples
    values = np.asarray(getattr(labels, "to_numpy", lambda: labels)(), dtype=object).ravel()
    if len(values) != n_samples:
        raise SharedLatentError(f"{what}: {len(values)} batch labels for {n_samples} samples; give one each or one")
    missing = [value is None or (isinstance(value, float) and np.isnan(value)) for value in values]
    if any(missing):
        raise SharedLatentError(f"{what}: {sum(missing)} batch labels are missing (None or NaN)")
    return [str(value) for value in values]


def source_labels(model: Any, batch: Any, transform_batch: Any) -> Any:
    """The source samples' labels the model reads: none once `transform_batch` decodes them and the encoders ignore
    the batch (the default), so cells of a batch never seen in training translate "as if from" a known one."""
    if transform_batch is not None and not model.module.batch_in_encoders:
        return None
    return batch


def encoder_rows(model: Any, batch: Any, n_samples: int, what: str) -> np.ndarray | None:
    """The one-hot rows the encoders read: None unless the model has batch_in_encoders (labels are still checked)."""
    encoder = _encoder(model, batch, what)
    if encoder is None:
        return None
    if batch is None:
        if model.module.batch_in_encoders:
            raise SharedLatentError(f"{what}: this model's encoders read the batch; give batch= (the samples' labels)")
        return None
    if model.module.batch_in_encoders:
        return encoder.one_hot(batch, n_samples, what)
    encoder.one_hot(batch, n_samples, what, TRANSFORM_HINT)  # checked: these labels are decoded as given
    return None


def decoder_rows(model: Any, batch: Any, transform_batch: Any, n_samples: int, what: str) -> np.ndarray | None:
    """The one-hot rows the decoders read: `transform_batch` (decode "as if from" it), else `batch`; None for a
    model without a batch covariate."""
    labels = batch if transform_batch is None else transform_batch
    encoder = _encoder(model, labels, what)
    if encoder is None:
        return None
    if labels is None:
        raise SharedLatentError(
            f"{what}: this model decodes per batch; give batch= or transform_batch= (one of {listed(encoder.categories, SHOWN_LABELS)})"
        )
    own = transform_batch is None and not model.module.batch_in_encoders  # the samples' own labels, decoded as such
    return encoder.one_hot(labels, n_samples, what, TRANSFORM_HINT if own else "")


def _encoder(model: Any, labels: Any, what: str) -> BatchEncoder | None:
    """The model's batch encoder; batch labels given to a model fitted without them are refused."""
    encoder = getattr(model, "batch_encoder", None)
    if encoder is None and labels is not None:
        raise SharedLatentError(f"{what}: batch labels apply only to a model fitted with batch labels")
    return encoder
