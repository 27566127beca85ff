"""Synthetic multi-omics: a seeded low-dimensional factor model behind RNA-like counts, protein-like values and
binary mutation calls, with cell-type labels and an optional share of samples missing a domain.

The generative model, per sample i of cell type c(i):
  z_i ~ N(centre_c, spread^2 I) in `n_factors` dimensions (cell types are well separated clusters);
  rna_i ~ NB(mean = library_i * softmax(a + z_i W), inverse dispersion theta_g), library_i ~ LogNormal;
  protein_i = b + z_i V + N(0, noise^2) (log-scale abundances, as after CLR/log normalisation);
  mutation_i ~ Bernoulli(sigmoid(d + z_i U)) with d negative so calls are sparse.
Nothing here is real data: it exists so tests and examples can check that a model recovers shared structure
that is known to be there, with the right likelihood per domain.
"""

from __future__ import annotations

import numpy as np

from sharedlatent.datasets.base import PairedDataset, Split
from sharedlatent.datasets.options import as_float, as_int
from sharedlatent.datasets.splits import split_samples
from sharedlatent.errors import SharedLatentError

LIKELIHOOD_OF = {
    "rna": "negative_binomial",
    "protein": "gaussian",
    "mutation": "bernoulli",
}  # the matching model choice


def simulate_omics(
    *,
    n_samples: int = 600,
    n_domains: int = 2,
    n_genes: int = 200,
    n_proteins: int = 30,
    n_mutations: int = 60,
    n_factors: int = 4,
    n_types: int = 5,
    fraction_unpaired: float = 0.0,
    seed: int = 0,
) -> Split:
    """All samples as one Split (labels "type_k", sample IDs, presence masks when some are unpaired)."""
    if n_domains not in (2, 3):
        raise SharedLatentError(f"synthetic_omics makes 2 or 3 domains, got n_domains={n_domains}")
    if not 0 <= fraction_unpaired < 1:
        raise SharedLatentError(f"fraction_unpaired must be in [0, 1), got {fraction_unpaired}")
    rng = np.random.default_rng(seed)
    types = rng.integers(0, n_types, size=n_samples)
    centres = rng.normal(0.0, 1.5, size=(n_types, n_factors))
    z = centres[types] + rng.normal(0.0, 0.5, size=(n_samples, n_factors))

    gene_loadings = rng.normal(0.0, 0.6, size=(n_factors, n_genes)) * (rng.random((n_factors, n_genes)) < 0.5)
    gene_base = rng.normal(0.0, 1.0, size=n_genes)
    proportions = softmax(gene_base + z @ gene_loadings)
    library = rng.lognormal(np.log(1500.0), 0.35, size=(n_samples, 1))
    theta = np.exp(rng.uniform(np.log(2.0), np.log(20.0), size=n_genes))
    rna = rng.poisson(rng.gamma(theta, (library * proportions) / theta)).astype(np.float32)

    protein_loadings = rng.normal(0.0, 1.0, size=(n_factors, n_proteins))
    protein = (
        rng.normal(3.0, 1.0, size=n_proteins)
        + 0.5 * z @ protein_loadings
        + rng.normal(0.0, 0.5, size=(n_samples, n_proteins))
    )

    domains = {"rna": rna, "protein": protein.astype(np.float32)}
    if n_domains == 3:
        mutation_loadings = rng.normal(0.0, 1.2, size=(n_factors, n_mutations))
        logits = rng.normal(-2.0, 0.5, size=n_mutations) + z @ mutation_loadings
        domains["mutation"] = (rng.random((n_samples, n_mutations)) < 1 / (1 + np.exp(-logits))).astype(np.float32)

    present = missing_domains(n_samples, list(domains), fraction_unpaired, rng)
    labels = np.array([f"type_{t}" for t in types])
    ids = np.array([f"cell_{i:05d}" for i in range(n_samples)])
    return Split(domains, labels=labels, sample_ids=ids, present=present)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def missing_domains(
    n_samples: int, names: list[str], fraction: float, rng: np.random.Generator
) -> dict[str, np.ndarray] | None:
    """Presence masks: a `fraction` of samples keep only one domain (chosen uniformly; with three domains, half of
    them keep two); None when nothing is missing."""
    if fraction <= 0:
        return None
    present = {name: np.ones(n_samples, dtype=bool) for name in names}
    unpaired = rng.permutation(n_samples)[: int(round(fraction * n_samples))]
    for position, row in enumerate(unpaired):
        keep = {names[rng.integers(len(names))]}
        if len(names) > 2 and position % 2:
            keep.add(names[rng.integers(len(names))])
        for name in names:
            present[name][row] = name in keep
    return present


def load_synthetic_omics(
    *,
    n_samples: int | str = 600,
    n_domains: int | str = 2,
    fraction_unpaired: float | str = 0.0,
    n_genes: int | str = 200,
    n_proteins: int | str = 30,
    n_mutations: int | str = 60,
    n_types: int | str = 5,
    test_fraction: float | str = 0.2,
    seed: int | str = 0,
) -> PairedDataset:
    """Seeded synthetic RNA counts + protein (+ binary mutations), split into train and a fully paired test."""
    split = simulate_omics(
        n_samples=as_int(n_samples, "n_samples", 10),
        n_domains=as_int(n_domains, "n_domains", 2),
        n_genes=as_int(n_genes, "n_genes", 2),
        n_proteins=as_int(n_proteins, "n_proteins", 1),
        n_mutations=as_int(n_mutations, "n_mutations", 1),
        n_types=as_int(n_types, "n_types", 1),
        fraction_unpaired=as_float(fraction_unpaired, "fraction_unpaired"),
        seed=as_int(seed, "seed"),
    )
    test_fraction, seed = as_float(test_fraction, "test_fraction", 0.0, 1.0), as_int(seed, "seed")
    train, test, how = split_samples(split, test_fraction, seed)
    counts = ", ".join(f"{n} {key.replace('_', ' ')}" for key, n in split.pairing_counts().items())
    return PairedDataset(
        name="synthetic_omics",
        train=train,
        test=test,
        feature_names={
            "rna": [f"gene_{i}" for i in range(train.domains["rna"].shape[1])],
            "protein": [f"protein_{i}" for i in range(train.domains["protein"].shape[1])],
            **(
                {"mutation": [f"site_{i}" for i in range(train.domains["mutation"].shape[1])]}
                if "mutation" in train.domains
                else {}
            ),
        },
        description=f"synthetic multi-omics ({', '.join(train.domains)}; {counts}); {how}",
        domain_settings={name: {"likelihood": LIKELIHOOD_OF[name]} for name in train.domains},
    )
