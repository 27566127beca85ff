"""AnnData / MuData files: two modalities of one .h5mu or two .h5ad files, cells paired by obs_names.

Per domain the values come from X (default), a named layer or an obsm key. Sparse matrices are densified in row
chunks straight into one preallocated float32 array, so no second full-size dense copy is ever made.
anndata and mudata are the optional `bio` extra and are imported only when these loaders run.
pairing="outer" keeps cells that only one modality has (partially paired; Split.present marks them).
batch_key names an obs column of batch labels (Split.batches), which `train` gives fit as the batch covariate.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from sharedlatent.auto_settings import is_nonnegative_integer
from sharedlatent.datasets.backed_files import load_backed_pair, wants_backed
from sharedlatent.datasets.base import PairedDataset, Split
from sharedlatent.datasets.options import domain_files, refuse_one_matrix_twice, require_path
from sharedlatent.datasets.pairing import check_unique_features, pair_by_ids, presence_of
from sharedlatent.datasets.splits import split_into_dataset
from sharedlatent.errors import SharedLatentError, listed
from sharedlatent.optional_deps import require_module
from sharedlatent.storage import atomic_path

if TYPE_CHECKING:
    import anndata
    import pandas
    import scipy.sparse

log = logging.getLogger(__name__)

CHUNK_ROWS = 4096


def import_anndata() -> ModuleType:
    """anndata, or the error naming the extra that installs it."""
    return require_module("anndata", "reading .h5ad", "bio")


def import_mudata() -> ModuleType:
    """mudata, or the error naming the extra that installs it."""
    return require_module("mudata", "reading .h5mu", "bio")


@dataclass
class Modality:
    """One domain's AnnData with the matrix chosen for it (X, a layer or an obsm entry) and its feature names."""

    source: str
    adata: object
    matrix: object
    feature_names: list[str]


def choose_matrix(adata: anndata.AnnData, source: str, layer: str | None = None, obsm: str | None = None) -> Modality:
    """X, `layers[layer]` or `obsm[obsm]` of an AnnData, with names for its columns (which must be unique: new
    cells are read by feature name, so a repeated name could not be matched)."""
    modality = _matrix_of(adata, source, layer, obsm)
    if modality.matrix.shape[1] == 0:
        raise SharedLatentError(f"{source}: the matrix read ({modality_name(layer, obsm)}) has no features (0 columns)")
    check_unique_features(modality.feature_names, source)
    return modality


def modality_name(layer: str | None, obsm: str | None) -> str:
    """Which matrix of an AnnData is read, in words."""
    return f"layers[{layer!r}]" if layer else f"obsm[{obsm!r}]" if obsm else "X"


def _matrix_of(adata: anndata.AnnData, source: str, layer: str | None, obsm: str | None) -> Modality:
    """choose_matrix's pick, before its checks."""
    if layer and obsm:
        raise SharedLatentError(f"{source}: give either a layer ({layer!r}) or an obsm key ({obsm!r}), not both")
    if layer:
        if layer not in adata.layers:
            raise SharedLatentError(
                f"{source}: no layer {layer!r}; layers are {list(adata.layers)} (without a layer, X is read; on the "
                "command line left_layer= / right_layer=, or NAME_layer= for named domains, name one per file; in "
                "Python, layer= names one for every domain or a dict one per domain)"
            )
        return Modality(source, adata, adata.layers[layer], [str(n) for n in adata.var_names])
    if obsm:
        if obsm not in adata.obsm:
            raise SharedLatentError(f"{source}: no obsm key {obsm!r}; obsm keys are {list(adata.obsm)}")
        matrix = adata.obsm[obsm]
        if hasattr(matrix, "columns"):
            return Modality(source, adata, matrix.to_numpy(), [str(c) for c in matrix.columns])
        return Modality(source, adata, matrix, [f"{obsm}_{i}" for i in range(matrix.shape[1])])
    if adata.X is None:
        raise SharedLatentError(f"{source}: X is empty; choose a layer or an obsm key")
    return Modality(source, adata, adata.X, [str(n) for n in adata.var_names])


HINT_ROWS = 1000  # rows read to tell counts from normalised values, for the hint below


