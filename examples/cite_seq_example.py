"""Worked example: a simulated CITE-seq MuData -> sharedlatent -> obsm["X_sharedlatent"] -> scanpy UMAP -> RNA
translated into protein for the cells whose proteins were never measured, cell types carried over.

Offline: the data come from sharedlatent.datasets.simulated_cite_seq. scanpy (the `bio` extra) draws the UMAP;
without it the script stops after the translation. Writes the figure to --out (default cite_seq_example.png in
the current folder; the README's copy was made with --out docs/cite_seq_example.png).

    PYTHONPATH=src python examples/cite_seq_example.py [--out cite_seq_example.png]
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np

from sharedlatent import RunConfig, SharedLatentVAE
from sharedlatent.datasets.simulated_cite_seq import CiteSeq, as_mudata, simulate_cite_seq

FIGURE = Path("cite_seq_example.png")  # in the current folder: running the example never rewrites docs/


def build(n_cells: int = 3000, n_hidden: int = 600, seed: int = 0, **sizes: int) -> tuple[CiteSeq, object]:
    """The simulated counts and their MuData: rna (counts layer, log-normalised X, obs cell_type), protein (the
    measured cells only)."""
    data = simulate_cite_seq(n_cells=n_cells, n_hidden=n_hidden, seed=seed, **sizes)
    return data, as_mudata(data)


def train(mdata, config: RunConfig | None = None) -> SharedLatentVAE:
    """A model registered on the MuData (RNA read from layers["counts"]) and fitted on every cell: the cells
    without proteins train RNA's own paths. Default settings unless `config` is given."""
    config = config or RunConfig()
    config.train.progress = False
    model = SharedLatentVAE.from_data(mdata, config, layer={"rna": "counts"})
    model.fit(mdata)
    return model


def annotate(model: SharedLatentVAE, mdata):
    """Latents into mdata.obsm and the RNA modality's obsm; protein translated from every cell's RNA, as an
    AnnData that keeps rna's obs (cell_type) and flags the cells whose protein was never measured."""
    model.write_latent(mdata)
    mdata.mod["rna"].obsm["X_sharedlatent"] = mdata.obsm["X_sharedlatent"]  # rna holds every cell, same order
    return model.translate(mdata, "rna", "protein")


def embed(rna) -> None:
    """scanpy's neighbours graph and UMAP on the shared latent space (rna.obsm["X_umap"])."""
    import scanpy as sc

    sc.pp.neighbors(rna, use_rep="X_sharedlatent", random_state=0)
    sc.tl.umap(rna, random_state=0)


def draw(rna, protein, data: CiteSeq, path: Path = FIGURE) -> Path:
    """Three panels: UMAP by cell type; UMAP by one translated protein; measured vs translated for hidden cells."""
    from matplotlib.figure import Figure

    marker = int(np.argmax(np.log1p(data.protein).var(axis=0)))  # the protein that varies most
    name = data.protein_names[marker]
    umap = rna.obsm["X_umap"]
    predicted = np.log1p(np.asarray(protein[rna.obs_names].X)[:, marker])
    figure = Figure(figsize=(15, 4.6), layout="constrained")
    left, middle, right = figure.subplots(1, 3)
    for index, kind in enumerate(sorted(rna.obs["cell_type"].unique())):
        chosen = (rna.obs["cell_type"] == kind).to_numpy()
        left.scatter(*umap[chosen].T, s=3, color=f"C{index}", label=kind, linewidths=0)
    left.legend(markerscale=4, fontsize=8, frameon=False)
    left.set_title("UMAP of X_sharedlatent, by cell type")
    points = middle.scatter(*umap.T, c=predicted, s=3, cmap="viridis", linewidths=0)
    figure.colorbar(points, ax=middle, label=f"log1p {name}, translated from RNA")
    middle.set_title(f"{name} translated from RNA, every cell")
    hidden = protein.obs["sharedlatent_imputed"].to_numpy()
    truth = np.log1p(data.protein[np.asarray(data.hidden)][:, marker])
    guess = np.log1p(np.asarray(protein.X)[hidden][:, marker])
    right.scatter(truth, guess, s=4, alpha=0.5, linewidths=0)
    low, high = min(truth.min(), guess.min()), max(truth.max(), guess.max())
    right.plot([low, high], [low, high], color="grey", linewidth=0.8)
    right.set_xlabel(f"measured log1p {name} (held out)")
    right.set_ylabel("translated from RNA")
    right.set_title(f"{int(hidden.sum())} cells whose proteins were hidden: r = {np.corrcoef(truth, guess)[0, 1]:.2f}")
    for ax in (left, middle):
        ax.set_xticks([])
        ax.set_yticks([])
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=70)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=FIGURE, help="where the figure goes (PNG)")
    out = parser.parse_args().out
    data, mdata = build()
    model = train(mdata)
    protein = annotate(model, mdata)
    print(mdata.obsm["X_sharedlatent"].shape, protein.shape, int(protein.obs["sharedlatent_imputed"].sum()))
    print(protein.obs[["cell_type", "sharedlatent_imputed"]].head(3))
    if importlib.util.find_spec("scanpy") is None:
        print("scanpy is not installed (pip install 'sharedlatent[bio]'): no UMAP")
        return
    rna = mdata.mod["rna"]
    embed(rna)
    print("wrote", draw(rna, protein, data, out))


if __name__ == "__main__":
    main()
