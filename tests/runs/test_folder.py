"""Run folders: --overwrite replaces a real run folder, and a failure after training leaves nothing behind."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest

from sharedlatent.config import RunConfig
from sharedlatent.errors import SharedLatentError
from sharedlatent.runs import evaluate as run_evaluate
from sharedlatent.runs import folder as run_folder
from sharedlatent.runs.cli import main
from sharedlatent.storage import signals_held


def _train(out, *extra: str) -> int:
    return main(["train", "digits", "--epochs", "1", "--out", str(out), "--no-progress", *extra])


def _staging_left(parent) -> list[str]:
    return [path.name for path in parent.iterdir() if ".partial-" in path.name or ".old-" in path.name]


def test_overwrite_replaces_a_run_folder(tmp_path):
    out = tmp_path / "run"
    assert _train(out, "--set", "model.latent_size=3") == 0
    (out / "report_train.html").write_text("the old run's")  # a run file the new run does not write
    assert _train(out, "--overwrite", "--set", "model.latent_size=5") == 0
    assert RunConfig.from_toml(out / "config.toml").model.latent_size == 5
    assert not (out / "report_train.html").exists()
    assert _staging_left(tmp_path) == []


class EvaluationError(RuntimeError):
    pass


def _fail(*args, **kwargs):
    raise EvaluationError("evaluation broke")


def test_failure_after_training_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(run_evaluate, "evaluate_into", _fail)
    out = tmp_path / "run"
    with pytest.raises(
        SharedLatentError, match=r"evaluation after training failed \(EvaluationError: evaluation broke\)"
    ):
        run_folder.train_run(RunConfig.from_dict({"train": {"epochs": 1, "progress": False}}), out)
    assert not out.exists()
    assert _staging_left(tmp_path) == []


def test_failure_after_training_keeps_the_existing_folder(tmp_path, monkeypatch):
    out = tmp_path / "run"
    assert _train(out, "--set", "model.latent_size=3") == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    monkeypatch.setattr(run_evaluate, "evaluate_into", _fail)
    with pytest.raises(SharedLatentError, match="--resume --no-evaluate"):
        run_folder.train_run(RunConfig.from_dict({"train": {"epochs": 1, "progress": False}}), out, overwrite=True)
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    assert _staging_left(tmp_path) == []


def test_a_failed_evaluation_keeps_the_training_for_resume_without_evaluation(tmp_path, monkeypatch, capsys):
    """A crash in the evaluation (a LAPACK routine that did not converge, once) must not lose the trained model:
    the error line says how to write the run from the checkpoint, and that works without training again."""
    out = tmp_path / "run"
    train = [
        "train",
        "digits",
        "--epochs",
        "6",
        "--out",
        str(out),
        "--no-progress",
        "--set",
        "train.checkpoint_every=1",
    ]
    monkeypatch.setattr(run_evaluate, "evaluate_into", _fail)
    assert main(train) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rerun the same command with --resume --no-evaluate" in err[0] and not out.exists()
    monkeypatch.undo()
    assert main([*train, "--resume", "--no-evaluate"]) == 0
    assert (out / "model.safetensors").is_file() and not (out / "metrics.json").exists()
    assert main(["evaluate", str(out)]) == 0 and (out / "metrics.json").is_file()


@pytest.mark.parametrize("stop", [KeyboardInterrupt, EvaluationError], ids=["interrupted", "failed"])
def test_an_evaluation_that_stops_halfway_leaves_the_run_as_it_was(tmp_path, monkeypatch, stop):
    out = tmp_path / "run"
    assert _train(out) == 0
    (out / "latent_test.png").write_bytes(b"the figure of an earlier evaluation")  # redrawn, it would differ
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    real_write_record = run_evaluate.write_record

    def figures_written_then_stop(folder, record):
        real_write_record(folder, record)
        assert (folder / "latent_test.png").is_file()  # the new figures exist by now, in the staging folder
        raise stop("stopped")

    monkeypatch.setattr(run_evaluate, "write_record", figures_written_then_stop)
    with pytest.raises(stop):
        run_folder.evaluate_run(out)
    assert sorted(path.name for path in out.iterdir()) == sorted(before)  # no staging folder left inside
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    assert _staging_left(tmp_path) == []


def test_an_evaluation_replaces_the_runs_files_when_complete(tmp_path):
    out = tmp_path / "run"
    assert _train(out) == 0
    (out / "latent_test.png").write_bytes(b"an old figure")
    run_folder.evaluate_run(out)
    assert (out / "latent_test.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "metrics.json").is_file() and (out / "report.html").is_file()
    assert _staging_left(tmp_path) == [] and _staging_left(out) == []


def test_an_evaluation_from_inside_the_run_folder_leaves_nothing_behind(tmp_path, monkeypatch):
    out = tmp_path / "run"
    assert _train(out) == 0
    monkeypatch.chdir(out)
    assert main(["evaluate", "."]) == 0
    assert _staging_left(out) == [] and _staging_left(tmp_path) == []


@pytest.mark.skipif(
    not Path("/dev/shm").is_dir() or Path("/dev/shm").stat().st_dev == Path(tempfile.gettempdir()).stat().st_dev,
    reason="needs /dev/shm on a file system of its own",
)
def test_an_evaluation_through_a_link_to_another_file_system(tmp_path):
    elsewhere = Path(tempfile.mkdtemp(dir="/dev/shm"))
    try:
        assert _train(elsewhere / "run") == 0
        (tmp_path / "run").symlink_to(elsewhere / "run")
        assert main(["evaluate", str(tmp_path / "run")]) == 0
        assert _staging_left(elsewhere / "run") == [] and _staging_left(tmp_path) == []
    finally:
        shutil.rmtree(elsewhere)


def test_a_stopped_evaluations_staging_folder_is_swept_and_does_not_block_overwrite(tmp_path):
    out = tmp_path / "run"
    assert _train(out) == 0
    (out / ".evaluation.partial-999999999").mkdir()  # no such process
    (out / ".evaluation.partial-999999999" / "latent_test.png").write_bytes(b"half an evaluation")
    run_folder.evaluate_run(out)
    assert _staging_left(out) == []
    (out / ".evaluation.partial-999999999").mkdir()
    assert _train(out, "--overwrite") == 0


def test_signals_held_are_acted_on_when_the_block_ends():
    finished = []
    with pytest.raises(KeyboardInterrupt), signals_held():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)  # a signal is handled within a few bytecodes; here it waits for the block's end
        finished.append(True)
    assert finished == [True]