def counts_layer_hint(modality: Modality, domain: str, layer: str | None, obsm: str | None) -> str | None:
    """A note when X is read but is not counts while a layer of the same AnnData holds them (scanpy leaves
    log-normalised values in X and the counts in a layer): a count likelihood needs the layer."""
    if layer or obsm or not len(modality.adata.layers):
        return None
    rows = np.arange(min(HINT_ROWS, modality.adata.n_obs))
    if not len(rows) or is_nonnegative_integer(dense_rows(modality.matrix, rows)):
        return None
    for name in modality.adata.layers:
        if is_nonnegative_integer(dense_rows(modality.adata.layers[name], rows)):
            return (
                f"{domain}: X is not counts but layers[{name!r}] is; to model the counts with a count likelihood, "
                f"read that layer ({domain}_layer={name} for domains named by NAME_path or mods=, else left_layer={name}"
                f" or right_layer={name}, whichever this file is; layer={name} only when every file has it)"
            )
    return None


def dense_rows(
    matrix: np.ndarray | scipy.sparse.spmatrix, rows: np.ndarray, chunk_rows: int = CHUNK_ROWS
) -> np.ndarray:
    """The selected rows as one float32 array, densified chunk by chunk (works for numpy and scipy.sparse);
    a row index of -1 (a cell this modality lacks) gives a zero row."""
    out = np.zeros((len(rows), matrix.shape[1]), dtype=np.float32)
    positions = np.flatnonzero(np.asarray(rows) >= 0)
    for start in range(0, len(positions), chunk_rows):
        at = positions[start : start + chunk_rows]
        block = matrix[rows[at]]
        out[at] = block.toarray() if hasattr(block, "toarray") else np.asarray(block)
    return out


def pair_modalities(
    modalities: dict[str, Modality],
    label_column: str | None,
    extra_obs: pandas.DataFrame | None = None,
    pairing: str = "inner",
    batch_key: str | None = None,
) -> tuple[Split, str]:
    """One Split holding every domain's matched cells (and labels and batch labels), plus the match summary."""
    ids = {domain: np.asarray(m.adata.obs_names) for domain, m in modalities.items()}
    sources = {domain: m.source for domain, m in modalities.items()}
    rows, shared, report = pair_by_ids(ids, sources, "obs_names", pairing)
    log.info("anndata: %s", report.summary())
    labels = None if not label_column else find_labels(modalities, rows, shared, label_column, extra_obs)
    batches = None if not batch_key else find_labels(modalities, rows, shared, batch_key, extra_obs, "batch_key")
    domains = {domain: dense_rows(m.matrix, rows[domain]) for domain, m in modalities.items()}
    for domain, values in domains.items():
        if not np.isfinite(values).all():
            raise SharedLatentError(
                f"{sources[domain]}: domain {domain!r} has {int((~np.isfinite(values)).sum())} NaN or infinite values"
            )
    split = Split(domains, labels=labels, sample_ids=shared, present=presence_of(rows), batches=batches)
    return split, report.summary()


def find_labels(
    modalities: dict[str, Modality],
    rows: dict[str, np.ndarray],
    shared: np.ndarray,
    column: str,
    extra_obs: pandas.DataFrame | None,
    option: str = "label column",
) -> np.ndarray:
    """Labels from the first modality whose obs has `column` and the cell, else from the MuData's own obs;
    `option` names the loader option in errors (label column, batch_key)."""
    import pandas as pd

    values = np.full(len(shared), None, dtype=object)
    given_by = np.full(len(shared), "", dtype=object)  # which file gave each cell's value, for a clash's message
    found = False
    for domain, m in modalities.items():
        if column in m.adata.obs.columns:
            theirs = np.full(len(shared), None, dtype=object)
            held = rows[domain] >= 0
            theirs[held] = m.adata.obs[column].to_numpy()[rows[domain][held]]
            _take_agreeing(values, given_by, theirs, m.source, shared, f"{option} {column!r}")
            found = True
    if extra_obs is not None and column in extra_obs.columns:
        theirs = extra_obs[column].reindex(shared).to_numpy().astype(object)
        _take_agreeing(values, given_by, theirs, "the MuData's obs", shared, f"{option} {column!r}")
        found = True
    if not found:
        frames = [m.adata.obs for m in modalities.values()] + ([] if extra_obs is None else [extra_obs])
        raise SharedLatentError(
            f"{option} {column!r} is in the obs of none of {', '.join(m.source for m in modalities.values())}"
            f"; the obs columns are: {listed(c for frame in frames for c in frame.columns)}"
        )
    missing = pd.isna(values)
    if option == "label column":
        # Cells only unlabelled modalities hold (outer pairing) are unpaired, and no split or metric reads their
        # label: they get "". A paired cell without a label is still an error.
        unpaired = ~np.all(np.stack([domain_rows >= 0 for domain_rows in rows.values()]), axis=0)
        values[missing & unpaired] = ""
        missing = missing & ~unpaired
    if missing.any():
        raise SharedLatentError(f"{option} {column!r} has {int(missing.sum())} missing values among the paired cells")
    return np.asarray(values).astype(str)


