"""Interrupted runs on the command line: SIGKILL then --resume gives the weights of an uninterrupted run; SIGTERM
exits cleanly and keeps the checkpoint; refusals are one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from sharedlatent.runs.cli import main
from sharedlatent.runs.resume import checkpoint_folder
from sharedlatent.storage import WEIGHTS_FILE

# Tiny widths and small batches: each epoch is short but there are enough of them to interrupt.
SETTINGS = [
    "--epochs", "20", "--batch-size", "32", "--no-progress", "--seed", "5",
    "--set", "model.private_widths=[8]", "--set", "model.shared_widths=[8]", "--set", "model.latent_size=2",
    "--set", "train.patience=100", "--set", "train.checkpoint_every=1",
]  # fmt: skip
SRC = str(Path(__file__).resolve().parents[2] / "src")


def train_argv(out: Path, *extra: str) -> list[str]:
    return ["train", "digits", "--out", str(out), *SETTINGS, *extra]


def start_training(out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    command = [sys.executable, "-m", "sharedlatent", *train_argv(out)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_checkpoint(process: subprocess.Popen, out: Path, timeout: float = 60) -> None:
    state = checkpoint_folder(out) / "state.pt"
    deadline = time.monotonic() + timeout
    while not state.is_file():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.01)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("reference") / "run"
    assert main(train_argv(out)) == 0
    assert not checkpoint_folder(out).exists()
    return load_file(out / WEIGHTS_FILE)


def test_sigkill_then_resume_gives_the_uninterrupted_weights(tmp_path, reference, capsys):
    out = tmp_path / "run"
    process = start_training(out)
    wait_for_checkpoint(process, out)
    process.kill()
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    assert not out.exists() and checkpoint_folder(out).is_dir()
    assert main(train_argv(out, "--resume")) == 0
    resumed = load_file(out / WEIGHTS_FILE)
    assert resumed.keys() == reference.keys()
    assert all((resumed[key] == reference[key]).all() for key in reference)
    assert not checkpoint_folder(out).exists()


def test_sigterm_exits_cleanly_and_keeps_the_checkpoint(tmp_path):
    out = tmp_path / "run"
    process = start_training(out)
    wait_for_checkpoint(process, out)
    process.terminate()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert "Traceback" not in err and "continue with --resume" in err
    assert not out.exists() and not list(tmp_path.glob(".run.partial-*"))
    state = torch.load(checkpoint_folder(out) / "state.pt", weights_only=True)
    assert state["position"]["epochs_run"] >= 1


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_resume_refusals_are_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train_argv(out, "--resume")) == 2
    assert "no checkpoint to resume from" in one_error_line(capsys)
    checkpoint_folder(out).mkdir()
    (checkpoint_folder(out) / "state.pt").write_bytes(b"junk")
    assert main(train_argv(out)) == 2
    assert "pass --resume to continue it or --overwrite" in one_error_line(capsys)
    assert main(train_argv(out, "--resume")) == 2
    assert "cannot be read" in one_error_line(capsys)
    assert main(["info", str(out)]) == 2
    assert "holds an interrupted run of it: the same train command with --resume" in one_error_line(capsys)


def test_a_checkpoint_is_not_resumed_on_data_files_that_changed(tmp_path):
    """The checkpoint's identity holds each data file's size and sha256, as run.json does for evaluate."""
    from sharedlatent.config import RunConfig
    from sharedlatent.errors import SharedLatentError
    from sharedlatent.runs.reload import fingerprint_data_files
    from sharedlatent.runs.resume import run_checkpoint

    data = tmp_path / "left.csv"
    data.write_text("id,x\na,1\n")
    options = {"left_path": str(data)}
    out = tmp_path / "run"
    run_checkpoint(out, RunConfig(), options, False, False, fingerprint_data_files(options)).save({"x": 1})
    assert run_checkpoint(out, RunConfig(), options, True, False, fingerprint_data_files(options)).load()["x"] == 1
    data.write_text("id,x\na,2\n")
    changed = run_checkpoint(out, RunConfig(), options, True, False, fingerprint_data_files(options))
    with pytest.raises(SharedLatentError, match=r"belongs to a different run \(data_files") as refused:
        changed.load()
    assert f"data_files.{data}.sha256: '" in str(refused.value) and '"size"' not in str(refused.value)
