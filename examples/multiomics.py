"""Worked example: per-domain likelihoods, partially paired samples and three domains, against simple baselines.

Two datasets that need nothing downloaded:
  * synthetic_omics: RNA counts (negative binomial), protein values (Gaussian) and binary mutation calls
    (Bernoulli) from one latent factor model, with a share of samples missing one or two domains;
  * linnerud: scikit-learn's 20 men, exercise vs physiological measurements (Gaussian on standardised
    values), scored by 5-fold cross-validation because 20 samples make any single test split tiny.
For every direction source -> target the shared latent model is compared with predicting the training mean
and with ridge regression (RidgeCV) from source to target fitted on the same training samples (the paired
ones). Scores come from sharedlatent.evaluation.omics.domain_metrics, chosen by the target's likelihood.

    python examples/multiomics.py            # both datasets
    python examples/multiomics.py --quick    # fewer samples and epochs, for a smoke run
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold

from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import DomainConfig, ModelConfig, RunConfig, TrainConfig
from sharedlatent.datasets import load_dataset
from sharedlatent.datasets.base import Split
from sharedlatent.datasets.synthetic_omics import LIKELIHOOD_OF
from sharedlatent.evaluation.omics import domain_metrics, target_kind

SHOWN = {
    "binary": ("auroc_mean", "auprc_mean"),
    "continuous": ("mse", "pearson_feature_mean", "pearson_sample_mean", "spearman_feature_mean"),
}
LOWER_IS_BETTER = {"mse"}  # log1p scale for count targets
SHOWN["counts"] = SHOWN["continuous"]
ALPHAS = np.logspace(-3, 4, 15)


def ridge_input(values: np.ndarray, likelihood: str) -> np.ndarray:
    """What ridge regression sees of a domain: log1p for counts, the values otherwise."""
    return np.log1p(values) if target_kind(likelihood) == "counts" else values


def baseline_predictions(
    train: Split, test_source: np.ndarray, source: str, target: str, likelihoods: dict[str, str]
) -> dict[str, np.ndarray]:
    """Mean and RidgeCV predictions of `target` from `source`, fitted on the training samples that have both."""
    both = train.presence(source) & train.presence(target)
    x, y = train.domains[source][both], train.domains[target][both]
    mean = np.broadcast_to(train.domains[target][train.presence(target)].mean(axis=0), (len(test_source), y.shape[1]))
    ridge = RidgeCV(alphas=ALPHAS).fit(ridge_input(x, likelihoods[source]), ridge_input(y, likelihoods[target]))
    predicted = ridge.predict(ridge_input(test_source, likelihoods[source]))
    if target_kind(likelihoods[target]) == "counts":
        predicted = np.expm1(np.clip(predicted, 0, None))  # back to counts; domain_metrics compares log1p
    return {"mean": np.array(mean), "ridge": predicted}


def score_directions(
    predictions: dict[str, dict[str, np.ndarray]], truth: dict[str, np.ndarray], likelihoods: dict[str, str]
) -> list[tuple]:
    """Table rows (direction, metric, model, ridge, mean) for every direction's predictions."""
    rows = []
    for direction, by_method in predictions.items():
        target = direction.split("->")[1]
        scores = {
            method: domain_metrics(truth[target], values, likelihoods[target]) for method, values in by_method.items()
        }
        for metric in SHOWN[target_kind(likelihoods[target])]:
            rows.append((direction, metric, *(scores[m][metric] for m in ("model", "ridge", "mean"))))
    return rows


def print_table(title: str, rows: list[tuple]) -> None:
    print(f"\n{title}")
    print(f"{'direction':<26}{'metric':<24}{'model':>9}{'ridge':>9}{'mean':>9}  best")
    for direction, metric, model, ridge, mean in rows:
        values = {"model": model, "ridge": ridge, "mean": mean}
        defined = {k: v for k, v in values.items() if np.isfinite(v)}
        pick = min if metric in LOWER_IS_BETTER else max
        best = pick(defined, key=defined.get) if defined else "-"
        cells = "".join(f"{v:>9.4g}" if np.isfinite(v) else f"{'nan':>9}" for v in values.values())
        print(f"{direction:<26}{metric:<24}{cells}  {best}")


