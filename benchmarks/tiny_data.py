"""Benchmark of the default settings on tiny training sets (16-60 rows), where the epoch count is chosen by k-fold CV.

Each task trains the library's default model (through the Python API, settings chosen from the data) on a few
dozen rows, translates held-out rows both ways and reports standardised test MSE as a fraction of the mean
predictor's (1.0 = learned nothing), with cross-validated ridge on the same rows beside it. Seeds change both the
data draw (or split) and the training seed. Prints a table and writes benchmarks/results/tiny_data.json.

Tasks: small25 / small40 (25 / 40 rows, 3 -> 4 features of 2 factors on natural scales, 300 test rows), lowrank30 /
lowrank60 (3 factors, 120 -> 21 features), covid60 (60 serology samples, S -> N), digits60 (60 sklearn digits, top
-> bottom half, 300 test rows), linnerud (5-fold out-of-fold over the 20 samples; the ratios of the 4-row folds are
averaged; only the first three seeds given, as its 5 folds already train 5 models per seed). covid60 tests on all
378 other samples.

Usage: python benchmarks/tiny_data.py [TASK ...] [--seeds 0,1,2,3,4] [--set KEY=VALUE ...] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.linear_model import RidgeCV

from real_tasks import covid, digits, linnerud
from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import RunConfig, apply_overrides
from sharedlatent.errors import SharedLatentError

RESULTS = Path(__file__).parent / "results"
TEST_ROWS = 300


def factor_views(n: int, seed: int, sizes: tuple[int, int], factors: int, noise: float) -> tuple[np.ndarray, ...]:
    """Two views of `factors` shared Gaussian factors through random linear maps, with Gaussian noise."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(n, factors))
    return tuple(shared @ rng.normal(size=(factors, size)) + noise * rng.normal(size=(n, size)) for size in sizes)


