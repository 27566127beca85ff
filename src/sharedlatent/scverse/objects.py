"""AnnData / MuData / scipy.sparse input as cells x domains: one row per cell (obs_names), a domain's matrix per
domain with its columns in the training order, and which cells each domain measured.

Matrices stay as they are (sparse stays sparse); `dense` densifies a block of cells at a time into float32."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sharedlatent.datasets.anndata_files import choose_matrix, dense_rows
from sharedlatent.errors import SharedLatentError, listed
from sharedlatent.scverse.obs_columns import merged_obs_column, obs_frames
from sharedlatent.scverse.registration import DomainRegistration, Registration, aligned_columns, per_domain

CLEAR_MARGIN = 2.0  # a lone AnnData is taken for the domain whose features it shares this many times more of
CELL_CHUNK = 8192  # cells densified at a time by encode and translate
X = "X"  # a layer choice that means X itself, to override a registered layer


def kind_of(data: Any) -> str | None:
    """ "mudata", "anndata", "mapping" (of AnnData or sparse matrices) or None for numpy / torch input."""
    module = type(data).__module__.split(".")[0]
    if module == "mudata":
        return "mudata"
    if module == "anndata":
        return "anndata"
    if isinstance(data, Mapping) and any(_is_object(value) for value in data.values()):
        return "mapping"
    return None


def _is_object(value: Any) -> bool:
    return type(value).__module__.split(".")[0] == "anndata" or hasattr(value, "tocsr")


@dataclass
class CellTable:
    """Cells (rows) by domain: each domain's matrix and, per cell, its row there (-1 where not measured)."""

    cells: Any  # pandas Index of obs_names, or None for bare matrices
    matrices: dict[str, Any]
    rows: dict[str, np.ndarray]
    sources: dict[str, Any]  # the AnnData each domain came from (None for a bare matrix)

    @property
    def n_cells(self) -> int:
        return len(next(iter(self.rows.values())))

    def present(self, domain: str) -> np.ndarray:
        return self.rows[domain] >= 0

    def dense(self, cells: np.ndarray | slice = slice(None), nan_absent: bool = True) -> dict[str, np.ndarray]:
        """The chosen cells of every domain as float32, cells a domain lacks as all-NaN rows (or zero rows)."""
        arrays = {}
        for name, matrix in self.matrices.items():
            rows = self.rows[name][cells]
            values = dense_rows(matrix, rows)
            if nan_absent:
                values[rows < 0] = np.nan
            arrays[name] = values
        return arrays

    def chunks(self, cells: np.ndarray) -> list[np.ndarray]:
        """`cells` in blocks of CELL_CHUNK."""
        return [cells[start : start + CELL_CHUNK] for start in range(0, len(cells), CELL_CHUNK)]


def adatas_of(data: Any, kind: str, registration: Registration, domains: list[str]) -> dict[str, Any]:
    """The AnnData (or bare matrix) each wanted domain reads, for the domains `data` has."""
    if kind == "mudata":
        found = {}
        for name in domains:
            modality = registration.spec(name).modality or name
            if modality in data.mod:
                found[name] = data.mod[modality]
        return found
    if kind == "mapping":
        return {name: data[name] for name in domains if name in data}
    raise SharedLatentError(f"expected a MuData or a mapping of domain name to AnnData, got {type(data).__name__}")


def read_cells(
    data: Any,
    registration: Registration,
    domains: list[str],
    layer: str | Mapping[str, str] | None = None,
    obsm: str | Mapping[str, str] | None = None,
) -> CellTable:
    """`data`'s cells and the registered matrix of each of `domains` it holds, columns matched by name.

    `layer` / `obsm` override the registration (one name for all domains or a mapping); a MuData's cells come in
    its obs_names order, a mapping's as the union of its AnnDatas' in order of appearance."""
    kind = kind_of(data)
    found = adatas_of(data, kind, registration, domains)
    if not found:
        raise SharedLatentError(f"the data holds none of the model's domains ({listed(domains)})")
    layers, obsms = per_domain(layer, list(found), "layer"), per_domain(obsm, list(found), "obsm")
    matrices, names = {}, {}
    for name, adata in found.items():
        spec = registration.spec(name)
        if not _is_anndata(adata):
            matrices[name], names[name] = adata, None
            continue
        chosen = _override(spec, layers[name], obsms[name])
        where = f"domain {name!r} ({chosen.matrix_name})"
        modality = choose_matrix(adata, where, chosen.layer, chosen.obsm)
        matrices[name] = aligned_columns(modality.matrix, modality.feature_names, spec.var_names, where)
    cells = _cells(data, kind, found)
    rows = {name: _rows_of(found[name], cells, name) for name in found}
    return CellTable(cells, matrices, rows, {name: a if _is_anndata(a) else None for name, a in found.items()})


