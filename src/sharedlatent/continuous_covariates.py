"""Continuous covariates (scVI's continuous_covariate_keys): per-sample numbers, standardised with the training mean
and std, joined after the batch one-hot to every decoder's input (and every encoder's with batch_in_encoders).
The names and the standardisation are saved with the model (model_io.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sharedlatent.errors import SharedLatentError, listed

SHOWN_NAMES = 5  # how many covariate names an error lists
ERROR_HINT = "one row per sample, or one row for all"


@dataclass(frozen=True)
class CovariateScaler:
    """The covariate names seen in training, in column order, with their training mean and std."""

    names: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: Any, n_samples: int) -> CovariateScaler:
        """The names and the per-column mean and std (1 for a constant column) of the training covariates."""
        table, names = covariate_table(values, n_samples, None, "fit")
        std = table.std(axis=0)
        return cls(names, table.mean(axis=0), np.where(std > 0, std, 1.0))

    @property
    def width(self) -> int:
        return len(self.names)

    def rows(self, values: Any, n_samples: int, what: str) -> np.ndarray:
        """float32 standardised rows of `values` (one row for all samples, or one each)."""
        table, _ = covariate_table(values, n_samples, self.names, what)
        return ((table - self.mean) / self.std).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> CovariateScaler:
        return cls(tuple(values["names"]), np.asarray(values["mean"], float), np.asarray(values["std"], float))


def covariate_table(
    values: Any, n_samples: int, names: tuple[str, ...] | None, what: str
) -> tuple[np.ndarray, tuple[str, ...]]:
    """(n_samples x k float64 values, column names) of an array, a DataFrame or a mapping name -> values; `names`
    (a fitted model's) picks named columns in order and sets k; None (fitting) takes them as given."""
    values, given = _named_columns(values, names, what)
    table = _numbers(values, what)
    if table.ndim == 1:  # a column at fit or for one covariate, else one row for all samples
        table = table[:, None] if names is None or len(names) == 1 else table[None, :]
    if table.ndim != 2:
        raise SharedLatentError(f"{what}: covariates must be a table ({ERROR_HINT}), got {table.ndim} dimensions")
    width = table.shape[1] if names is None else len(names)
    if table.shape[1] != width or width == 0:
        raise SharedLatentError(
            f"{what}: covariates have {table.shape[1]} columns, the model was fitted on {width} ({_shown(names)})"
        )
    if table.shape[0] != n_samples and (table.shape[0] != 1 or names is None):
        one = "" if names is None else " or 1"
        raise SharedLatentError(
            f"{what}: covariates have {table.shape[0]} rows for {n_samples} samples (give {n_samples}{one})"
        )
    bad = int((~np.isfinite(table)).sum())
    if bad:
        raise SharedLatentError(f"{what}: covariates hold {bad} NaN or infinite values; all must be finite")
    table = np.broadcast_to(table, (n_samples, width))
    return table, tuple(given or (names if names is not None else [f"covariate_{i}" for i in range(width)]))


def _named_columns(values: Any, names: tuple[str, ...] | None, what: str) -> tuple[Any, list[str] | None]:
    """A DataFrame's or mapping's columns (in `names`' order when given) and their names; other input unchanged."""
    if isinstance(values, Mapping):
        columns = list(map(str, values))
        unknown = [] if names is None else [column for column in columns if column not in names]
        if unknown:  # a mapping names each covariate on purpose: an unknown name is a typo, not extra data
            raise SharedLatentError(
                f"{what}: covariates name {listed(unknown, SHOWN_NAMES)}, which the model was not fitted on "
                f"(it knows {_shown(names)})"
            )
        chosen = _pick(columns, names, what)
        try:
            table = [np.broadcast_to(np.asarray(values[_key(values, c)]).ravel(), (_rows(values),)) for c in chosen]
        except ValueError:
            raise SharedLatentError(f"{what}: covariates per name must have one value each or one for all") from None
        return np.column_stack(table), chosen
    columns = getattr(values, "columns", None)
    if columns is None or not all(isinstance(name, str) for name in columns):
        return getattr(values, "to_numpy", lambda: values)(), None
    chosen = _pick(list(columns), names, what)
    return values[chosen].to_numpy(), chosen


def _pick(columns: list[str], names: tuple[str, ...] | None, what: str) -> list[str]:
    """`names` if every one is among `columns`, else a one-line error; all `columns` when fitting."""
    if names is None:
        return columns
    missing = [name for name in names if name not in columns]
    if missing:
        raise SharedLatentError(
            f"{what}: covariates lack {listed(missing, SHOWN_NAMES)}; the model was fitted on {_shown(names)}"
        )
    return list(names)


def _key(values: Mapping[str, Any], name: str) -> Any:
    return next(key for key in values if str(key) == name)


def _rows(values: Mapping[str, Any]) -> int:
    """The common length of a mapping's per-sample values (1 when all are single numbers)."""
    return max((np.size(value) for value in values.values()), default=1)


def _numbers(values: Any, what: str) -> np.ndarray:
    """`values` (numpy, torch, list) as float64, or a one-line error for text and other non-numbers."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise SharedLatentError(f"{what}: covariates must be numbers") from None


def _shown(names: tuple[str, ...] | None) -> str:
    return listed(names or (), SHOWN_NAMES)


def covariate_rows(model: Any, values: Any, n_samples: int, what: str, needed: bool) -> np.ndarray | None:
    """The standardised covariate rows of `values`; None when not given and not `needed`. Covariates given to a
    model fitted without them, or missing where `needed`, are refused."""
    scaler = getattr(model, "covariate_scaler", None)
    if scaler is None:
        if values is not None:
            raise SharedLatentError(f"{what}: covariates apply only to a model fitted with continuous covariates")
        return None
    if values is None:
        if needed:
            raise SharedLatentError(
                f"{what}: this model was fitted with continuous covariates ({_shown(scaler.names)}); give covariates="
                f" ({ERROR_HINT})"
            )
        return None
    return scaler.rows(values, n_samples, what)


def joined(batch_rows: np.ndarray | None, continuous_rows: np.ndarray | None) -> np.ndarray | None:
    """The module's covariate rows: the batch one-hot, then the continuous covariates; None without either."""
    parts = [rows for rows in (batch_rows, continuous_rows) if rows is not None]
    return np.concatenate(parts, axis=1).astype(np.float32) if parts else None