def small_pair(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """3 -> 4 features of 2 factors, put on natural scales (offsets and spreads of real measurements)."""
    left, right = factor_views(n, 100 + seed, (3, 4), 2, 0.3)
    return left * [10, 2, 50] + [100, 5, 300], right * [1, 30, 4, 7] + [0, 200, 20, 70]


def standardised_ratio(prediction: np.ndarray, truth: np.ndarray, train_truth: np.ndarray) -> float:
    """Test MSE over the mean predictor's, both on features standardised by the training rows."""
    centre, spread = train_truth.mean(axis=0), train_truth.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    error = np.mean(((prediction - truth) / spread) ** 2)
    return float(error / np.mean(((centre - truth) / spread) ** 2))


def ridge_prediction(source: np.ndarray, target: np.ndarray, test_source: np.ndarray) -> np.ndarray:
    """Ridge on standardised inputs, its penalty chosen by leave-one-out CV."""
    centre, spread = source.mean(axis=0), source.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    ridge = RidgeCV(alphas=np.logspace(-3, 4, 15)).fit((source - centre) / spread, target)
    return ridge.predict((test_source - centre) / spread)


def score_split(
    views: tuple[np.ndarray, np.ndarray], train: np.ndarray, test: np.ndarray, config: RunConfig
) -> dict[str, list[float]]:
    """Model and ridge ratios to the mean, [left->right, right->left], for one train/test split."""
    left, right = (np.asarray(view, dtype=np.float32) for view in views)
    model = SharedLatentVAE({"left": left.shape[1], "right": right.shape[1]}, config)
    model.fit({"left": left[train], "right": right[train]})
    scores: dict[str, list[float]] = {"model": [], "ridge": []}
    for source, target, x, y in (("left", "right", left, right), ("right", "left", right, left)):
        prediction = model.translate(x[test], source, target)
        scores["model"].append(standardised_ratio(prediction, y[test], y[train]))
        scores["ridge"].append(standardised_ratio(ridge_prediction(x[train], y[train], x[test]), y[test], y[train]))
    return scores


def drawn(make: Callable[[int, int], tuple], n: int) -> Callable[[int, RunConfig], dict]:
    """A task that draws n training rows plus TEST_ROWS test rows from a generator, per seed."""
    return lambda seed, config: score_split(
        make(n + TEST_ROWS, seed), np.arange(n), np.arange(n, n + TEST_ROWS), config
    )


def subsampled(load: Callable[[], tuple], n: int, test_rows: int | None = None) -> Callable[[int, RunConfig], dict]:
    """A task that trains on n seeded rows of a real dataset and tests on (up to test_rows of) the rest."""

    def task(seed: int, config: RunConfig) -> dict:
        left, right, _ = load()
        order = np.random.default_rng(seed).permutation(len(left))
        return score_split((left, right), order[:n], order[n:][:test_rows], config)

    return task


def linnerud_folds(seed: int, config: RunConfig) -> dict:
    """5-fold out-of-fold over Linnerud's 20 samples: each fold trains on 16, tests on 4; ratios averaged."""
    left, right, _ = linnerud()
    folds = np.array_split(np.random.default_rng(seed).permutation(len(left)), 5)
    scores = [score_split((left, right), np.setdiff1d(np.arange(len(left)), fold), fold, config) for fold in folds]
    return {key: list(np.mean([score[key] for score in scores], axis=0)) for key in scores[0]}


TASKS = {
    "small25": drawn(small_pair, 25),
    "small40": drawn(small_pair, 40),
    "lowrank30": drawn(lambda n, seed: factor_views(n, seed, (120, 21), 3, 0.5), 30),
    "lowrank60": drawn(lambda n, seed: factor_views(n, seed, (120, 21), 3, 0.5), 60),
    "covid60": subsampled(covid, 60),
    "digits60": subsampled(digits, 60, TEST_ROWS),
    "linnerud": linnerud_folds,
}
LINNERUD_SEEDS = 3  # its 5 folds already train 5 models per seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", help=f"any of {', '.join(TASKS)} (default: all)")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", type=Path, default=RESULTS / "tiny_data.json")
    args = parser.parse_args()
    unknown = sorted(set(args.tasks) - set(TASKS))
    if unknown:
        parser.error(f"unknown tasks {unknown}; choose from {list(TASKS)}")
    try:
        seeds = [int(seed) for seed in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds takes comma-separated integers, got {args.seeds!r}")
    malformed = [item for item in args.overrides if "=" not in item]
    if malformed:
        parser.error(f"--set takes KEY=VALUE, got {malformed}")
    overrides = dict(item.split("=", 1) for item in args.overrides)
    try:
        apply_overrides(RunConfig(), overrides)
    except SharedLatentError as error:
        parser.error(str(error))
    results = []
    print(f"{'task':10s} {'direction':5s} {'model/mean per seed':40s} {'mean':>6s} {'ridge':>6s}  seconds")
    for name in args.tasks or list(TASKS):
        started = time.perf_counter()
        runs = []
        task_seeds = seeds[:LINNERUD_SEEDS] if name == "linnerud" else seeds
        for seed in task_seeds:
            config = apply_overrides(RunConfig(), {"train.seed": str(seed), "train.progress": "false", **overrides})
            runs.append(TASKS[name](seed, config))
        seconds = time.perf_counter() - started
        for index, direction in enumerate(("L->R", "R->L")):
            model = [run["model"][index] for run in runs]
            ridge = [run["ridge"][index] for run in runs]
            per_seed = " ".join(f"{value:.3f}" for value in model)
            print(
                f"{name:10s} {direction:5s} {per_seed:40s} {np.mean(model):6.3f} {np.mean(ridge):6.3f}  {seconds:.0f}"
            )
            results.append(
                {
                    "task": name,
                    "direction": direction,
                    "seeds": task_seeds,
                    "model": model,
                    "ridge": ridge,
                    "seconds": seconds,
                }
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"seeds": seeds, "overrides": overrides, "results": results}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
