"""Datasets: the interface (base), the registry and one small module per dataset."""

from sharedlatent.datasets.base import ImageRenderer, PairedDataset, ProfileRenderer, Split
from sharedlatent.datasets.registry import DATASETS, DatasetSpec, available_datasets, load_dataset, register_dataset

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "ImageRenderer",
    "PairedDataset",
    "ProfileRenderer",
    "Split",
    "available_datasets",
    "load_dataset",
    "register_dataset",
]