def _take_agreeing(
    values: np.ndarray, given_by: np.ndarray, theirs: np.ndarray, source: str, cells: np.ndarray, what: str
) -> None:
    """Fill `values`' missing entries from `theirs` (one more file's values for the same cells); a cell both give
    different values is an error, not a silent pick of the first file's."""
    import pandas as pd

    both = np.flatnonzero(~pd.isna(values) & ~pd.isna(theirs))
    differ = both[values[both].astype(str) != theirs[both].astype(str)]  # vectorised; usually none are left
    clash = [cell for cell in differ if _label_text(values[cell]) != _label_text(theirs[cell])]
    if len(clash):
        cell = clash[0]
        raise SharedLatentError(
            f"{what} differs between {given_by[cell]} and {source} for {len(clash)} cells (cell {cells[cell]!s}: "
            f"{values[cell]!s} against {theirs[cell]!s}); keep the column in one file or make them agree"
        )
    take = pd.isna(values) & ~pd.isna(theirs)
    values[take] = theirs[take]
    given_by[take] = source


def _label_text(value: object) -> str:
    """A label as text, a whole float as its integer (a column with a missing value is float in pandas: 1.0 is 1)."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def cells_obs(modalities: dict[str, Modality], extra_obs: pandas.DataFrame | None = None) -> pandas.DataFrame:
    """Every obs column of the modalities (and a MuData's own obs), one row per cell any of them has; where two
    hold a column of the same name, the first modality that has the cell gives its value."""
    import pandas as pd

    frames = [m.adata.obs for m in modalities.values()] + ([extra_obs] if extra_obs is not None else [])
    cells = pd.Index([]).append([pd.Index(frame.index) for frame in frames]).unique()
    combined = pd.DataFrame(index=cells)
    for frame in frames:
        frame = frame[~frame.index.duplicated()]
        for column in frame.columns:
            values = frame[column].reindex(cells)
            if column not in combined:
                combined[column] = values
            else:  # fill the cells the earlier source lacks (as objects: categories may differ)
                earlier = combined[column].astype(object)
                combined[column] = earlier.where(earlier.notna(), values.astype(object))
    return combined


def load_h5ad_pair(
    left_path: str | Path | None = None,
    right_path: str | Path | None = None,
    layer: str | None = None,
    obsm: str | None = None,
    left_layer: str | None = None,
    right_layer: str | None = None,
    left_obsm: str | None = None,
    right_obsm: str | None = None,
    label_column: str | None = None,
    test_fraction: float | str = 0.2,
    seed: int | str = 0,
    left: str = "left",
    right: str = "right",
    pairing: str = "inner",
    backed: bool | str = "auto",
    batch_key: str | None = None,
    **named: str,
) -> PairedDataset:
    """.h5ad files, one per domain: two (left_path, right_path) or any number named by their options (rna_path=,
    protein_path=, ... with rna_layer= / rna_obsm= per domain); `layer`/`obsm` apply to every domain unless its own
    option says otherwise. pairing "outer" also keeps cells only some files have. backed=true keeps the matrices
    on disk (backed_files.py). batch_key: the obs column of each cell's batch label (from any file)."""
    anndata = import_anndata()
    unknown = [key for key in named if not key.endswith(("_path", "_layer", "_obsm"))]
    if unknown:  # a misspelt option (lable_column) is named as such, not read as a domain
        raise SharedLatentError(
            f"h5ad: unknown option {unknown[0]!r}; known: left_path, right_path, NAME_path, layer, obsm, NAME_layer, "
            "NAME_obsm, label_column, batch_key, pairing, backed, test_fraction, seed, left, right"
        )
    own = {key: value for key, value in named.items() if key.endswith(("_layer", "_obsm"))}
    by_name = bool(set(named) - set(own))  # domains named by NAME_path
    if by_name:  # left/right options would be silently ignored
        sided = {
            "left_path": left_path,
            "right_path": right_path,
            "left_layer": left_layer,
            "right_layer": right_layer,
            "left_obsm": left_obsm,
            "right_obsm": right_obsm,
        }
        given = [key for key, value in sided.items() if value is not None]
        given += [key for key, value in (("left", left), ("right", right)) if value != key]
        if given:
            raise SharedLatentError(
                f"h5ad: {given[0]} does not go with NAME_path options; name every domain NAME_path (NAME_layer, NAME_obsm)"
            )
    paths = domain_files("h5ad", left_path, right_path, left, right, {k: v for k, v in named.items() if k not in own})
    if by_name or own:
        choices = own_matrices(paths, layer, obsm, own, "h5ad")
    else:
        choices = {left: (left_layer or layer, left_obsm or obsm), right: (right_layer or layer, right_obsm or obsm)}
    for domain, path in paths.items():
        if not path.is_file():
            raise SharedLatentError(f"AnnData file {path} (domain {domain!r}) does not exist")
    refuse_one_matrix_twice({domain: (path.resolve(), *choices[domain]) for domain, path in paths.items()})
    uses_obsm = any(c[1] for c in choices.values())
    if wants_backed(backed, paths, uses_obsm or bool(label_column or batch_key), pairing):
        if uses_obsm or label_column or batch_key:
            raise SharedLatentError("backed=true reads X or a layer, without obsm, label_column or batch_key")
        return load_backed_pair(paths, {d: c[0] for d, c in choices.items()}, test_fraction, seed, pairing)
    modalities = {}
    for domain, path in paths.items():
        modalities[domain] = choose_matrix(anndata.read_h5ad(path), str(path), *choices[domain])
    full, summary = pair_modalities(modalities, label_column, pairing=pairing, batch_key=batch_key)
    shown = [f"{path.name} ({domain})" for domain, path in paths.items()]
    what = f"AnnData {', '.join(shown[:-1])} and {shown[-1]}: {summary}"
    dataset = split_into_dataset(
        "h5ad", full, {d: m.feature_names for d, m in modalities.items()}, what, test_fraction, seed
    )
    dataset.notes.append(f"h5ad: {summary}")
    dataset.notes += [h for d, m in modalities.items() if (h := counts_layer_hint(m, d, *choices[d]))]
    dataset.obs = cells_obs(modalities)
    return dataset


def load_h5mu_pair(
    path: str | Path | None = None,
    left_mod: str | None = None,
    right_mod: str | None = None,
    layer: str | None = None,
    obsm: str | None = None,
    left_layer: str | None = None,
    right_layer: str | None = None,
    left_obsm: str | None = None,
    right_obsm: str | None = None,
    label_column: str | None = None,
    test_fraction: float | str = 0.2,
    seed: int | str = 0,
    left: str | None = None,
    right: str | None = None,
    pairing: str = "inner",
    batch_key: str | None = None,
    mods: str | None = None,
    **per_modality: str,
) -> PairedDataset:
    """Two modalities of one .h5mu file (left_mod, right_mod; the domains are named after the modalities unless
    `left`/`right` are given), or any number (`mods=rna,protein,atac`, with MOD_layer / MOD_obsm per modality).
    pairing "outer" also keeps cells only some modalities have. batch_key: the obs column of each cell's batch label
    (a modality's obs or the MuData's own)."""
    mudata = import_mudata()
    path = require_path(path, "path")
    if not path.is_file():
        raise SharedLatentError(f"MuData file {path} does not exist")
    if mods is not None:
        sided = (left_mod, right_mod, left, right, left_layer, right_layer, left_obsm, right_obsm)
        if any(value is not None for value in sided):
            raise SharedLatentError(
                f"{path}: with mods= name options by modality (MOD_layer, MOD_obsm), not left_* / right_* / left_mod"
            )
        names, choices = listed_modalities(path, mods, layer, obsm, per_modality)
    else:
        if per_modality:
            raise SharedLatentError(f"{path}: unknown option {next(iter(per_modality))!r} (MOD_layer needs mods=)")
        if not left_mod or not right_mod:
            raise SharedLatentError(
                f"{path}: name the modalities with left_mod=NAME and right_mod=NAME, or mods=NAME,NAME,..."
            )
        names = {left or left_mod: left_mod, right or right_mod: right_mod}
        if len(names) != 2:
            raise SharedLatentError(f"{path}: the two domains need different names, both are {left or left_mod!r}")
        choices = {
            left_mod: (left_layer or layer, left_obsm or obsm),
            right_mod: (right_layer or layer, right_obsm or obsm),
        }
    mdata = mudata.read_h5mu(path)
    modalities = {}
    for domain, mod in names.items():
        if mod not in mdata.mod:
            raise SharedLatentError(f"{path}: no modality {mod!r}; modalities are {list(mdata.mod)}")
        modalities[domain] = choose_matrix(mdata.mod[mod], f"{path}, modality {mod!r}", *choices[mod])
    full, summary = pair_modalities(modalities, label_column, mdata.obs, pairing, batch_key)
    shown = [repr(mod) for mod in names.values()]
    what = f"MuData {path.name}, modalities {', '.join(shown[:-1])} and {shown[-1]}: {summary}"
    dataset = split_into_dataset(
        "h5mu", full, {d: m.feature_names for d, m in modalities.items()}, what, test_fraction, seed
    )
    dataset.notes.append(f"h5mu: {summary}")
    dataset.notes += [h for d, m in modalities.items() if (h := counts_layer_hint(m, d, *choices[names[d]]))]
    dataset.obs = cells_obs(modalities, mdata.obs)
    return dataset


def listed_modalities(
    path: Path, mods: str, layer: str | None, obsm: str | None, per_modality: dict[str, str]
) -> tuple[dict[str, str], dict[str, tuple[str | None, str | None]]]:
    """The domains (named after their modalities) of `mods=a,b,c` and each one's (layer, obsm): MOD_layer /
    MOD_obsm where given, else `layer` / `obsm`; any other option is refused."""
    listed = [mod.strip() for mod in str(mods).split(",") if mod.strip()]
    if len(listed) < 2 or len(set(listed)) < len(listed):
        raise SharedLatentError(f"{path}: mods= names two or more different modalities, got {mods!r}")
    return {mod: mod for mod in listed}, own_matrices(listed, layer, obsm, per_modality, str(path))


def own_matrices(
    domains: Iterable[str], layer: str | None, obsm: str | None, options: dict[str, str], where: str
) -> dict[str, tuple[str | None, str | None]]:
    """Each named domain's (layer, obsm): its NAME_layer / NAME_obsm option where given, else `layer` / `obsm`;
    an option naming no domain is refused."""
    domains = list(domains)
    known = {f"{domain}_{what}" for domain in domains for what in ("layer", "obsm")}
    unknown = [key for key in options if key not in known]
    if unknown:
        raise SharedLatentError(f"{where}: unknown option {unknown[0]!r}; per domain: NAME_layer, NAME_obsm")
    return {d: (options.get(f"{d}_layer") or layer, options.get(f"{d}_obsm") or obsm) for d in domains}


def write_h5mu(
    path: str | Path,
    values: dict[str, np.ndarray],
    obs_names: np.ndarray,
    var_names: dict[str, list[str]],
    uns: dict | None = None,
) -> Path:
    """Write paired samples (row i of every domain is one sample) as a new .h5mu with a modality per domain."""
    anndata, mudata = import_anndata(), import_mudata()
    import pandas as pd

    index = pd.Index(np.asarray(obs_names).astype(str))
    modalities = {
        name: anndata.AnnData(
            X=np.asarray(array, dtype=np.float32),
            obs=pd.DataFrame(index=index),
            var=pd.DataFrame(index=pd.Index(np.asarray(var_names[name]).astype(str))),
        )
        for name, array in values.items()
    }
    data = mudata.MuData(modalities)
    data.uns.update(dict(uns or {}))
    with atomic_path(path) as temporary:
        data.write_h5mu(temporary)
    return Path(path)


def write_h5ad(
    path: str | Path,
    values: np.ndarray,
    obs_names: list[str] | np.ndarray,
    var_names: list[str] | np.ndarray,
    obs: dict | None = None,
    uns: dict | None = None,
) -> Path:
    """Write samples x features (e.g. translated cells, named by the target domain's var_names) as a new .h5ad."""
    anndata = import_anndata()
    import pandas as pd

    path = Path(path)
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2 or values.shape != (len(obs_names), len(var_names)):
        raise SharedLatentError(
            f"{path}: values of shape {values.shape} do not fit {len(obs_names)} obs_names x {len(var_names)} var_names"
        )
    obs_frame = pd.DataFrame(obs or {}, index=pd.Index(np.asarray(obs_names).astype(str)))
    var_frame = pd.DataFrame(index=pd.Index(np.asarray(var_names).astype(str)))
    adata = anndata.AnnData(X=values, obs=obs_frame, var=var_frame, uns=dict(uns or {}))
    with atomic_path(path) as temporary:
        adata.write_h5ad(temporary)
    return path
