"""Translation quality against training time on the embedded digits task: the original's schedule and ours.

Prints a table and writes JSON: for each setting, the test-split MSE of left->right and right->left
translation, as a multiple of predicting the training mean, next to reconstruction MSE, training seconds (inside
fit: no process start, no imports) and sample-passes per second (training rows x phase epochs / seconds).

    .venv/bin/python benchmarks/digits_quality.py [--seeds 0,1,2] [--out benchmarks/results/digits_quality.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
from pathlib import Path

import numpy as np
import torch

from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import RunConfig, original_config
from sharedlatent.datasets import load_dataset
from sharedlatent.training.holdout import validation_size


def settings(seeds: list[int]) -> list[tuple[str, RunConfig]]:
    """(label, config) pairs: the original as it ran at its three measured budgets, real freezing, our default."""
    runs = [(f"original schedule as it ran, {e} epochs", original_config(epochs=e)) for e in (20, 50, 200)]
    runs.append(("original schedule, phases really frozen, 50 epochs", original_config(epochs=50, freeze_phases=True)))
    for epochs in (25, 50, 100):
        config = RunConfig()
        config.train.epochs = epochs
        runs.append((f"joint schedule (default), at most {epochs} epochs", config))
    for seed in seeds:
        config = RunConfig()
        config.train.seed = seed
        runs.append((f"joint schedule (default), seed {seed}", config))
    return runs


def measure(label: str, config: RunConfig, dataset) -> dict:
    config.train = dataclasses.replace(config.train, progress=False)
    model = SharedLatentVAE(dataset.input_sizes, config)
    history = model.fit(dataset.train.domains)
    test, train = dataset.test.domains, dataset.train.domains
    n_fit = dataset.train.n_samples - validation_size(dataset.train.n_samples, config.train.validation_fraction)
    row = {
        "setting": label,
        "seconds": history.seconds,
        "sample_passes_per_second": n_fit * len(history.records) / history.seconds,
        "epochs_run": len({(r.stage, r.epoch) for r in history.records}),
    }
    for source, target in (("left", "right"), ("right", "left")):
        mse = float(np.mean((model.translate(test[source], source, target) - test[target]) ** 2))
        row[f"{source}->{target}"] = mse
        row[f"{source}->{target} x mean"] = mse / float(np.mean((train[target].mean(axis=0) - test[target]) ** 2))
    for name in ("left", "right"):
        row[f"reconstruction {name}"] = float(np.mean((model.reconstruct(test[name], name) - test[name]) ** 2))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2", help="seeds of the default setting")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "digits_quality.json")
    args = parser.parse_args()
    dataset = load_dataset("digits")
    rows = [measure(label, config, dataset) for label, config in settings([int(s) for s in args.seeds.split(",")])]
    print(
        f"{'setting':<50} {'epochs':>6} {'seconds':>8} {'L->R':>8} {'x mean':>7} {'R->L':>8} {'x mean':>7} {'recon L':>8} {'passes/s':>9}"
    )
    for row in rows:
        print(
            f"{row['setting']:<50} {row['epochs_run']:>6} {row['seconds']:>8.1f} {row['left->right']:>8.4f} "
            f"{row['left->right x mean']:>7.2f} {row['right->left']:>8.4f} {row['right->left x mean']:>7.2f} {row['reconstruction left']:>8.4f} {row['sample_passes_per_second']:>9.0f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"torch": torch.__version__, "python": platform.python_version(), "cpus": torch.get_num_threads()}
    args.out.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
