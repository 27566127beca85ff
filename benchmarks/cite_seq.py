"""RNA -> protein on a simulated CITE-seq set: sharedlatent against totalVI, ridge and kNN, scored on hidden cells.

The data (sharedlatent.datasets.simulated_cite_seq): 3,000 cells, 500 genes from 5 cell-type programmes, 20
proteins of which 13 carry type or state signal, ambient protein background of about 17% of counts. 600 cells
have their proteins hidden: every method trains on the 2,400 CITE-seq cells (sharedlatent and totalVI also on the
600 as RNA-only cells) and predicts the 600 cells' proteins from their RNA. Scores on log1p protein counts:
per-protein Pearson over the informative proteins, per-cell Spearman over all proteins, MSE; and training seconds.

totalVI runs when scvi-tools is importable (e.g. a separate venv with scvi-tools and sharedlatent's dependencies:
PYTHONPATH=src /path/to/venv/bin/python benchmarks/cite_seq.py). Prints a table, writes benchmarks/results/cite_seq.json.

Every method runs on `--threads` CPU threads (default 1): on a shared machine torch's default thread count can make
an epoch 20x slower (35-68 s instead of 2 s per sharedlatent epoch with `--threads 2`, beside 3 other jobs).

Usage: PYTHONPATH=src python benchmarks/cite_seq.py [--methods sharedlatent,ridge,knn,totalvi] [--seed 0] [--threads 1]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr, spearmanr

from sharedlatent.datasets.simulated_cite_seq import CiteSeq, as_mudata, simulate_cite_seq

RESULTS = Path(__file__).parent / "results"
ALPHAS = np.logspace(-2, 6, 17)


def log_normalised(counts: np.ndarray) -> np.ndarray:
    """log1p of counts per 10,000, as scanpy's normalize_total + log1p leave X."""
    return np.log1p(counts / counts.sum(axis=1, keepdims=True) * 1e4)


def run_sharedlatent(data: CiteSeq, library: str | None = None) -> tuple[np.ndarray, float]:
    """Default settings through the object API: MuData in (RNA-only cells included), translated AnnData out."""
    import torch

    from sharedlatent import RunConfig, SharedLatentVAE
    from sharedlatent.config import DomainConfig

    config = RunConfig()
    config.train.progress, config.train.threads = False, torch.get_num_threads()
    if library:
        config.model.domains = {"protein": DomainConfig(likelihood="negative_binomial", library=library)}
    mdata = as_mudata(data)
    model = SharedLatentVAE.from_data(mdata, config, layer={"rna": "counts"})
    start = time.perf_counter()
    model.fit(mdata)
    seconds = time.perf_counter() - start
    hidden_rna = mdata.mod["rna"][data.hidden].copy()
    return np.asarray(model.translate(hidden_rna, "rna", "protein").X), seconds


def run_ridge(data: CiteSeq) -> tuple[np.ndarray, float]:
    """RidgeCV from log-normalised RNA to log1p protein, back to counts."""
    from sklearn.linear_model import RidgeCV

    x, y, seen = log_normalised(data.rna), np.log1p(data.protein), ~data.hidden
    start = time.perf_counter()
    ridge = RidgeCV(alphas=ALPHAS).fit(x[seen], y[seen])
    seconds = time.perf_counter() - start
    return np.expm1(np.clip(ridge.predict(x[data.hidden]), 0, None)), seconds


def run_knn(data: CiteSeq) -> tuple[np.ndarray, float]:
    """k-nearest neighbours (k by 5-fold CV) on 50 principal components of log-normalised RNA, mean log1p protein."""
    from sklearn.decomposition import PCA
    from sklearn.model_selection import GridSearchCV
    from sklearn.neighbors import KNeighborsRegressor

    x, y, seen = log_normalised(data.rna), np.log1p(data.protein), ~data.hidden
    start = time.perf_counter()
    pca = PCA(50, random_state=0).fit(x[seen])  # unsupervised, on the training cells only
    search = GridSearchCV(KNeighborsRegressor(), {"n_neighbors": [5, 15, 30, 60]}, cv=5)
    search.fit(pca.transform(x[seen]), y[seen])
    seconds = time.perf_counter() - start
    return np.expm1(search.predict(pca.transform(x[data.hidden]))), seconds


