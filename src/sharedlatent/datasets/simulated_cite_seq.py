"""A simulated CITE-seq experiment: RNA and surface-protein counts of the same cells, some with proteins hidden.

The generative model, per cell i of type c(i) with a continuous activation state s_i ~ N(0, 1):
  rna_i ~ NB(mean = library_i * softmax(base + programme_c + s_i * activation), theta_g): each cell type turns
    up its own block of genes, and a shared activation programme varies within types;
  protein_i = foreground + ambient: foreground ~ NB(mean = depth_i * softmax(p_base + signal_c + s_i * p_act))
    where only the informative proteins carry type or state signal; ambient ~ Poisson(ambient_i * a), a a fixed
    ambient profile and ambient_i scaled so that it is about `ambient_fraction` of the cell's protein counts.
Nothing here is real data; numpy only. The benchmark (benchmarks/cite_seq.py) and the README's worked example
(examples/cite_seq_example.py) build their AnnData / MuData from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sharedlatent.datasets.synthetic_omics import softmax
from sharedlatent.errors import SharedLatentError


@dataclass
class CiteSeq:
    """Simulated counts with their truth: cell types, which proteins carry signal, which cells hide proteins."""

    rna: np.ndarray  # cells x genes, raw counts
    protein: np.ndarray  # cells x proteins, raw counts (ambient included)
    cell_types: np.ndarray  # "type_k" per cell
    informative: np.ndarray  # bool per protein: carries cell-type or state signal
    hidden: np.ndarray  # bool per cell: protein not given to training (RNA-only cells)
    ambient_share: float  # measured share of protein counts that are ambient

    @property
    def gene_names(self) -> list[str]:
        return [f"gene_{i}" for i in range(self.rna.shape[1])]

    @property
    def protein_names(self) -> list[str]:
        return [f"CD{i + 1}" for i in range(self.protein.shape[1])]

    @property
    def cell_names(self) -> list[str]:
        return [f"cell_{i:05d}" for i in range(self.rna.shape[0])]


def simulate_cite_seq(
    *,
    n_cells: int = 3000,
    n_genes: int = 500,
    n_types: int = 5,
    n_proteins: int = 20,
    n_informative: int = 13,
    ambient_fraction: float = 0.17,
    n_hidden: int = 600,
    seed: int = 0,
) -> CiteSeq:
    """Seeded CITE-seq-like counts; the last of a random order of `n_hidden` cells are marked hidden."""
    if not 0 <= n_hidden < n_cells or not 0 < n_informative <= n_proteins or not 0 <= ambient_fraction < 1:
        raise SharedLatentError("need 0 <= n_hidden < n_cells, 0 < n_informative <= n_proteins, 0 <= ambient < 1")
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(n_types, 4.0))
    types = rng.choice(n_types, size=n_cells, p=weights)
    state = rng.normal(size=(n_cells, 1))

    block = n_genes // (2 * n_types)  # each type's programme: its own block of genes, the rest of the genes shared
    programmes = np.zeros((n_types, n_genes))
    for t in range(n_types):
        programmes[t, t * block : (t + 1) * block] = rng.uniform(1.0, 2.5, size=block)
    programmes += rng.normal(0.0, 0.3, size=(n_types, n_genes))
    activation = rng.normal(0.0, 0.5, size=(1, n_genes)) * (rng.random((1, n_genes)) < 0.3)
    gene_base = rng.normal(0.0, 1.2, size=n_genes)
    library = rng.lognormal(np.log(2500.0), 0.4, size=(n_cells, 1))
    rna = negative_binomial(rng, library * softmax(gene_base + programmes[types] + state * activation), 4.0)

    signal = np.zeros((n_types, n_proteins))
    p_act = np.zeros((1, n_proteins))
    for p in range(n_informative):
        high = rng.choice(n_types, size=rng.integers(1, 3), replace=False)  # high in one or two cell types
        signal[high, p] = rng.uniform(1.5, 3.0, size=len(high))
        p_act[0, p] = rng.normal(0.0, 0.6)
    depth = rng.lognormal(np.log(1500.0), 0.5, size=(n_cells, 1))
    foreground = negative_binomial(
        rng, depth * softmax(rng.normal(0.0, 0.5, n_proteins) + signal[types] + state * p_act), 8.0
    )
    profile = rng.dirichlet(np.full(n_proteins, 5.0))
    scale = ambient_fraction / (1 - ambient_fraction) * foreground.sum(axis=1, keepdims=True)
    ambient = rng.poisson(scale * rng.lognormal(0.0, 0.3, size=(n_cells, 1)) * profile).astype(np.float32)
    protein = foreground + ambient

    hidden = np.zeros(n_cells, dtype=bool)
    hidden[rng.permutation(n_cells)[:n_hidden]] = True
    informative = np.arange(n_proteins) < n_informative
    share = float(ambient.sum() / protein.sum())
    labels = np.array([f"type_{t}" for t in types])
    return CiteSeq(rna, protein, labels, informative, hidden, share)


def negative_binomial(rng: np.random.Generator, mean: np.ndarray, theta: float) -> np.ndarray:
    """NB counts of the given means and inverse dispersion, as a Gamma-Poisson mixture (float32)."""
    return rng.poisson(rng.gamma(theta, mean / theta)).astype(np.float32)


def as_mudata(data: CiteSeq, hide: bool = True):
    """A MuData: "rna" (raw counts in layers["counts"], log-normalised X, cell_type in obs) and "protein" (counts),
    the hidden cells left out of "protein" when `hide`. Needs the `bio` extra (anndata, mudata, pandas)."""
    import warnings

    import anndata
    import mudata
    import pandas as pd

    cells = pd.Index(data.cell_names)
    obs = pd.DataFrame({"cell_type": pd.Categorical(data.cell_types)}, index=cells)
    normalised = np.log1p(data.rna / data.rna.sum(axis=1, keepdims=True) * 1e4).astype(np.float32)
    rna = anndata.AnnData(X=normalised, obs=obs, layers={"counts": data.rna})
    rna.var_names = data.gene_names
    shown = ~data.hidden if hide else np.ones(len(cells), dtype=bool)
    protein = anndata.AnnData(X=data.protein[shown], obs=pd.DataFrame(index=cells[shown]))
    protein.var_names = data.protein_names
    with warnings.catch_warnings():  # mudata 0.3 announces a change of its obs pulling; nothing here depends on it
        warnings.simplefilter("ignore", FutureWarning)
        mdata = mudata.MuData({"rna": rna, "protein": protein})
    mdata.obs["cell_type"] = obs["cell_type"].reindex(mdata.obs_names)
    return mdata
