"""Continuous covariates read from obs columns (scVI's continuous_covariate_keys), one row per cell in the order
fit, get_latent and translate see the cells (a MuData's own obs first, then each domain's AnnData obs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sharedlatent.errors import SharedLatentError, listed
from sharedlatent.scverse.objects import _cells, adatas_of, as_mapping, kind_of
from sharedlatent.scverse.obs_columns import merged_obs_column, obs_frames
from sharedlatent.scverse.registration import Registration


def register_covariate_keys(registration: Registration, data: Any, keys: Sequence[str] | None) -> None:
    """Record the obs columns of the continuous covariates, refusing a missing or non-numeric column now."""
    if keys is None:
        return
    if isinstance(keys, str) or not all(isinstance(key, str) for key in keys) or not keys:
        raise SharedLatentError("continuous_covariate_keys must be a non-empty list of obs column names")
    registration.continuous_keys = list(keys)
    obs_covariates(
        data, *cells_and_sources(registration, data, list(registration.domains)), registration.continuous_keys
    )


def training_covariates(model: Any, data: Any) -> Any:
    """The registered continuous covariates of `data`'s cells as a DataFrame in fit's cell order; None without keys."""
    keys = getattr(model.registration, "continuous_keys", None)
    if not keys:
        return None
    data = as_mapping(data, None, model.registration, model.domain_names)
    return obs_covariates(data, *cells_and_sources(model.registration, data, model.domain_names), keys)


def cell_covariates(model: Any, data: Any, table: Any, covariates: Any = None, needed: Any = None) -> Any:
    """The cells' continuous covariates: `covariates` as given (a pandas object indexed by obs_names is aligned
    to the cells), else the registered obs columns for a model fitted with them (None otherwise). With `needed`
    (cell indices) only those cells must have values."""
    keys = getattr(model.registration, "continuous_keys", None)
    if covariates is not None:
        return aligned_to_cells(covariates, table.cells)
    if model.covariate_scaler is None or not keys:
        return None
    return obs_covariates(data, table.cells, [a for a in table.sources.values() if a is not None], keys, needed)


def aligned_to_cells(covariates: Any, cells: Any) -> Any:
    """A DataFrame or Series indexed by obs_names, reordered to `cells`; anything else (and a default 0..n-1
    index) is taken row by row as given."""
    import pandas as pd

    if cells is None or not isinstance(covariates, (pd.DataFrame, pd.Series)):
        return covariates
    index = covariates.index
    if isinstance(index, pd.RangeIndex):
        return covariates
    lacking = int((~pd.Index(cells).isin(index)).sum())
    if lacking:
        raise SharedLatentError(f"covariates are indexed by cell names but lack {lacking} of the {len(cells)} cells")
    return covariates[~covariates.index.duplicated()].reindex(cells)


def block_rows(covariates: Any, n_cells: int, cells: np.ndarray) -> Any:
    """The rows of `cells` when there is one row per cell; one row for all (or None) unchanged."""
    if covariates is None or len(getattr(covariates, "shape", ())) < 2 or covariates.shape[0] != n_cells:
        return covariates
    return covariates.iloc[cells] if hasattr(covariates, "iloc") else np.asarray(covariates)[cells]


def cells_and_sources(registration: Registration, data: Any, domains: list[str]) -> tuple[Any, list[Any]]:
    """The cells in fit's order and the AnnData objects whose obs may hold the columns."""
    kind = kind_of(data)
    found = adatas_of(data, kind, registration, domains)
    if not found:
        raise SharedLatentError(f"the data holds none of the model's domains ({listed(domains)})")
    sources = [adata for adata in found.values() if type(adata).__module__.split(".")[0] == "anndata"]
    return _cells(data, kind, found), sources


def obs_covariates(data: Any, cells: Any, sources: list[Any], keys: list[str], needed: Any = None) -> Any:
    """A float DataFrame (index: cells, columns: `keys`) filled from a MuData's obs, then each AnnData's obs; with
    `needed` (cell indices) only those cells must have values (the others get 0 and must not be used)."""
    import pandas as pd

    if cells is None:
        raise SharedLatentError("continuous covariates are read from obs; bare matrices have none, give covariates=")
    frames = obs_frames(data, kind_of(data) == "mudata", sources)
    table = pd.DataFrame(np.nan, index=cells, columns=list(keys), dtype=float)
    for key in keys:

        def numeric(column: Any, key: str = key) -> Any:
            if not pd.api.types.is_numeric_dtype(column):
                raise SharedLatentError(f"continuous covariate {key!r} is not a numeric obs column ({column.dtype})")
            return column.astype(float)

        column = merged_obs_column(frames, key, table.index, numeric)
        if column is None:
            raise SharedLatentError(f"continuous covariate {key!r} is in no obs of the data")
        table[key] = column
        missing = int((table[key] if needed is None else table[key].iloc[needed]).isna().sum())
        if missing:
            raise SharedLatentError(f"continuous covariate {key!r} has no value for {missing} cells")
    return table.fillna(0.0)
