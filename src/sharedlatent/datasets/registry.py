"""Datasets by name: built-ins, entry points (group `sharedlatent.datasets`) and `module:function` paths."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points

from sharedlatent.datasets.base import DatasetLoader, PairedDataset
from sharedlatent.errors import SharedLatentError

ENTRY_POINT_GROUP = "sharedlatent.datasets"


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: how to load it and what it needs."""

    name: str
    loader_path: str
    summary: str
    needs: str = "nothing (embedded)"

    def load(self, **options) -> PairedDataset:
        return import_loader(self.loader_path)(**options)


DATASETS: dict[str, DatasetSpec] = {
    "digits": DatasetSpec(
        "digits",
        "sharedlatent.datasets.digits:load_digits_pair",
        "scikit-learn 8x8 handwritten digits: regular (left) vs inverse (right); 1,437 train / 360 test",
    ),
    "linnerud": DatasetSpec(
        "linnerud",
        "sharedlatent.datasets.linnerud:load_linnerud_pair",
        "Linnerud fitness data bundled with scikit-learn: 20 men, exercise (3) vs physiological (3) measurements",
        "nothing (bundled with scikit-learn); options: test_fraction, seed",
    ),
    "synthetic_omics": DatasetSpec(
        "synthetic_omics",
        "sharedlatent.datasets.synthetic_omics:load_synthetic_omics",
        "seeded synthetic multi-omics from a latent factor model: RNA counts (negative binomial with library sizes), "
        "protein values and, with n_domains=3, binary mutation calls; cell-type labels",
        "nothing (simulated); options: n_samples, n_domains (2 or 3), fraction_unpaired, n_genes, n_proteins, "
        "n_mutations, n_types, test_fraction, seed",
    ),
    "mnist": DatasetSpec(
        "mnist",
        "sharedlatent.datasets.mnist:load_mnist_pair",
        "MNIST 28x28 digits: regular (left) vs inverse (right); official 60,000 / 10,000 split",
        "IDX files (or mnist.npz) in path=DIR or the cache ($SHAREDLATENT_DATA/mnist, ~/.cache/sharedlatent/mnist); "
        "`sharedlatent fetch mnist` downloads them; options: path, limit",
    ),
    "icvl": DatasetSpec(
        "icvl",
        "sharedlatent.datasets.icvl:load_icvl_pair",
        "ICVL hand poses: 60x80 depth map (left) vs 16 joints' u, v, depth (right)",
        "the ICVL folder (16-bit PNG depth maps + labels.txt) as path=DIR; options: labels, test_labels, "
        "test_fraction, seed, limit",
    ),
    "tables": DatasetSpec(
        "tables",
        "sharedlatent.datasets.tables:load_table_pair",
        "tables (CSV, TSV, Parquet, NPZ, NPY), one per domain, rows paired by a sample-ID column",
        "left_path=FILE right_path=FILE, or NAME_path=FILE for each domain NAME (any number); options: id_column, label_column, test_fraction, seed, left, right, "
        "pairing (inner or outer), header (auto, names or none: is a first row of numbers column names?) "
        "(Parquet needs the tables extra)",
    ),
    "h5ad": DatasetSpec(
        "h5ad",
        "sharedlatent.datasets.anndata_files:load_h5ad_pair",
        "AnnData .h5ad files, one per domain, cells paired by obs_names",
        "left_path=FILE right_path=FILE (or NAME_path=FILE per domain, with NAME_layer / NAME_obsm) and the bio "
        "extra; options: layer, obsm, left_layer, right_layer, "
        "left_obsm, right_obsm, label_column, batch_key (an obs column), test_fraction, seed, pairing (inner or outer), "
        "backed (true: read rows from disk while training; auto: above 2 GiB dense)",
    ),
    "h5mu": DatasetSpec(
        "h5mu",
        "sharedlatent.datasets.anndata_files:load_h5mu_pair",
        "modalities of one MuData .h5mu file, cells paired by obs_names",
        "path=FILE left_mod=NAME right_mod=NAME (or mods=NAME,NAME,... with NAME_layer / NAME_obsm) and the bio extra; "
        "options: layer, obsm, left_layer, right_layer, "
        "left_obsm, right_obsm, label_column, batch_key (an obs column), test_fraction, seed, pairing (inner or outer)",
    ),
    "pickle": DatasetSpec(
        "pickle",
        "sharedlatent.datasets.pickle_file:load_pickle_pair",
        "the original prototype's gzipped pickle of (left_train, right_train, left_test, right_test)",
        "path=FILE and allow_pickle=true (CLI: --allow-pickle), because unpickling runs code from the file",
    ),
}


def register_dataset(spec: DatasetSpec) -> None:
    """Add a dataset to the registry for this process."""
    DATASETS[spec.name] = spec


def available_datasets() -> dict[str, DatasetSpec]:
    """Built-in datasets plus those installed packages declare as entry points."""
    found = dict(DATASETS)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(
            entry.name, DatasetSpec(entry.name, entry.value, f"plug-in from {entry.value}", "see its package")
        )
    return found


def import_loader(path: str) -> DatasetLoader:
    """The function named by `package.module:function` or `path/to/file.py:function`."""
    module_name, _, attribute = path.rpartition(":")
    if not module_name or not attribute:
        raise SharedLatentError(
            f"dataset loader {path!r} must look like 'package.module:function' or 'file.py:function'"
        )
    module = _import_file(module_name) if module_name.endswith(".py") else _import_module(module_name)
    loader = getattr(module, attribute, None)
    if not callable(loader):
        raise SharedLatentError(f"module {module_name!r} has no function {attribute!r}")
    return loader


def _import_module(name: str):
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise SharedLatentError(f"cannot import dataset module {name!r}: {error}") from None


def _import_file(filename: str):
    import importlib.util
    from pathlib import Path

    file = Path(filename)
    if not file.is_file():
        raise SharedLatentError(f"dataset file {file} does not exist")
    spec = importlib.util.spec_from_file_location(f"sharedlatent_user_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # the user's file: report any failure in one line
        raise SharedLatentError(f"cannot load dataset file {file}: {type(error).__name__}: {error}") from None
    return module


def load_dataset(name: str, **options) -> PairedDataset:
    """Load a dataset by registry name or by a `module:function` path."""
    if ":" in name:
        loader = import_loader(name)
    else:
        specs = available_datasets()
        if name not in specs:
            raise SharedLatentError(f"unknown dataset {name!r}; available: {', '.join(sorted(specs))}")
        loader = import_loader(specs[name].loader_path)
    try:
        dataset = loader(**options)
    except SharedLatentError:
        raise
    except TypeError as error:
        raise SharedLatentError(f"dataset {name!r} rejected its options {sorted(options)}: {error}") from None
    except (ValueError, KeyError, OSError, IndexError) as error:
        raise SharedLatentError(
            f"dataset {name!r} failed to load with options {options}: {type(error).__name__}: {error}"
        ) from None
    if not isinstance(dataset, PairedDataset):
        raise SharedLatentError(f"dataset loader {name!r} returned {type(dataset).__name__}, expected PairedDataset")
    return dataset
