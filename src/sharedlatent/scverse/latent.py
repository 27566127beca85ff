"""Latent coordinates of AnnData / MuData cells: joint over the domains a cell has, single-domain where it has one;
as a frame aligned to obs_names, or written into obsm."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sharedlatent.covariates import SHOWN_LABELS
from sharedlatent.errors import SharedLatentError, listed
from sharedlatent.scverse.objects import CellTable, as_mapping, batch_labels, kind_of, read_cells
from sharedlatent.scverse.obs_covariates import block_rows, cell_covariates
from sharedlatent.scverse.registration import Registration

LATENT_KEY = "X_sharedlatent"


def cell_table(
    model: Any, data: Any, domain: str | None, layer: Any, obsm: Any, domains: list[str] | None = None
) -> CellTable:
    """`data` read as the model's registration says (or X of each domain for a model trained on arrays)."""
    registration = model.registration or Registration({})
    data = as_mapping(data, domain, model.registration, model.domain_names)
    return read_cells(data, registration, domains or model.domain_names, layer, obsm)


def cell_batches(
    model: Any,
    data: Any,
    table: CellTable,
    batch: Any = None,
    transform_batch: Any = None,
    needed: np.ndarray | None = None,
) -> np.ndarray | None:
    """The cells' batch labels: `batch` (one label or one per cell), else the registered batch_key's obs column;
    None for a model fitted without batch labels, or when `transform_batch` decodes them and the encoders ignore
    the batch (the cells' own batch is then neither read nor checked). With `needed` (cell indices) only those
    cells' labels are read and checked."""
    if model.batch_encoder is None:
        return batch
    if transform_batch is not None and not model.module.batch_in_encoders:
        return None  # decoded as transform_batch by encoders that ignore the batch: the cells' own is not read
    if batch is not None:
        return batch if np.ndim(batch) == 0 else np.asarray(getattr(batch, "to_numpy", lambda: batch)())
    key = model.registration.batch_key if model.registration else None
    if key is None:
        return None
    try:
        labels = batch_labels(data, table, key, needed)
    except SharedLatentError as error:
        raise _with_fix(model, str(error)) from None
    known = model.batch_encoder.categories
    used = labels if needed is None else labels[needed]
    unknown = [label for label in dict.fromkeys(used) if label not in set(known)]
    if unknown:
        shown, fitted = listed(map(repr, unknown), SHOWN_LABELS), listed(known, SHOWN_LABELS)
        problem = f"obs column {key!r} holds batch labels the model was not fitted on ({shown}; it knows {fitted})"
        raise _with_fix(model, problem, missing=False)
    return labels


def _with_fix(model: Any, problem: str, missing: bool = True) -> SharedLatentError:
    """`problem` with the way out, in Python's words and the CLI's: decode the cells as a known batch
    (transform_batch) or, where labels are `missing`, give them; encoders that read the batch need known labels."""
    if model.module.batch_in_encoders:
        return SharedLatentError(
            f"{problem}; this model's encoders read the batch: give batch= (labels it was fitted on)",
            cli=f"{problem}; this model's encoders read the batch: give --batch LABEL (one it was fitted on)",
        )
    python, cli = "give transform_batch=LABEL", "give --transform-batch LABEL"
    if missing:
        python = "give batch= (the cells' labels), or transform_batch=LABEL"
        cli = "give --batch LABEL (the cells' batch), or --transform-batch LABEL"
    return SharedLatentError(
        f"{problem}; {python} to decode the cells as a known batch",
        cli=f"{problem}; {cli} to decode the cells as a known batch",
    )


def latent_matrix(
    model: Any, table: CellTable, batches: np.ndarray | None = None, covariates: Any = None
) -> np.ndarray:
    """Latent means per cell (NaN for a cell none of the model's domains measured), a block of cells at a time."""
    measured = np.any([table.present(name) for name in table.rows], axis=0)
    latent = np.full((table.n_cells, model.module.latent_size), np.nan, dtype=np.float32)
    for cells in table.chunks(np.flatnonzero(measured)):
        labels = None if batches is None else batches[cells]
        numbers = block_rows(covariates, table.n_cells, cells)
        latent[cells] = model.encode_joint(table.dense(cells), batch=labels, covariates=numbers)
    return latent


def get_latent(
    model: Any,
    data: Any,
    domain: str | None = None,
    layer: str | Mapping[str, str] | None = None,
    obsm: str | Mapping[str, str] | None = None,
    batch: Any = None,
    covariates: Any = None,
) -> Any:
    """A DataFrame (index obs_names, columns latent_0, ...) for AnnData / MuData, an array for bare matrices.

    Batch labels (`batch`, else the registered batch_key's column) and continuous covariates (`covariates`, one row
    per cell or one for all, else the registered obs columns) are read only by a model with batch_in_encoders."""
    table = cell_table(model, data, domain, layer, obsm)
    batches = cell_batches(model, data, table, batch) if model.module.batch_in_encoders else None
    if batches is not None and np.ndim(batches) == 0:
        batches = np.full(table.n_cells, batches, dtype=object)
    numbers = cell_covariates(model, data, table, covariates) if model.module.batch_in_encoders else covariates
    latent = latent_matrix(model, table, batches, numbers)
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