def synthetic_example(quick: bool, posterior: str) -> list[tuple]:
    """Three domains, 20% of samples missing one or two of them; test on fully paired held-out samples."""
    dataset = load_dataset(
        "synthetic_omics", n_samples=400 if quick else 1500, n_domains=3, fraction_unpaired=0.2, seed=0
    )
    likelihoods = LIKELIHOOD_OF
    config = RunConfig(
        model=ModelConfig(private_widths=[64, 32], shared_widths=[32], latent_size=8, joint_posterior=posterior),
        train=TrainConfig(
            epochs=20 if quick else 150,
            batch_size=128,
            learning_rate=2e-3,
            progress=False,
            patience=15,
            beta_warmup_epochs=10,
        ),
    )
    config.model.domains = {name: DomainConfig(likelihood=LIKELIHOOD_OF[name]) for name in dataset.domain_names}
    config.model.domains["protein"].preprocessing = "standardize"
    counts = dataset.train.pairing_counts()
    print(f"synthetic_omics: train {dataset.train.n_samples} samples {counts}, test {dataset.test.n_samples} paired")
    started = time.perf_counter()
    model = SharedLatentVAE(dataset.input_sizes, config)
    history = model.fit(dataset.train)
    print(
        f"trained {len(history.records)} epochs in {time.perf_counter() - started:.1f} s ({posterior} joint posterior); {'; '.join(history.stopped_early)}"
    )
    test = dataset.test.domains
    predictions = {}
    for source in dataset.domain_names:
        for target in dataset.domain_names:
            if source != target:
                predictions[f"{source}->{target}"] = {
                    "model": model.translate(test[source], source, target),
                    **baseline_predictions(dataset.train, test[source], source, target, likelihoods),
                }
    return score_directions(predictions, test, likelihoods)


def linnerud_example(quick: bool) -> list[tuple]:
    """Exercise <-> physiology on 20 men: out-of-fold predictions from 5-fold cross-validation."""
    dataset = load_dataset("linnerud")
    names = dataset.domain_names
    full = {name: np.vstack([dataset.train.domains[name], dataset.test.domains[name]]) for name in names}
    likelihoods = {name: "gaussian" for name in names}
    out_of_fold = {
        f"{s}->{t}": {m: np.zeros_like(full[t]) for m in ("model", "ridge", "mean")}
        for s in names
        for t in names
        if s != t
    }
    for train_rows, test_rows in KFold(5, shuffle=True, random_state=0).split(full[names[0]]):
        train = Split({name: values[train_rows] for name, values in full.items()})
        config = RunConfig(
            model=ModelConfig(private_widths=[8, 4], shared_widths=[4], latent_size=2),
            train=TrainConfig(
                epochs=60 if quick else 400,
                batch_size=16,
                learning_rate=5e-3,
                progress=False,
                validation_fraction=0.0,
                patience=400,
            ),
        )
        config.model.domains = {
            name: DomainConfig(likelihood="gaussian", preprocessing="standardize") for name in names
        }
        model = SharedLatentVAE(dataset.input_sizes, config)
        model.fit(train)
        for direction, by_method in out_of_fold.items():
            source, target = direction.split("->")
            test_source = full[source][test_rows]
            by_method["model"][test_rows] = model.translate(test_source, source, target)
            for method, values in baseline_predictions(train, test_source, source, target, likelihoods).items():
                by_method[method][test_rows] = values
    return score_directions(out_of_fold, full, likelihoods)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and epochs")
    parser.add_argument(
        "--posterior", default="poe", choices=["mean", "poe", "moe"], help="joint posterior for the synthetic data"
    )
    parser.add_argument("--dataset", default="both", choices=["both", "synthetic_omics", "linnerud"])
    arguments = parser.parse_args()
    if arguments.dataset in ("both", "synthetic_omics"):
        print_table(
            "synthetic_omics (test split, paired samples)", synthetic_example(arguments.quick, arguments.posterior)
        )
    if arguments.dataset in ("both", "linnerud"):
        print_table("linnerud (5-fold out-of-fold predictions, 20 samples)", linnerud_example(arguments.quick))


if __name__ == "__main__":
    main()
