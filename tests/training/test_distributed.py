"""Data-parallel training: shards, loss scaling and noise that add up to one process, and a real 2-process gloo run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from sharedlatent.api import SharedLatentVAE
from sharedlatent.nn.draws import RowDraws, normal, uniform
from sharedlatent.nn.model import SharedLatentModule
from sharedlatent.nn.objective import LossWeights
from sharedlatent.training import distributed
from sharedlatent.training.schedules import build_schedule

TINY = ["--set", "model.private_widths=[16]", "--set", "model.shared_widths=[8]", "--set", "model.latent_size=4"]
NOISY = ["--set", "train.noise_level=0.1", "--set", "model.joint_posterior=moe"]  # every kind of draw training makes


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
    command += ["--out", str(out), "--no-progress", "--no-evaluate", *TINY, *NOISY]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src"), "OMP_NUM_THREADS": "1"}
    subprocess.run(command, check=True, env=env, timeout=120, capture_output=True)
    return out


def test_row_draws_give_each_rank_its_rows_of_the_global_draw():
    def draw(rows, total):
        generator = torch.Generator().manual_seed(5)
        like = torch.zeros(())
        shape = (2 * (rows.stop - rows.start), 3)  # two stacked blocks of this rank's rows, as routes stack
        values = (
            normal(shape, RowDraws(generator, rows, total), like),
            uniform((rows.stop - rows.start, 1), RowDraws(generator, rows, total), like),
        )
        return values, generator.get_state()

    (whole, state), parts = draw(slice(0, 7), 7), [draw(slice(0, 4), 7), draw(slice(4, 7), 7)]
    blocks = [torch.cat([p[0][0].reshape(2, -1, 3)[block] for p in parts]) for block in range(2)]
    assert torch.equal(torch.cat(blocks), whole[0])
    assert torch.equal(torch.cat([p[0][1] for p in parts]), whole[1])
    assert all(torch.equal(p[1], state) for p in parts)  # every rank's generator stays in step
    single = torch.Generator().manual_seed(5)
    assert torch.equal(normal((14, 3), single, torch.zeros(())), whole[0])  # the same values as a plain draw


def test_two_gloo_processes_match_one_and_write_one_folder(tmp_path):
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29531"]
    two = _train(tmp_path / "ddp", "run", torchrun)
    one = _train(tmp_path / "single", "run", [sys.executable])
    records = [json.loads((folder / "history.json").read_text())["records"] for folder in (one, two)]
    # Same global batch, order, seed and noise per sample (input noise and the mixture's expert choice included):
    # only the order of float sums differs (measured: 1e-7 relative on the losses, 7e-8 on the weights).
    for single, ranks in zip(*records, strict=True):
        assert ranks["train_loss"] == pytest.approx(single["train_loss"], rel=1e-5)
        assert ranks["validation_loss"] == pytest.approx(single["validation_loss"], rel=1e-5)
    runs = [json.loads((folder / "run.json").read_text())["distributed"] for folder in (one, two)]
    assert runs == [{"world_size": 1, "backend": None}, {"world_size": 2, "backend": "gloo"}]
    weights = [load_file(folder / "model.safetensors") for folder in (one, two)]
    for key, value in weights[0].items():
        torch.testing.assert_close(weights[1][key], value, rtol=1e-4, atol=1e-5)
    assert [p.name for p in (tmp_path / "ddp").iterdir()] == ["run"]
    assert sorted(p.name for p in two.iterdir()) == ["config.toml", "history.json", "model.safetensors", "run.json"]
    model = SharedLatentVAE.load(two / "model.safetensors")
    translated = model.translate(np.random.default_rng(0).random((5, 64), dtype=np.float32), "left", "right")
    assert translated.shape == (5, 64) and np.isfinite(translated).all()


DYING_RANK = """
import os, signal
from sharedlatent.training import loop

original, calls = loop.run_epoch, []


def run_epoch(*args, **kwargs):
    calls.append(1)
    if os.environ["RANK"] == "1" and len(calls) == 2:  # rank 1 dies at the start of its second epoch
        os.kill(os.getpid(), signal.SIGKILL)
    return original(*args, **kwargs)


loop.run_epoch = run_epoch
"""


def test_a_rank_dying_stops_the_other_with_one_line(tmp_path):
    # Two ranks started as torchrun would (env:// rendezvous) but without its agent, so that what the survivor
    # does is ours: it must notice on its own, say so in one line and exit non-zero, not wait forever.
    (tmp_path / "dying_rank.py").write_text(DYING_RANK)
    args = ["train", "digits", "--epochs", "50", "--batch-size", "64", "--out", str(tmp_path / "run"), "--no-progress"]
    args += ["--no-evaluate", *TINY]
    start = f"import dying_rank, runpy, sys; sys.argv = ['sharedlatent', *{args!r}]; runpy.run_module('sharedlatent', run_name='__main__')"
    env = {
        **os.environ,
        "PYTHONPATH": f"{Path(__file__).parents[2] / 'src'}{os.pathsep}{tmp_path}",
        "OMP_NUM_THREADS": "1",
    }
    env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT="29541", WORLD_SIZE="2")
    ranks = [
        subprocess.Popen(
            [sys.executable, "-c", start],
            env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in range(2)
    ]
    try:
        assert ranks[1].wait(timeout=120) == -signal.SIGKILL
        died = time.monotonic()
        err = ranks[0].communicate(timeout=distributed.TIMEOUT_SECONDS + 30)[1]  # a hang fails here
        print(f"rank 0 stopped {time.monotonic() - died:.1f} s after rank 1 died: {err.strip().splitlines()[-1]}")
    finally:
        for process in ranks:
            process.kill()
    assert ranks[0].returncode == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith("error: rank 0 lost the other training processes"), err
    assert err.count("error: ") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()
