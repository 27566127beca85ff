"""Translate the cells of an AnnData / MuData into another domain, as an AnnData that keeps the input's obs,
names its features like the target's, flags the cells whose target was never measured and says where it came from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sharedlatent.errors import SharedLatentError
from sharedlatent.scverse.latent import cell_batches, cell_table
from sharedlatent.scverse.objects import kind_of
from sharedlatent.scverse.obs_covariates import block_rows, cell_covariates

IMPUTED_COLUMN = "sharedlatent_imputed"  # True where the input holds no measurement of the target
PROVENANCE_KEY = "sharedlatent"


def translate_object(
    model: Any,
    data: Any,
    source: str,
    target: str,
    *,
    layer: str | None = None,
    obsm: str | None = None,
    library_size: Any = None,
    model_name: str | None = None,
    batch: Any = None,
    transform_batch: Any = None,
    covariates: Any = None,
    cycle: bool = False,
) -> Any:
    """An AnnData of `source`'s cells translated into `target` (cells without `source` are left out); with `cycle`,
    translated there and back into `source` (api.cycle).

    library_size: per cell (aligned to the source's cells) or one number, for a count target; see api.translate.
    batch: the cells' batch labels (default: the registered batch_key's obs column); transform_batch: decode as."""
    import anndata

    if cycle and (library_size is not None or transform_batch is not None):
        raise SharedLatentError("a cycle decodes both ways in the cells' own batch and library: drop those options")
    out = source if cycle else target

    domain = source if kind_of(data) == "anndata" else None
    table = cell_table(model, data, domain, _only(source, layer), _only(source, obsm), [source])
    cells = np.flatnonzero(table.present(source))
    libraries = _per_cell(library_size, table.n_cells, cells)
    batches = cell_batches(model, data, table, batch, transform_batch, needed=cells)  # only the translated cells'
    numbers = cell_covariates(model, data, table, covariates, needed=cells)  # given, or the obs columns
    values = np.zeros((len(cells), model.input_sizes[out]), dtype=np.float32)
    done = 0
    for block in table.chunks(cells):
        inputs = table.dense(block)[source]
        library = None if libraries is None else libraries[done : done + len(block)]
        labels = batches if batches is None or np.ndim(batches) == 0 else batches[block]
        known = {"batch": labels, "covariates": block_rows(numbers, table.n_cells, block)}
        if cycle:
            values[done : done + len(block)] = model.cycle(inputs, source, target, **known)
        else:
            values[done : done + len(block)] = model.translate(
                inputs, source, target, library_size=library, transform_batch=transform_batch, **known
            )
        done += len(block)
    obs = _obs(data, table, source, cells)
    # every translated cell has its source measured; another target only where the input holds it
    obs[IMPUTED_COLUMN] = False if out == source else ~_measured(model, data, target, obs.index)
    result = anndata.AnnData(X=values, obs=obs, var=_var(model, out))
    spec = model.registration.spec(source) if model.registration else None
    result.uns[PROVENANCE_KEY] = {
        "source": source,
        "target": target,
        **({"cycle": f"{source} -> {target} -> {source}"} if cycle else {}),
        "layer": layer or (spec.layer if spec and not obsm else None) or "",
        "obsm": obsm or (spec.obsm if spec and not layer else None) or "",
        "model": model_name or getattr(model, "loaded_from", None) or "in-memory model",
        "library_size": _library_text(model, source, out, library_size is not None, cycle),
    }
    if transform_batch is not None:
        result.uns[PROVENANCE_KEY]["transform_batch"] = str(transform_batch)
    return result


def _only(source: str, choice: str | None) -> Mapping[str, str] | None:
    return None if choice is None else {source: choice}


def _per_cell(library_size: Any, n_cells: int, cells: np.ndarray) -> np.ndarray | None:
    """The library sizes of the translated cells: one number for all, or one per input cell."""
    if library_size is None:
        return None
    values = np.asarray(getattr(library_size, "to_numpy", lambda: library_size)(), dtype=np.float32).ravel()
    if values.size == 1:
        return np.full(len(cells), values[0], dtype=np.float32)
    if values.size != n_cells:
        raise SharedLatentError(f"library_size has {values.size} entries for {n_cells} cells")
    return values[cells]


def _obs(data: Any, table: Any, source: str, cells: np.ndarray) -> Any:
    """The source's obs for the translated cells, plus a MuData's own obs columns, less its "modality:column"
    copies of columns already there (MuData.update() pulls each modality's obs up under such names)."""
    import pandas as pd

    names = table.cells[cells]
    obs = table.sources[source].obs.reindex(names).copy()
    if kind_of(data) == "mudata":
        extra = data.obs.reindex(names)
        kept = [c for c in extra.columns if c not in obs.columns and not _copy_of(extra[c], c, obs, data.mod)]
        obs = pd.concat([obs, extra[kept]], axis=1)
    return obs


def _copy_of(values: Any, column: str, obs: Any, modalities: Any) -> bool:
    """Whether MuData obs column `column` ("rna:cell_type") repeats the obs column after its modality prefix."""
    modality, _, own = str(column).partition(":")
    if modality not in modalities or own not in obs.columns:
        return False
    return bool(values.astype(object).equals(obs[own].astype(object)))


def _measured(model: Any, data: Any, target: str, names: Any) -> np.ndarray:
    """Whether each cell's target was measured in the input (a MuData holding the target modality, or a mapping
    holding the target domain); a lone AnnData measures none."""
    kind = kind_of(data)
    modality = model.registration.spec(target).modality if model.registration else target
    if kind == "mudata" and (modality or target) in data.mod:
        return names.isin(data.mod[modality or target].obs_names)
    if kind == "mapping" and target in data and hasattr(data[target], "obs_names"):
        return names.isin(data[target].obs_names)
    return np.zeros(len(names), dtype=bool)


def _var(model: Any, target: str) -> Any:
    import pandas as pd

    spec = model.registration.spec(target) if model.registration else None
    names = spec.var_names if spec and spec.var_names else [f"{target}_{i}" for i in range(model.input_sizes[target])]
    return pd.DataFrame(index=pd.Index(names, dtype=str))


def _library_text(model: Any, source: str, out: str, given: bool, cycle: bool) -> str:
    """How the output's library size was set: given, each cell's own (a count domain decoded from itself), or the
    domain's rule (a cycle comes back from the other domain, so it never sees the cell's own total)."""
    if given:
        return "given per cell"
    if out == source and not cycle and model.module.uses_observed_library(source):
        return "each cell's own observed total"
    return _library_mode(model, out)


def _library_mode(model: Any, target: str) -> str:
    """How the target's library size was set when no library_size was given (count targets)."""
    likelihood = model.module.likelihoods[target]
    mode = getattr(likelihood, "library", None)
    if mode is None:
        return "not a count domain"
    if mode == "learned":
        return "predicted per cell (library learned)"
    if target in getattr(model, "library_predictors", {}):
        return "predicted per cell from the latent (fitted after training)"
    return "training mean (one constant)"
