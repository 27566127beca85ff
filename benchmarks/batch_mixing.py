"""Covariates on simulated cells with a known effect: does the latent drop it and keep the cell types apart?

For seeds 0, 1, 2 it fits the default model (settings chosen from the data) on
`sharedlatent.datasets.synthetic_batches.shifted_batches` four ways: without batch labels (KL averaged over the
mini-batch, the default; and summed, the ELBO), and with batch labels (KL averaged; and the default with labels,
which sums it). It scores the joint latent of all cells: batch mixing (evaluation/mixing.py; 1 is perfect) and
kNN cell-type accuracy (first half -> second half). Then, on `covariate_shift` (one N(0, 1) continuous
covariate moving every feature linearly), the default model without and with `covariates=`: how well the latent
predicts the covariate (evaluation/mixing.py covariate_correlation; 0 is none) and the same accuracy. Prints
tables and writes JSON.

    .venv/bin/python benchmarks/batch_mixing.py [--seeds 0,1,2] [--out benchmarks/results/batch_mixing.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import RunConfig
from sharedlatent.datasets.synthetic_batches import covariate_shift, shifted_batches
from sharedlatent.evaluation.metrics import knn_label_transfer_accuracy
from sharedlatent.evaluation.mixing import batch_mixing_entropy, covariate_correlation

SETTINGS = {  # label -> (give batch labels, train.kl_reduction)
    "no batch labels (default)": (False, "auto"),
    "no batch labels, KL summed": (False, "sum"),
    "batch labels, KL averaged": (True, "mean"),
    "batch labels (default: KL summed)": (True, "auto"),
}


def score(seed: int, with_batch: bool, kl_reduction: str) -> dict[str, float]:
    """Fit one model and score its joint latent of every cell."""
    arrays, types, labels = shifted_batches(seed=seed)
    config = RunConfig()
    config.train.seed, config.train.progress, config.train.kl_reduction = seed, False, kl_reduction
    vae = SharedLatentVAE({name: values.shape[1] for name, values in arrays.items()}, config)
    vae.fit(arrays, batch=labels if with_batch else None)
    latent = vae.encode_joint(arrays)
    half = len(latent) // 2
    accuracy = knn_label_transfer_accuracy(latent[:half], types[:half], latent[half:], types[half:])
    return {"batch_mixing": float(batch_mixing_entropy(latent, labels)), "cell_type_accuracy": float(accuracy)}


def score_continuous(seed: int, given: bool) -> dict[str, float]:
    """Fit the default model on `covariate_shift`, with or without the covariate, and score its joint latent."""
    arrays, types, covariate = covariate_shift(seed=seed)
    config = RunConfig()
    config.train.seed, config.train.progress = seed, False
    vae = SharedLatentVAE({name: values.shape[1] for name, values in arrays.items()}, config)
    vae.fit(arrays, covariates=covariate[:, None] if given else None)
    latent = vae.encode_joint(arrays)
    half = len(latent) // 2
    accuracy = knn_label_transfer_accuracy(latent[:half], types[:half], latent[half:], types[half:])
    return {"covariate_correlation": covariate_correlation(latent, covariate), "cell_type_accuracy": float(accuracy)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "batch_mixing.json")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    rows = []
    for label, (with_batch, kl_reduction) in SETTINGS.items():
        scores = [score(seed, with_batch, kl_reduction) for seed in seeds]
        rows.append({"setting": label, "seeds": seeds, "scores": scores})
        mixing = ", ".join(f"{s['batch_mixing']:.3f}" for s in scores)
        accuracy = ", ".join(f"{s['cell_type_accuracy']:.2f}" for s in scores)
        print(f"{label:<36} mixing {mixing:<22} cell-type accuracy {accuracy}", flush=True)
    continuous = []
    for label, given in (("no covariate given", False), ("covariate given (default: KL summed)", True)):
        scores = [score_continuous(seed, given) for seed in seeds]
        continuous.append({"setting": label, "seeds": seeds, "scores": scores})
        r = ", ".join(f"{s['covariate_correlation']:.3f}" for s in scores)
        accuracy = ", ".join(f"{s['cell_type_accuracy']:.2f}" for s in scores)
        print(f"{label:<36} latent r  {r:<22} cell-type accuracy {accuracy}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "continuous": continuous}, indent=1) + "\n")
    print(
        f"wrote {args.out}; mean mixing per setting: "
        + ", ".join(f"{np.mean([s['batch_mixing'] for s in row['scores']]):.3f}" for row in rows)
    )


if __name__ == "__main__":
    main()
