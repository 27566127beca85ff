"""The figure worker draws a run's figures in a second process; whatever goes wrong there, the figures are drawn in
the trainer's process instead."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import modules_imported_after, small_config
from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import RunConfig
from sharedlatent.runs import evaluate, figure_worker
from sharedlatent.runs import folder as run_folder
from sharedlatent.runs.figure_job import FIGURE_MODULES, FigureJob, draw_figures
from sharedlatent.runs.figure_worker import FigureWorker
from sharedlatent.runs.record import RunRecord


@pytest.fixture(scope="module")
def job_parts(digits):
    model = SharedLatentVAE(digits.input_sizes, small_config(epochs=1))
    history = model.fit(digits.train)
    record = RunRecord(
        dataset="digits",
        data_options={},
        domains=digits.domain_names,
        input_sizes=digits.input_sizes,
        feature_names=dict(digits.feature_names),
        layout="small",
        created="now",
        train_seconds=history.seconds,
        versions={},
    )
    return model, record, history, evaluate.prepare(model, digits, "test")


def make_job(job_parts, folder: Path) -> FigureJob:
    folder.mkdir(parents=True, exist_ok=True)
    return evaluate.figure_job(folder, *job_parts)


def fake_worker(code: str) -> FigureWorker:
    """A worker whose process runs `code` instead of the real worker."""
    process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    return FigureWorker(process)


def names(paths: list[Path]) -> list[str]:
    return [path.name for path in paths]


def test_the_worker_draws_what_the_trainer_would(job_parts, tmp_path, monkeypatch):
    here = names(draw_figures(make_job(job_parts, tmp_path / "here")))
    monkeypatch.setattr(figure_worker, "draw_figures", lambda job: pytest.fail("drawn in the trainer"))
    worker = FigureWorker.start()
    assert worker is not None
    worker.submit(make_job(job_parts, tmp_path / "worker"))
    drawn = worker.figures()
    assert names(drawn) == here and "loss_curves.png" in here
    assert all(path.is_file() and path.parent == tmp_path / "worker" for path in drawn)
    assert (tmp_path / "worker" / "model.txt").read_text() == (tmp_path / "here" / "model.txt").read_text()
    assert worker.process.returncode == 0


def test_the_job_and_the_figure_code_load_without_torch(job_parts, tmp_path):
    job_file = tmp_path / "job.pickle"
    job_file.write_bytes(pickle.dumps(make_job(job_parts, tmp_path / "figures")))
    code = (
        "import importlib, pickle\n"
        f"for name in {FIGURE_MODULES!r} + ('sharedlatent.runs.figure_worker',):\n"
        "    importlib.import_module(name)\n"
        f"pickle.loads(open({str(job_file)!r}, 'rb').read())"
    )
    assert modules_imported_after(code, ("torch", "sklearn")) == []  # the worker starts in about a second, not three


@pytest.mark.parametrize(
    "code",
    [
        "import sys; sys.stdin.buffer.read(); sys.exit(1)",  # fails
        "pass",  # gone before the job arrives
        "import sys; sys.stdin.buffer.read(); print('not json')",
        'import sys; sys.stdin.buffer.read(); print(\'{"figures": ["missing.png"]}\')',
        "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
    ],
    ids=["fails", "gone", "garbled", "claims-missing-files", "killed"],
)
def test_a_worker_that_does_not_deliver_leaves_the_drawing_to_the_trainer(job_parts, tmp_path, monkeypatch, code):
    drawn_here = []
    monkeypatch.setattr(figure_worker, "draw_figures", lambda job: drawn_here.append(job) or [job.folder / "x.png"])
    job = make_job(job_parts, tmp_path / "figures")
    worker = fake_worker(code)
    worker.submit(job)
    assert worker.figures() == [tmp_path / "figures" / "x.png"]
    assert drawn_here == [job]


def test_a_job_that_cannot_be_pickled_is_drawn_here(job_parts, tmp_path, monkeypatch):
    monkeypatch.setattr(figure_worker, "draw_figures", lambda job: [job.folder / "x.png"])
    job = make_job(job_parts, tmp_path / "figures")
    job.renderers = {**job.renderers, "left": lambda ax, sample: None}  # a loader's own renderer, not picklable
    worker = FigureWorker.start()
    worker.submit(job)
    assert names(worker.figures()) == ["x.png"]
    assert worker.process.returncode == 0  # it read no job and left


def test_a_stuck_worker_is_stopped_and_the_trainer_draws(job_parts, tmp_path, monkeypatch):
    monkeypatch.setattr(figure_worker, "WAIT_SECONDS", 1.0)
    monkeypatch.setattr(figure_worker, "draw_figures", lambda job: [job.folder / "x.png"])
    worker = fake_worker("import sys, time; sys.stdin.buffer.read(); time.sleep(60)")
    worker.submit(make_job(job_parts, tmp_path / "figures"))
    assert names(worker.figures()) == ["x.png"]
    assert worker.process.returncode is not None  # killed, not left behind


def test_a_worker_given_no_job_leaves_quietly():
    worker = FigureWorker.start()
    assert worker is not None
    worker.process.stdin.close()  # what a trainer that stops without a job leaves it
    assert worker.process.wait(timeout=60) == 0
    assert worker.process.stdout.read() == b""
    worker.close()


def test_closing_an_unused_worker_stops_it_at_once(capfd):
    worker = FigureWorker.start()
    worker.close()
    assert worker.process.returncode is not None
    assert "Traceback" not in capfd.readouterr().err


def test_a_failing_drawing_is_reported_by_the_trainer_once(job_parts, tmp_path, capfd):
    job = make_job(job_parts, tmp_path / "figures")
    job.renderers = {}  # the first figure fails
    worker = FigureWorker.start()
    worker.submit(job)
    with pytest.raises(KeyError):
        worker.figures()
    assert "Traceback" not in capfd.readouterr().err  # the worker fails silently; the trainer's error is the report


def test_a_training_run_has_its_figures_drawn_by_the_worker(tmp_path, monkeypatch):
    monkeypatch.setattr(figure_worker, "worth_a_worker", lambda: True)  # this test process has matplotlib loaded
    monkeypatch.setattr(evaluate, "draw_figures", lambda job: pytest.fail("drawn in the trainer"))
    monkeypatch.setattr(figure_worker, "draw_figures", lambda job: pytest.fail("drawn in the trainer"))
    out = run_folder.train_run(RunConfig.from_dict({"train": {"epochs": 1, "progress": False}}), tmp_path / "run")
    record = run_folder.read_record(out)
    assert "model.png" in record.figures and all((out / name).is_file() for name in record.figures)
    assert (out / "report.html").is_file()


def test_a_process_with_matplotlib_loaded_draws_itself():
    code = "import sys\nfrom sharedlatent.runs import figure_worker as w\nprint(w.worth_a_worker())\nimport matplotlib\nprint(w.worth_a_worker())"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "False"]


def test_no_evaluation_starts_no_worker(tmp_path, monkeypatch):
    monkeypatch.setattr(figure_worker, "worth_a_worker", lambda: True)
    monkeypatch.setattr(FigureWorker, "start", classmethod(lambda cls: pytest.fail("a worker was started")))
    out = run_folder.train_run(
        RunConfig.from_dict({"train": {"epochs": 1, "progress": False}}), tmp_path / "run", evaluate=False
    )
    assert not (out / "model.png").exists()


def test_evaluating_a_run_later_has_its_figures_drawn_by_the_worker(tmp_path, monkeypatch):
    config = RunConfig.from_dict({"train": {"epochs": 1, "progress": False}})
    out = run_folder.train_run(config, tmp_path / "run", evaluate=False)
    monkeypatch.setattr(figure_worker, "worth_a_worker", lambda: True)
    monkeypatch.setattr(evaluate, "draw_figures", lambda job: pytest.fail("drawn in the trainer"))
    monkeypatch.setattr(figure_worker, "draw_figures", lambda job: pytest.fail("drawn in the trainer"))
    run_folder.evaluate_run(out)
    assert (out / "model.png").is_file() and (out / "report.html").is_file()


def test_a_worker_that_never_reads_its_job_cannot_block_the_trainer(job_parts, tmp_path, monkeypatch):
    monkeypatch.setattr(figure_worker, "WAIT_SECONDS", 1.0)
    monkeypatch.setattr(figure_worker, "draw_figures", lambda job: [job.folder / "x.png"])
    worker = fake_worker("import time; time.sleep(60)")  # the job (far above a pipe's 64 KiB) is never read
    worker.submit(make_job(job_parts, tmp_path / "figures"))
    assert names(worker.figures()) == ["x.png"]


def test_the_worker_imports_nothing_from_the_working_directory(job_parts, tmp_path, monkeypatch):
    (tmp_path / "random.py").write_text("raise RuntimeError('a module of the user that shadows the standard one')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [*sys.path, Path(tmp_path / "elsewhere")])  # a Path, as some programs add
    monkeypatch.setattr(figure_worker, "draw_figures", lambda job: pytest.fail("drawn in the trainer"))
    worker = FigureWorker.start()
    worker.submit(make_job(job_parts, tmp_path / "figures"))
    assert "model.png" in names(worker.figures())


def test_a_worker_stopped_while_writing_a_figure_leaves_no_temporary_file(tmp_path):
    code = (
        "import signal, sys, time\n"
        "from sharedlatent.runs.figure_worker import _leave\n"
        "from sharedlatent.storage import atomic_path\n"
        "signal.signal(signal.SIGTERM, _leave)\n"
        f"with atomic_path({str(tmp_path / 'figure.png')!r}) as temporary:\n"
        "    open(temporary, 'wb').write(b'half a figure')\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "writing"
    worker = FigureWorker(process)
    worker.close()
    assert process.returncode == 1  # left through SystemExit, so the temporary file was removed on the way
    assert list(tmp_path.iterdir()) == []