def run_totalvi(data: CiteSeq) -> tuple[np.ndarray, float]:
    """totalVI with scvi-tools' defaults; the hidden cells are a batch whose proteins are all zero, which totalVI
    reads as not measured, and are decoded as if from the CITE-seq batch (expected counts, background included)."""
    import anndata
    import pandas as pd
    import scvi

    adata = anndata.AnnData(X=data.rna.copy(), obs=pd.DataFrame(index=data.cell_names))
    adata.var_names = data.gene_names
    proteins = data.protein.copy()
    proteins[data.hidden] = 0
    adata.obsm["protein_expression"] = pd.DataFrame(proteins, index=adata.obs_names, columns=data.protein_names)
    adata.obs["batch"] = np.where(data.hidden, "rna_only", "cite")
    scvi.model.TOTALVI.setup_anndata(adata, batch_key="batch", protein_expression_obsm_key="protein_expression")
    scvi.settings.seed = 0
    scvi.settings.num_threads = __import__("torch").get_num_threads()
    model = scvi.model.TOTALVI(adata)
    start = time.perf_counter()
    model.train()
    seconds = time.perf_counter() - start
    _, protein = model.get_normalized_expression(
        indices=np.flatnonzero(data.hidden),
        n_samples=25,
        transform_batch="cite",
        include_protein_background=True,
        sample_protein_mixing=False,
        return_mean=True,
    )
    return np.asarray(protein), seconds


def scores(truth: np.ndarray, predicted: np.ndarray, informative: np.ndarray) -> dict[str, float]:
    """Per-protein Pearson (informative proteins), per-cell Spearman, MSE and mean error; all on log1p counts."""
    truth, predicted = np.log1p(truth), np.log1p(np.clip(predicted, 0, None))
    proteins = [pearsonr(truth[:, j], predicted[:, j])[0] for j in np.flatnonzero(informative)]
    cells = [spearmanr(truth[i], predicted[i])[0] for i in range(len(truth))]
    return {
        "protein_pearson": float(np.nanmean(proteins)),
        "cell_spearman": float(np.nanmean(cells)),
        "mse_log1p": float(np.mean((truth - predicted) ** 2)),
        "bias_log1p": float(np.mean(predicted - truth)),  # an offset here is a scale error, not a ranking one
    }


METHODS: dict[str, tuple[str, Callable[[CiteSeq], tuple[np.ndarray, float]]]] = {
    "sharedlatent": ("sharedlatent (defaults: NB / NB, outer pairing)", run_sharedlatent),
    "sharedlatent_learned": (
        "sharedlatent (protein library = learned)",
        lambda data: run_sharedlatent(data, "learned"),
    ),
    "ridge": ("ridge (RidgeCV on log-normalised RNA)", run_ridge),
    "knn": ("kNN (k by CV on 50 PCs)", run_knn),
    "totalvi": ("totalVI (scvi-tools defaults)", run_totalvi),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated: " + ", ".join(METHODS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "cite_seq.json")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch and BLAS, every method")
    args = parser.parse_args()
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    data = simulate_cite_seq(seed=args.seed)
    print(
        f"simulated CITE-seq: {data.rna.shape[0]} cells, {data.rna.shape[1]} genes, {data.protein.shape[1]} proteins "
        f"({int(data.informative.sum())} informative), ambient {data.ambient_share:.1%} of protein counts, "
        f"{int(data.hidden.sum())} cells with proteins hidden"
    )
    truth = data.protein[data.hidden]
    rows = {}
    for key in args.methods.split(","):
        label, method = METHODS[key]
        if key == "totalvi" and importlib.util.find_spec("scvi") is None:
            rows[key] = {"method": label, "not_measured": "scvi-tools is not importable in this environment"}
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            predicted, seconds = method(data)
        rows[key] = {"method": label, **scores(truth, predicted, data.informative), "train_seconds": seconds}
        print(f"  {label}: {rows[key]}", flush=True)
    print_table(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {"seed": args.seed, "threads": args.threads, "machine": platform.platform(), "rows": rows}
    record["ambient_share"] = data.ambient_share
    args.out.write_text(json.dumps(record, indent=2))
    print(f"wrote {args.out}")


def print_table(rows: dict[str, dict]) -> None:
    """A markdown table, one row per method; unmeasured methods say why."""
    print("\n| method | per-protein Pearson (informative) | per-cell Spearman | MSE log1p | train s |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows.values():
        if "not_measured" in row:
            print(f"| {row['method']} | not measured: {row['not_measured']} | | | |")
            continue
        print(
            f"| {row['method']} | {row['protein_pearson']:.3f} | {row['cell_spearman']:.3f} | "
            f"{row['mse_log1p']:.3f} | {row['train_seconds']:.1f} |"
        )


if __name__ == "__main__":
    main()
