"""The registration a CLI run saves in its model file, so the Python API reads new cells as the run's loader read
its training cells: features matched by name, the same modality, layer or obsm key, and the batch_key obs column."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sharedlatent.scverse.registration import Registration

ANNDATA_LOADERS = ("h5ad", "h5mu")
SIDES = ("left", "right")  # how the AnnData loaders' options name two domains (mods= and NAME_path: by name)


def run_registration(
    dataset: str,
    data_options: Mapping[str, Any],
    input_sizes: Mapping[str, int],
    feature_names: Mapping[str, list[str]],
) -> Registration | None:
    """Each domain's feature names (where the dataset names every feature once) and, for the h5ad / h5mu loaders,
    the modality, layer or obsm key and batch_key the loader read; None when there is nothing to record."""
    from sharedlatent.scverse.registration import DomainRegistration, Registration  # numpy: not at CLI parse time

    # h5mu's mods= and h5ad's NAME_path options name each domain's options by the domain (rna_layer, ...)
    listed = (dataset == "h5mu" and data_options.get("mods") is not None) or (
        dataset == "h5ad"
        and any(key not in ("left_path", "right_path") and key.endswith("_path") for key in data_options)
    )
    anndata = dataset in ANNDATA_LOADERS and (listed or len(input_sizes) == len(SIDES))
    sides = {domain: domain for domain in input_sizes} if listed else {}
    if anndata and not listed:
        sides = dict(zip(input_sizes, SIDES, strict=False))
    specs = {}
    for domain, size in input_sizes.items():
        names = [str(name) for name in feature_names.get(domain) or []]
        named = names if len(names) == size and len(set(names)) == size else None
        side = sides.get(domain)
        if side is None:
            if named:
                specs[domain] = DomainRegistration(var_names=named)
            continue
        modality = (side if listed else data_options.get(f"{side}_mod")) if dataset == "h5mu" else None
        layer = data_options.get(f"{side}_layer") or data_options.get("layer")
        obsm = data_options.get(f"{side}_obsm") or data_options.get("obsm")
        specs[domain] = DomainRegistration(_name(modality), _name(layer), _name(obsm), named)
    batch_key = _name(data_options.get("batch_key")) if anndata else None
    return Registration(specs, batch_key) if specs else None


def _name(value: Any) -> str | None:
    """A loader option as a name (None when unset or empty)."""
    return str(value) if value not in (None, "") else None
