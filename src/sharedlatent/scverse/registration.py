"""Where each domain's values come from in an AnnData or MuData, saved with the model and checked on new data.

Like scvi-tools' setup_anndata / setup_mudata: per domain the MuData modality, the layer or obsm key and the
feature names. New data is matched to the training features by name and reordered, or refused naming the
missing ones."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sharedlatent.errors import SharedLatentError, listed

SHOWN_NAMES = 5  # how many missing feature names an error lists


@dataclass
class DomainRegistration:
    """One domain: its MuData modality (None for an AnnData given per domain), layer or obsm key, feature names."""

    modality: str | None = None
    layer: str | None = None
    obsm: str | None = None
    var_names: list[str] | None = None

    @property
    def matrix_name(self) -> str:
        """Where the values are read, as a user would say it: X, layers['counts'] or obsm['X_pca']."""
        if self.layer:
            return f"layers[{self.layer!r}]"
        return f"obsm[{self.obsm!r}]" if self.obsm else "X"


@dataclass
class Registration:
    """Every domain's registration, in the model's domain order, and the obs column of the batch labels (if any;
    saved with the batch labels, model_io.py)."""

    domains: dict[str, DomainRegistration]
    batch_key: str | None = None
    continuous_keys: list[str] | None = None  # obs columns of continuous covariates (saved with their scaling)

    def to_dict(self) -> dict[str, Any]:
        return {name: dataclasses.asdict(spec) for name, spec in self.domains.items()}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> Registration | None:
        """A registration saved by to_dict; None (a model file from before registrations) stays None."""
        if not values:
            return None
        return cls({name: DomainRegistration(**spec) for name, spec in values.items()})

    @property
    def input_sizes(self) -> dict[str, int]:
        return {name: len(spec.var_names or []) for name, spec in self.domains.items()}

    def spec(self, domain: str) -> DomainRegistration:
        """The domain's registration; a domain never registered reads X of the modality named like it."""
        return self.domains.get(domain) or DomainRegistration(modality=domain)


def per_domain(value: str | Mapping[str, str] | None, domains: list[str], what: str) -> dict[str, str | None]:
    """A layer or obsm choice per domain: one name for all, a mapping domain -> name, or None (X)."""
    if value is None or isinstance(value, str):
        return dict.fromkeys(domains, value)
    unknown = sorted(set(value) - set(domains))
    if unknown:
        raise SharedLatentError(f"{what} names domains {unknown} that the data does not have ({listed(domains)})")
    return {name: value.get(name) for name in domains}


def aligned_columns(matrix: Any, names: list[str], expected: list[str] | None, where: str) -> Any:
    """`matrix` with its columns in the training order, matched by name (extra features are dropped), or a
    one-line error naming up to SHOWN_NAMES missing features."""
    if expected is None or list(names) == list(expected):
        return matrix
    import pandas as pd

    index = pd.Index(names)
    if not index.is_unique:
        raise SharedLatentError(
            f"{where}: feature names are not unique ({listed(index[index.duplicated()], SHOWN_NAMES)})"
        )
    positions = index.get_indexer(pd.Index(expected))
    missing = [expected[i] for i in np.flatnonzero(positions < 0)]
    if missing:
        shown = listed(missing, SHOWN_NAMES)
        raise SharedLatentError(
            f"{where} lacks {len(missing)} of the {len(expected)} features the model was trained on: {shown}"
        )
    return matrix[:, positions]
