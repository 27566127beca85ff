"""What a dataset is: named domains measured on the same samples, split into train and test."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Protocol

import numpy as np

from sharedlatent.errors import SharedLatentError


class Renderer(Protocol):
    """Draws one sample of a domain into a matplotlib Axes (for the figure grid)."""

    def __call__(self, ax, values: np.ndarray) -> None: ...


@dataclass(frozen=True)
class ImageRenderer:
    """Shows a flat vector as a (height, width) grey image."""

    height: int
    width: int
    cmap: str = "gray"
    vmin: float | None = 0.0
    vmax: float | None = 1.0

    def __call__(self, ax, values: np.ndarray) -> None:
        ax.imshow(np.asarray(values).reshape(self.height, self.width), cmap=self.cmap, vmin=self.vmin, vmax=self.vmax)
        ax.set_xticks([])
        ax.set_yticks([])


@dataclass(frozen=True)
class ProfileRenderer:
    """Shows a flat vector as a bar profile: the fallback for tabular domains."""

    def __call__(self, ax, values: np.ndarray) -> None:
        values = np.asarray(values).ravel()
        ax.bar(np.arange(values.size), values, width=1.0, color="#3b6ea8")
        ax.set_xticks([])
        ax.set_yticks([])


@dataclass
class Split:
    """One split: an array (samples x features) per domain, rows aligned across domains."""

    domains: dict[str, np.ndarray]
    labels: np.ndarray | None = None
    sample_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.domains = {name: as_float_matrix(values, name) for name, values in self.domains.items()}
        counts = {name: values.shape[0] for name, values in self.domains.items()}
        if len(set(counts.values())) > 1:
            detail = ", ".join(f"{name} has {n}" for name, n in counts.items())
            raise SharedLatentError(f"domains must have the same number of samples: {detail}")
        n = self.n_samples
        for what, values in (("labels", self.labels), ("sample_ids", self.sample_ids)):
            if values is not None and len(values) != n:
                raise SharedLatentError(f"{what} has {len(values)} entries but the domains have {n} samples")

    @property
    def n_samples(self) -> int:
        return next(iter(self.domains.values())).shape[0] if self.domains else 0

    def subset(self, rows: np.ndarray) -> "Split":
        """The same split restricted to `rows` (indices or a boolean mask)."""
        return Split(
            {name: values[rows] for name, values in self.domains.items()},
            None if self.labels is None else self.labels[rows],
            None if self.sample_ids is None else self.sample_ids[rows],
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

    @property
    def input_sizes(self) -> dict[str, int]:
        return {name: values.shape[1] for name, values in self.train.domains.items()}

    def renderer(self, domain: str) -> Renderer:
        return self.renderers.get(domain, ProfileRenderer())


DatasetLoader = Callable[..., PairedDataset]


def as_float_matrix(values, what: str) -> np.ndarray:
    """A finite float32 (samples x features) array, or a one-line error naming `what`."""
    try:
        array = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise SharedLatentError(f"{what}: values are not numeric ({error})") from None
    if array.ndim != 2:
        raise SharedLatentError(f"{what}: expected a 2-D array (samples x features), got shape {array.shape}")
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise SharedLatentError(f"{what}: contains {bad} NaN or infinite values")
    return array


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row indices with each label's share kept (fixed by `seed`)."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(labels))
    train_rows, test_rows = train_test_split(rows, test_size=test_fraction, random_state=seed, stratify=labels)
    return np.sort(train_rows), np.sort(test_rows)


def split_by_label(domains: Mapping[str, np.ndarray], labels: np.ndarray, test_fraction: float, seed: int) -> tuple[Split, Split]:
    """Stratified train/test Splits of aligned domain arrays."""
    full = Split(dict(domains), labels=np.asarray(labels))
    train_rows, test_rows = stratified_split(full.labels, test_fraction, seed)
    return full.subset(train_rows), full.subset(test_rows)