def _override(spec: DomainRegistration, layer: str | None, obsm: str | None) -> DomainRegistration:
    """The registration with the caller's layer or obsm choice, if any, in place of the trained one ("X": X)."""
    if layer is None and obsm is None:
        return spec
    return DomainRegistration(spec.modality, None if layer == X else layer, obsm, spec.var_names)


def _is_anndata(value: Any) -> bool:
    return type(value).__module__.split(".")[0] == "anndata"


def _cells(data: Any, kind: str, found: dict[str, Any]) -> Any:
    """The cells, in output order: the MuData's obs_names, else the union of the AnnDatas' (None for bare matrices)."""
    import pandas as pd

    if kind == "mudata":
        return pd.Index(data.obs_names)
    named = [pd.Index(a.obs_names) for a in found.values() if _is_anndata(a)]
    if not named:
        return None
    if len(named) < len(found):
        raise SharedLatentError(
            "mix AnnData and bare matrices only as arrays of equal rows; give every domain as AnnData"
        )
    return named[0].append(named[1:]).unique() if len(named) > 1 else named[0]


def _rows_of(adata: Any, cells: Any, domain: str) -> np.ndarray:
    """Each cell's row in this domain's matrix, -1 where the domain did not measure it."""
    if cells is None:
        return np.arange(adata.shape[0])
    import pandas as pd

    own = pd.Index(adata.obs_names)
    if not own.is_unique:
        raise SharedLatentError(f"domain {domain!r}: obs_names are not unique; run .obs_names_make_unique() first")
    return own.get_indexer(cells)


def register(
    data: Any,
    domains: list[str] | None = None,
    layer: str | Mapping[str, str] | None = None,
    obsm: str | Mapping[str, str] | None = None,
    modalities: Mapping[str, str] | None = None,
    batch_key: str | None = None,
) -> Registration:
    """Record where each domain's values come from in `data` (a MuData or a mapping of domain to AnnData).

    `modalities` maps domain names to MuData modalities (default: every modality, or `domains`, named alike);
    `batch_key` names the obs column of the cells' batch labels."""
    kind = kind_of(data)
    if kind == "mudata":
        modalities = dict(modalities or {name: name for name in (domains or list(data.mod))})
        missing = [m for m in modalities.values() if m not in data.mod]
        if missing:
            raise SharedLatentError(f"the MuData has no modality {missing[0]!r}; it has {listed(data.mod)}")
        adatas = {name: data.mod[modality] for name, modality in modalities.items()}
    elif kind == "mapping" and all(_is_anndata(value) for value in data.values()):
        adatas, modalities = dict(data), {}
    else:
        raise SharedLatentError("registering needs a MuData or a mapping of domain name to AnnData")
    layers, obsms = per_domain(layer, list(adatas), "layer"), per_domain(obsm, list(adatas), "obsm")
    specs = {}
    for name, adata in adatas.items():
        spec = DomainRegistration(modalities.get(name), layers[name], obsms[name])
        chosen = choose_matrix(adata, f"domain {name!r} ({spec.matrix_name})", spec.layer, spec.obsm)
        specs[name] = DomainRegistration(spec.modality, spec.layer, spec.obsm, chosen.feature_names)
    registration = Registration(specs, batch_key)
    if batch_key is not None:
        batch_labels(data, read_cells(data, registration, list(specs)), batch_key)  # refuse a missing column now
    return registration


