"""What a dataset is: named domains measured on the same samples, split into train and test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sharedlatent.arrays import as_matrix
from sharedlatent.errors import SharedLatentError

# Renderers live with the figures; re-exported here, as datasets name them (they import no matplotlib).
from sharedlatent.figures.renderers import ImageRenderer, ProfileRenderer, Renderer

__all__ = ["DatasetLoader", "ImageRenderer", "PairedDataset", "ProfileRenderer", "Renderer", "Split"]


@dataclass
class Split:
    """One split: an array (samples x features) per domain, rows aligned across domains.

    Partially paired data: `present[domain]` is a boolean per sample saying whether that domain was measured;
    an absent sample's row holds zeros. `present` is None when every sample has every domain (fully paired);
    masks that are all True are normalised to None. `batches`: a batch label per sample, for a batch covariate;
    `covariates`: continuous covariates per sample."""

    domains: dict[str, np.ndarray]
    labels: np.ndarray | None = None
    sample_ids: np.ndarray | None = None
    present: dict[str, np.ndarray] | None = None
    batches: np.ndarray | None = None
    covariates: np.ndarray | None = None  # continuous covariates, samples x k (continuous_covariates.py)

    def __post_init__(self) -> None:
        self.domains = {name: as_matrix(values, name) for name, values in self.domains.items()}
        counts = {name: values.shape[0] for name, values in self.domains.items()}
        if len(set(counts.values())) > 1:
            detail = ", ".join(f"{name} has {n}" for name, n in counts.items())
            raise SharedLatentError(f"domains must have the same number of samples: {detail}")
        n = self.n_samples
        for what, values in (
            ("labels", self.labels),
            ("sample_ids", self.sample_ids),
            ("batches", self.batches),
            ("covariates", self.covariates),
        ):
            if values is not None and len(values) != n:
                raise SharedLatentError(f"{what} has {len(values)} entries but the domains have {n} samples")
        self.present = self._checked_present(self.present)

    def _checked_present(self, present: dict[str, np.ndarray] | None) -> dict[str, np.ndarray] | None:
        """Validated boolean masks for every domain with absent rows zeroed, or None when all samples have all domains."""
        if present is None:
            return None
        unknown = sorted(set(present) - set(self.domains))
        if unknown:
            raise SharedLatentError(
                f"present names domains {unknown} that the split does not have ({list(self.domains)})"
            )
        masks = {}
        for name in self.domains:
            mask = np.asarray(present.get(name, np.ones(self.n_samples, dtype=bool)))
            if mask.dtype != bool or mask.shape != (self.n_samples,):
                raise SharedLatentError(
                    f"present[{name!r}] must be a boolean array of {self.n_samples} entries, got {mask.dtype} of shape {mask.shape}"
                )
            masks[name] = mask.copy()
        nowhere = ~np.any(np.stack(list(masks.values())), axis=0) if masks else np.zeros(0, dtype=bool)
        if nowhere.any():
            raise SharedLatentError(f"{int(nowhere.sum())} samples are present in no domain; drop them")
        if all(mask.all() for mask in masks.values()):
            return None
        for name, mask in masks.items():
            if not mask.all():
                self.domains[name] = self.domains[name].copy()
                self.domains[name][~mask] = 0.0
        return masks

    @property
    def n_samples(self) -> int:
        return next(iter(self.domains.values())).shape[0] if self.domains else 0

    @property
    def is_paired(self) -> bool:
        """True when every sample has every domain."""
        return self.present is None

    def presence(self, domain: str) -> np.ndarray:
        """Boolean per sample: whether `domain` was measured."""
        if self.present is None:
            return np.ones(self.n_samples, dtype=bool)
        return self.present[domain]

    def paired_rows(self) -> np.ndarray:
        """Indices of the samples that have every domain."""
        return np.flatnonzero(np.all([self.presence(name) for name in self.domains], axis=0))

    def paired(self) -> Split:
        """The fully paired samples only (what translation metrics and figures compare against)."""
        return self if self.present is None else self.subset(self.paired_rows())

    def pairing_counts(self) -> dict[str, int]:
        """How many samples have every domain ("paired") and how many have only one ("<domain>_only"); with three or
        more domains, "partial" counts the rest."""
        stacked = np.array([self.presence(name) for name in self.domains])
        per_sample = stacked.sum(axis=0)
        counts = {"paired": int((per_sample == len(self.domains)).sum())}
        for index, name in enumerate(self.domains):
            counts[f"{name}_only"] = int((stacked[index] & (per_sample == 1)).sum())
        if len(self.domains) > 2:
            counts["partial"] = int(((per_sample > 1) & (per_sample < len(self.domains))).sum())
        return counts

    def subset(self, rows: np.ndarray) -> Split:
        """The same split restricted to `rows` (indices or a boolean mask)."""
        return Split(
            {name: values[rows] for name, values in self.domains.items()},
            None if self.labels is None else self.labels[rows],
            None if self.sample_ids is None else self.sample_ids[rows],
            None if self.present is None else {name: mask[rows] for name, mask in self.present.items()},
            None if self.batches is None else self.batches[rows],
            None if self.covariates is None else np.asarray(self.covariates)[rows],
        )


@dataclass
class PairedDataset:
    """A dataset ready for training: train and test splits plus how to draw each domain."""

    name: str
    train: Split
    test: Split
    renderers: dict[str, Renderer] = field(default_factory=dict)
    feature_names: dict[str, list[str]] = field(default_factory=dict)
    description: str = ""
    # Suggested model settings per domain (e.g. {"rna": {"likelihood": "negative_binomial"}}), used for any
    # domain the run's config leaves unset, so `sharedlatent train NAME` fits the data's kind out of the box.
    domain_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    # What the loader did to the data that a user should hear of, e.g. rows dropped while pairing by ID.
    notes: list[str] = field(default_factory=list)
    # The cells' obs (a pandas DataFrame indexed by sample ID) for data read from AnnData / MuData, else None:
    # what a figure may be coloured by (`--color-by cell_type`).
    obs: Any = None
    # (all test samples, seed) when the loader kept only a seeded subsample of the test split (backed files), so
    # the evaluation can say what its numbers were computed on; None when `test` is the whole split.
    test_subsample: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if list(self.train.domains) != list(self.test.domains):
            raise SharedLatentError(
                f"dataset {self.name!r}: train domains {list(self.train.domains)} differ from test domains {list(self.test.domains)}"
            )
        if len(self.train.domains) < 2:
            raise SharedLatentError(f"dataset {self.name!r} needs at least two domains, got {list(self.train.domains)}")
        for name in self.domain_names:
            if self.train.domains[name].shape[1] != self.test.domains[name].shape[1]:
                raise SharedLatentError(
                    f"dataset {self.name!r}, domain {name!r}: train has {self.train.domains[name].shape[1]} features, "
                    f"test has {self.test.domains[name].shape[1]}"
                )

    @property
    def domain_names(self) -> list[str]:
        return list(self.train.domains)

    def pairing_counts(self) -> dict[str, int]:
        """Samples with every domain and with one domain only, over both splits."""
        counts = self.train.pairing_counts()
        for key, value in self.test.pairing_counts().items():
            counts[key] = counts.get(key, 0) + value
        return counts

    @property
    def input_sizes(self) -> dict[str, int]:
        return {name: values.shape[1] for name, values in self.train.domains.items()}

    def renderer(self, domain: str) -> Renderer:
        return self.renderers.get(domain, ProfileRenderer())


DatasetLoader = Callable[..., PairedDataset]
