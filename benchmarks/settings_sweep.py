"""Setting variants side by side on one task, over seeds: what a change to the defaults buys and costs.

Each VARIANT is `label:key=value;key=value` with config keys as `--set` takes them (`label:` alone is the
default). Tasks:
  digits   the embedded digits task and its own split; raw test MSE of left->right and right->left, epochs run
           and CPU seconds of fit;
  omics, mnist, covid, linnerud   the benchmarks/real_tasks.py data, split 80/20 (seed 0); standardised test MSE
           (by the training target's std) both ways, next to cross-validated ridge on the same rows (log1p
           input for the omics counts).
Prints a row per variant and writes JSON.

    .venv/bin/python benchmarks/settings_sweep.py digits "default:" "fastdecay:train.lr_decay_patience=2;train.patience=8"
    .venv/bin/python benchmarks/settings_sweep.py omics "default:" "latent8:model.latent_size=8" --seeds 0
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import RunConfig, apply_overrides
from sharedlatent.datasets import load_dataset

sys.path.insert(0, str(Path(__file__).parent))
import real_tasks  # noqa: E402  (the benchmark's own data sources)

DIRECTIONS = (("left", "right"), ("right", "left"))


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    """`label:key=value;...` into the label and its overrides."""
    label, _, pairs = text.partition(":")
    overrides = dict(pair.split("=", 1) for pair in pairs.split(";") if pair)
    return label, overrides


def task_split(task: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], str]:
    """(train, test) arrays per domain, and how errors are scored: "raw" (digits) or "standardised"."""
    if task == "digits":
        dataset = load_dataset("digits")
        return dataset.train.domains, dataset.test.domains, "raw"
    left, right, _ = real_tasks.TASKS[task]()
    data = {"left": left.astype(np.float32), "right": right.astype(np.float32)}
    order = np.random.default_rng(0).permutation(len(left))
    test, train = order[: len(left) // 5], order[len(left) // 5 :]
    return {k: v[train] for k, v in data.items()}, {k: v[test] for k, v in data.items()}, "standardised"


def error(prediction: np.ndarray, truth: np.ndarray, reference: np.ndarray, scoring: str) -> float:
    """Test MSE, raw or per feature standardised by the training target's std."""
    if scoring == "raw":
        return float(np.mean((prediction - truth) ** 2))
    spread = reference.std(axis=0)
    return float(np.mean(((prediction - truth) / np.where(spread > 0, spread, 1)) ** 2))


def ridge_errors(task: str, train: dict, test: dict, scoring: str) -> dict[str, float]:
    """Cross-validated ridge on the same rows, both ways (log1p of the omics counts as its input)."""
    from sklearn.linear_model import RidgeCV

    def inputs(values: np.ndarray, name: str) -> np.ndarray:
        return np.log1p(values) if task == "omics" and name == "left" else values

    scores = {}
    for source, target in DIRECTIONS:
        ridge = RidgeCV(alphas=np.logspace(-3, 4, 15)).fit(inputs(train[source], source), train[target])
        prediction = ridge.predict(inputs(test[source], source))
        scores[f"{source}->{target}"] = error(prediction, test[target], train[target], scoring)
    return scores


def run_variant(overrides: dict[str, str], seed: int, train: dict, test: dict, scoring: str) -> dict:
    """Fit one variant on one seed and score it."""
    config = apply_overrides(RunConfig(), {**overrides, "train.seed": str(seed), "train.progress": "false"})
    model = SharedLatentVAE({name: values.shape[1] for name, values in train.items()}, config)
    started = time.process_time()
    history = model.fit(train)
    row = {"seed": seed, "epochs": len(history.records), "cpu_seconds": time.process_time() - started}
    for source, target in DIRECTIONS:
        prediction = model.translate(test[source], source, target)
        row[f"{source}->{target}"] = error(prediction, test[target], train[target], scoring)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=["digits", *real_tasks.TASKS])
    parser.add_argument("variants", nargs="+", help="label:key=value;key=value (label: alone is the default)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "settings_sweep.json")
    args = parser.parse_args()
    train, test, scoring = task_split(args.task)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    result = {"task": args.task, "scoring": scoring, "variants": []}
    if scoring == "standardised":
        result["ridge"] = ridge_errors(args.task, train, test, scoring)
        print("ridge", " ".join(f"{key} {value:.4f}" for key, value in result["ridge"].items()), flush=True)
    for text in args.variants:
        label, overrides = parse_variant(text)
        rows = [run_variant(overrides, seed, train, test, scoring) for seed in seeds]
        result["variants"].append({"label": label, "overrides": overrides, "rows": rows})
        cells = " ".join(
            f"{key} {[round(row[key], 4 if scoring != 'raw' else 5) for row in rows]}"
            for key in ("left->right", "right->left")
        )
        print(f"{label:<14} epochs {[row['epochs'] for row in rows]} {cells}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