def as_mapping(data: Any, domain: str | None, registration: Registration | None, domains: list[str]) -> Any:
    """A single AnnData as {domain: adata}, its domain given or recognised by its feature names; others unchanged."""
    kind = kind_of(data)
    if kind == "mapping":
        unknown = [name for name in data if name not in domains]
        if unknown:
            raise SharedLatentError(f"unknown domain {unknown[0]!r}; this model has {listed(domains)}")
    if kind != "anndata":
        return data
    if domain is None:
        domain = recognised_domain(data, registration, domains)
    if domain not in domains:
        raise SharedLatentError(f"unknown domain {domain!r}; this model has {listed(domains)}")
    return {domain: data}


def recognised_domain(adata: Any, registration: Registration | None, domains: list[str]) -> str:
    """The domain whose registered feature names a lone AnnData's var_names hold: the one it holds all of, else the
    one it shares far more of than any other (its missing features then make the error); ambiguous is refused."""
    names = set(map(str, adata.var_names))
    shares = {
        name: len(names.intersection(spec.var_names)) / len(spec.var_names)
        for name, spec in (registration.domains.items() if registration else [])
        if spec.var_names and not spec.obsm
    }
    ranked = sorted(shares.items(), key=lambda item: item[1], reverse=True) + [("", 0.0)] * 2
    (best, share), (_, second) = ranked[:2]
    if share > 0 and (share == 1 > second or share >= CLEAR_MARGIN * second):
        return best
    if not shares:
        problem = "the model has no feature names to recognise it by"
    elif share == 0:
        problem = "its var_names share no feature with any domain's"
    else:
        problem = f"its var_names fit {', '.join(n for n, s in shares.items() if s >= share / CLEAR_MARGIN)} alike"
    domain_list = ", ".join(domains)
    raise SharedLatentError(
        f"say which domain this AnnData holds with domain= ({problem}); this model has {domain_list}",
        cli=f"say which domain the .h5ad holds with --domain ({problem}); this model has {domain_list}",
    )


def training_arrays(
    model: Any, data: Any, present: Any = None, batch: Any = None
) -> tuple[dict[str, np.ndarray], Any, Any]:
    """`data` as fit's arrays, presence masks and batch labels (`batch`, else the registered batch_key's column):
    cells a domain lacks become absent rows.

    A model without a registration takes one from `data` (each domain's X, named like the modality). The matrices
    are densified in row chunks into one float32 array per domain, which fit then holds in memory."""
    if present is not None:
        raise SharedLatentError("present= is for arrays; AnnData and MuData say which cells have which domain")
    if model.registration is None and (kind_of(data) == "mudata" or _all_anndata(data)):
        model.registration = register(data, model.domain_names)
    data = as_mapping(data, None, model.registration, model.domain_names)
    table = read_cells(data, model.registration or Registration({}), model.domain_names)
    batch_key = model.registration.batch_key if model.registration else None
    if batch is None and batch_key is not None:
        batch = batch_labels(data, table, batch_key)
    return table.dense(nan_absent=False), {name: table.present(name) for name in table.rows}, batch


def batch_labels(data: Any, table: CellTable, key: str, needed: np.ndarray | None = None) -> np.ndarray:
    """Each cell's label in obs column `key`: a MuData's own obs first, then each domain's AnnData obs. With
    `needed` (cell indices) only those cells must have one; the others get "" and must not be used."""
    import pandas as pd

    if table.cells is None:
        raise SharedLatentError(f"batch_key {key!r} is read from obs; bare matrices have none, give batch= instead")
    adatas = [adata for adata in table.sources.values() if adata is not None]
    frames = obs_frames(data, kind_of(data) == "mudata", adatas)
    labels = merged_obs_column(frames, key, pd.Index(table.cells), lambda column: column.astype(object))
    if labels is None:
        columns = listed(column for frame in frames for column in frame.columns)
        raise SharedLatentError(f"batch_key {key!r} is in no obs of the data; the obs columns are: {columns}")
    missing = int((labels if needed is None else labels.iloc[needed]).isna().sum())
    if missing:
        raise SharedLatentError(f"batch_key {key!r} has no label for {missing} cells")
    return labels.where(labels.notna(), "").astype(str).to_numpy()


def _all_anndata(data: Any) -> bool:
    return isinstance(data, Mapping) and all(_is_anndata(value) for value in data.values())
