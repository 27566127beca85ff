"""Latent coordinates of AnnData / MuData cells: joint over the domains a cell has, single-domain where it has one;
as a frame aligned to obs_names, or written into obsm."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sharedlatent.scverse.objects import CellTable, as_mapping, kind_of, read_cells
from sharedlatent.scverse.registration import Registration

LATENT_KEY = "X_sharedlatent"


def cell_table(
    model: Any, data: Any, domain: str | None, layer: Any, obsm: Any, domains: list[str] | None = None
) -> CellTable:
    """`data` read as the model's registration says (or X of each domain for a model trained on arrays)."""
    registration = model.registration or Registration({})
    data = as_mapping(data, domain, model.registration, model.domain_names)
    return read_cells(data, registration, domains or model.domain_names, layer, obsm)


def latent_matrix(model: Any, table: CellTable) -> np.ndarray:
    """Latent means per cell (NaN for a cell none of the model's domains measured), a block of cells at a time."""
    measured = np.any([table.present(name) for name in table.rows], axis=0)
    latent = np.full((table.n_cells, model.module.latent_size), np.nan, dtype=np.float32)
    for cells in table.chunks(np.flatnonzero(measured)):
        latent[cells] = model.encode_joint(table.dense(cells))
    return latent


def get_latent(
    model: Any,
    data: Any,
    domain: str | None = None,
    layer: str | Mapping[str, str] | None = None,
    obsm: str | Mapping[str, str] | None = None,
) -> Any:
    """A DataFrame (index obs_names, columns latent_0, ...) for AnnData / MuData, an array for bare matrices."""
    table = cell_table(model, data, domain, layer, obsm)
    latent = latent_matrix(model, table)
    if table.cells is None:
        return latent
    import pandas as pd

    columns = [f"latent_{i}" for i in range(latent.shape[1])]
    return pd.DataFrame(latent, index=table.cells.copy(), columns=columns)


def write_latent(model: Any, data: Any, key: str = LATENT_KEY, **options: Any) -> Any:
    """Write the latent coordinates into `data`'s obsm[key] (a MuData's own obsm; each AnnData of a mapping gets
    its cells' rows) and return them as a frame."""
    frame = get_latent(model, data, **options)
    kind = kind_of(data)
    if kind in ("mudata", "anndata"):
        data.obsm[key] = frame.reindex(data.obs_names).to_numpy()
    else:
        for adata in data.values():
            adata.obsm[key] = frame.reindex(adata.obs_names).to_numpy()
    return frame
