"""Data-parallel training: shards and loss scaling that add up to one process, and a real 2-process gloo run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sharedlatent.api import SharedLatentVAE
from sharedlatent.nn.model import SharedLatentModule
from sharedlatent.nn.objective import LossWeights
from sharedlatent.training import distributed
from sharedlatent.training.schedules import build_schedule

TINY = ["--set", "model.private_widths=[16]", "--set", "model.shared_widths=[8]", "--set", "model.latent_size=4"]


def as_rank(monkeypatch, rank, size):
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setenv("WORLD_SIZE", str(size))


@pytest.mark.parametrize("start, stop", [(0, 64), (64, 101), (96, 97)])
def test_shards_partition_a_global_batch(monkeypatch, start, stop):
    rows, shares = [], 0.0
    for rank in range(3):
        as_rank(monkeypatch, rank, 3)
        part = distributed.shard(start, stop)
        if part.loss_scale:
            rows += list(range(stop))[part.rows]
            shares += part.kl_share
    assert rows == list(range(start, stop)) and shares == pytest.approx(1.0)


def test_rank_gradients_average_to_one_process_gradient(monkeypatch):
    torch.manual_seed(0)
    module = SharedLatentModule({"left": 8, "right": 8}, {"left": [6], "right": [6]}, [5], 3, {})
    batch = {"left": torch.rand(37, 8), "right": torch.rand(37, 8)}  # uneven: 19 + 18 rows
    routes, weights = build_schedule("joint", ["left", "right"], 1)[0].phases[0].routes, LossWeights(beta=0.7)

    def gradient(rows, weights, scale):
        module.zero_grad()
        part = {name: values[rows] for name, values in batch.items()}
        (module.loss(part, routes, weights).total * scale).backward()
        return torch.cat([p.grad.flatten() for p in module.parameters()])

    one_process = gradient(slice(0, 37), weights, 1.0)
    ranks = []
    for rank in range(2):
        as_rank(monkeypatch, rank, 2)
        part = distributed.shard(0, 37)
        ranks.append(gradient(part.rows, distributed.shard_weights(weights, part), part.loss_scale))
    torch.testing.assert_close(sum(ranks) / 2, one_process)  # DDP averages over ranks


def _train(tmp_path, name, launcher):
    out = tmp_path / name
    command = [*launcher, "-m", "sharedlatent", "train", "digits", "--epochs", "3", "--batch-size", "64"]
    command += ["--out", str(out), "--no-progress", "--no-evaluate", *TINY]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src"), "OMP_NUM_THREADS": "1"}
    subprocess.run(command, check=True, env=env, timeout=120, capture_output=True)
    return out


def test_two_gloo_processes_match_one_and_write_one_folder(tmp_path):
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29531"]
    two = _train(tmp_path / "ddp", "run", torchrun)
    one = _train(tmp_path / "single", "run", [sys.executable])
    final = [json.loads((folder / "history.json").read_text())["records"][-1] for folder in (one, two)]
    # Same global batch, order and seed; each rank draws its own latent samples, so the draws (not the maths) differ.
    assert final[1]["train_loss"] == pytest.approx(final[0]["train_loss"], rel=0.03)
    assert final[1]["validation_loss"] == pytest.approx(final[0]["validation_loss"], rel=0.03)
    assert [p.name for p in (tmp_path / "ddp").iterdir()] == ["run"]
    assert sorted(p.name for p in two.iterdir()) == ["config.toml", "history.json", "model.safetensors", "run.json"]
    model = SharedLatentVAE.load(two / "model.safetensors")
    translated = model.translate(np.random.default_rng(0).random((5, 64), dtype=np.float32), "left", "right")
    assert translated.shape == (5, 64) and np.isfinite(translated).all()
