"""The evaluation worker scores a run's metrics and draws its figures in a second process; whatever goes wrong there,
the trainer's process evaluates instead."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import modules_imported_after, small_config
from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import RunConfig
from sharedlatent.runs import evaluate, evaluation_worker
from sharedlatent.runs import folder as run_folder
from sharedlatent.runs.evaluation_worker import EvaluationJob, EvaluationResult, EvaluationWorker
from sharedlatent.runs.figure_job import draw_figures, merge_shares
from sharedlatent.runs.record import RunRecord
from sharedlatent.storage import write_json


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
    evaluation = evaluate.prepare(model, digits, "test")
    return model, record, history, evaluation, evaluate.metrics_inputs(model, digits, evaluation)


def make_job(job_parts, folder: Path) -> EvaluationJob:
    model, record, history, evaluation, inputs = job_parts
    folder.mkdir(parents=True, exist_ok=True)
    return EvaluationJob(evaluate.figure_job(folder, model, record, history, evaluation), inputs)


def fake_worker(code: str) -> EvaluationWorker:
    """A worker whose process runs `code` instead of the real worker."""
    process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    return EvaluationWorker(process)


def evaluated_here(calls: list[EvaluationJob]):
    """A stand-in for evaluate_here that records its job and returns one figure and one metric."""

    def evaluate_here(job: EvaluationJob) -> EvaluationResult:
        calls.append(job)
        return EvaluationResult([job.figures.folder / "x.png"], {"here": True})

    return evaluate_here


def never_here(job: EvaluationJob) -> EvaluationResult:
    pytest.fail("evaluated in the trainer")


def names(paths: list[Path]) -> list[str]:
    return [path.name for path in paths]


def test_the_worker_scores_and_draws_what_the_trainer_would(job_parts, tmp_path, monkeypatch):
    here = evaluation_worker.evaluate_here(make_job(job_parts, tmp_path / "here"))
    monkeypatch.setattr(evaluation_worker, "evaluate_here", never_here)
    worker = EvaluationWorker.start()
    assert worker is not None
    worker.submit(make_job(job_parts, tmp_path / "worker"))
    result = worker.result()
    assert names(result.figures) == names(here.figures) and "loss_curves.png" in names(here.figures)
    assert all(path.is_file() and path.parent == tmp_path / "worker" for path in result.figures)
    assert (tmp_path / "worker" / "model.txt").read_text() == (tmp_path / "here" / "model.txt").read_text()
    write_json(tmp_path / "here.json", here.metrics)
    write_json(tmp_path / "worker.json", result.metrics)
    assert (tmp_path / "worker.json").read_text() == (tmp_path / "here.json").read_text()
    assert "labels" in result.metrics and "baselines" in result.metrics
    assert worker.process.returncode == 0


def test_the_figures_drawn_in_shares_are_the_figures_drawn_at_once(job_parts, tmp_path):
    job = make_job(job_parts, tmp_path).figures
    whole = draw_figures(job)
    assert merge_shares([draw_figures(job, 0, 2), draw_figures(job, 1, 2)]) == whole
    assert merge_shares([draw_figures(job, share, 3) for share in range(3)]) == whole


def pickled_job(job_parts, tmp_path: Path) -> Path:
    """A job for `tmp_path / "figures"`, pickled into a file a fresh interpreter reads."""
    job_file = tmp_path / "job.pickle"
    job_file.write_bytes(pickle.dumps(make_job(job_parts, tmp_path / "figures")))
    return job_file


def evaluate_in_two_with(job_parts, tmp_path: Path, in_the_fork: str) -> dict:
    """evaluate_in_two_processes on a job, in a fresh interpreter whose figure drawing first runs the statement
    `in_the_fork` in the forked process only; returns the figure names and the warnings raised."""
    job_file = pickled_job(job_parts, tmp_path)
    code = (
        "import json, os, pickle, warnings\n"
        "from sharedlatent.runs import evaluation_worker as w\n"
        "parent, draw = os.getpid(), w.draw_figures\n"
        "def draw_in_the_fork(job, share=0, shares=1):\n"
        "    if os.getpid() != parent:\n"
        f"        {in_the_fork}\n"
        "    return draw(job, share, shares)\n"
        "w.draw_figures = draw_in_the_fork\n"
        "with warnings.catch_warnings(record=True) as raised:\n"
        "    warnings.simplefilter('always')\n"
        f"    result = w.evaluate_in_two_processes(pickle.loads(open({str(job_file)!r}, 'rb').read()))\n"
        "print(json.dumps({'figures': [path.name for path in result.figures],\n"
        "                  'warnings': [[item.category.__name__, str(item.message)] for item in raised]}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def test_a_forked_half_that_fails_is_drawn_by_the_other(job_parts, tmp_path):
    expected = names(draw_figures(make_job(job_parts, tmp_path / "here").figures))
    reported = evaluate_in_two_with(job_parts, tmp_path, "raise RuntimeError('the forked process fails')")
    assert reported["figures"] == expected


def test_the_forked_halfs_warnings_reach_the_worker(job_parts, tmp_path):
    reported = evaluate_in_two_with(job_parts, tmp_path, "warnings.warn('drawn in the fork', RuntimeWarning)")
    assert ["RuntimeWarning", "drawn in the fork"] in reported["warnings"]


def test_the_job_and_the_worker_load_without_torch(job_parts, tmp_path):
    job_file = pickled_job(job_parts, tmp_path)
    code = (
        "import importlib, pickle\n"
        "from sharedlatent.runs.evaluation_worker import WORKER_MODULES\n"
        "for name in WORKER_MODULES:\n"
        "    importlib.import_module(name)\n"
        f"pickle.loads(open({str(job_file)!r}, 'rb').read())"
    )
    assert modules_imported_after(code, ("torch",)) == []  # the worker starts in about two seconds, not four


@pytest.mark.parametrize(
    "code",
    [
        "import sys; sys.stdin.buffer.read(); sys.exit(1)",  # fails
        "pass",  # gone before the job arrives
        "import sys; sys.stdin.buffer.read(); print('not json')",
        'import sys; sys.stdin.buffer.read(); print(\'{"figures": ["missing.png"], "metrics": {}}\')',
        'import sys; sys.stdin.buffer.read(); print(\'{"figures": [], "metrics": [1]}\')',
        "import sys; sys.stdin.buffer.read(); print('{\"figures\": []}')",
        "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
    ],
    ids=["fails", "gone", "garbled", "claims-missing-files", "metrics-not-a-table", "no-metrics", "killed"],
)
def test_a_worker_that_does_not_deliver_leaves_the_evaluation_to_the_trainer(job_parts, tmp_path, monkeypatch, code):
    calls: list[EvaluationJob] = []
    monkeypatch.setattr(evaluation_worker, "evaluate_here", evaluated_here(calls))
    job = make_job(job_parts, tmp_path / "figures")
    worker = fake_worker(code)
    worker.submit(job)
    result = worker.result()
    assert result.figures == [tmp_path / "figures" / "x.png"] and result.metrics == {"here": True}
    assert calls == [job]


def test_a_job_that_cannot_be_pickled_is_evaluated_here(job_parts, tmp_path, monkeypatch):
    monkeypatch.setattr(evaluation_worker, "evaluate_here", evaluated_here([]))
    job = make_job(job_parts, tmp_path / "figures")
    job.figures.renderers = {**job.figures.renderers, "left": lambda ax, sample: None}  # a loader's own, unpicklable
    worker = EvaluationWorker.start()
    worker.submit(job)
    assert names(worker.result().figures) == ["x.png"]
    assert worker.process.returncode == 0  # it read no job and left


def test_a_stuck_worker_is_stopped_and_the_trainer_evaluates(job_parts, tmp_path, monkeypatch):
    monkeypatch.setattr(evaluation_worker, "WAIT_SECONDS", 1.0)
    monkeypatch.setattr(evaluation_worker, "evaluate_here", evaluated_here([]))
    worker = fake_worker("import sys, time; sys.stdin.buffer.read(); time.sleep(60)")
    worker.submit(make_job(job_parts, tmp_path / "figures"))
    assert names(worker.result().figures) == ["x.png"]
    assert worker.process.returncode is not None  # killed, not left behind


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")


@linux_only
def test_a_worker_whose_trainer_is_killed_stops():
    code = (
        "import time\n"
        "from sharedlatent.runs.evaluation_worker import EvaluationWorker\n"
        "class SlowJob:  # unpickled as time.sleep(60): a worker busy past its trainer's death\n"
        "    def __reduce__(self):\n"
        "        return (time.sleep, (60,))\n"
        "worker = EvaluationWorker.start()\n"
        "worker.submit(SlowJob())\n"
        "print(worker.process.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    assert _stops_with_its_parent(code, seconds=20)  # the worker, its trainer killed


@linux_only
def test_a_forked_process_stops_when_the_worker_is_killed():
    code = (
        "import os, time\n"
        "from sharedlatent.runs.evaluation_worker import _leave_with\n"
        "parent = os.getpid()\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    try:\n"
        "        _leave_with(parent)\n"
        "        time.sleep(60)\n"
        "    finally:\n"
        "        os._exit(0)\n"
        "print(child, flush=True)\n"
        "time.sleep(60)\n"
    )
    assert _stops_with_its_parent(code, seconds=10)  # the forked process, the worker killed


def _stops_with_its_parent(code: str, seconds: float) -> bool:
    """Run `code`, which starts a process and prints its id; kill it half a second later (the process under way),
    and say whether the process it started ends within `seconds`."""
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    started = int(parent.stdout.readline())
    time.sleep(0.5)
    parent.kill()
    parent.wait()
    return _gone_within(started, seconds)


def _gone_within(pid: int, seconds: float) -> bool:
    """Whether process `pid` ends (or is a zombie, ended but not yet reaped) within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_what_the_loader_prints_in_the_worker_does_not_spoil_its_report(job_parts, tmp_path, monkeypatch):
    (tmp_path / "loud_renderers.py").write_text(
        "from sharedlatent.figures.renderers import ImageRenderer\n"
        "print('a loader module that prints when imported')\n"
        "class LoudRenderer(ImageRenderer):\n"
        "    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from loud_renderers import LoudRenderer

    job = make_job(job_parts, tmp_path / "figures")
    job.figures.renderers = {name: LoudRenderer(**vars(job.figures.renderers[name])) for name in job.figures.renderers}
    monkeypatch.setattr(evaluation_worker, "evaluate_here", never_here)
    worker = EvaluationWorker.start()
    worker.submit(job)
    assert "model.png" in names(worker.result().figures)


def test_the_workers_warnings_are_raised_in_the_trainer(job_parts, tmp_path):
    report = '{"figures": [], "metrics": {}, "warnings": [["RuntimeWarning", "invalid value"], ["ConvergenceWarning", "lbfgs failed"]]}'
    worker = fake_worker(f"import sys; sys.stdin.buffer.read(); print({report!r})")
    worker.submit(make_job(job_parts, tmp_path / "figures"))
    with (
        pytest.warns(RuntimeWarning, match="invalid value"),
        pytest.warns(UserWarning, match="ConvergenceWarning: lbfgs"),
    ):
        assert worker.result().metrics == {}


def test_a_worker_given_no_job_leaves_quietly():
    worker = EvaluationWorker.start()
    assert worker is not None
    worker.process.stdin.close()  # what a trainer that stops without a job leaves it
    assert worker.process.wait(timeout=60) == 0
    assert worker.process.stdout.read() == b""
    worker.close()


def test_closing_an_unused_worker_stops_it_at_once(capfd):
    worker = EvaluationWorker.start()
    worker.close()
    assert worker.process.returncode is not None
    assert "Traceback" not in capfd.readouterr().err


def test_a_failing_drawing_is_reported_by_the_trainer_once(job_parts, tmp_path, capfd):
    job = make_job(job_parts, tmp_path / "figures")
    job.figures.renderers = {}  # the first figure fails
    worker = EvaluationWorker.start()
    worker.submit(job)
    with pytest.raises(KeyError):
        worker.result()
    assert "Traceback" not in capfd.readouterr().err  # the worker fails silently; the trainer's error is the report


def test_a_training_run_is_evaluated_by_the_worker(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluation_worker, "worth_a_worker", lambda: True)  # this test process has matplotlib loaded
    monkeypatch.setattr(evaluate, "evaluate_here", never_here)
    monkeypatch.setattr(evaluation_worker, "evaluate_here", never_here)
    out = run_folder.train_run(RunConfig.from_dict({"train": {"epochs": 1, "progress": False}}), tmp_path / "run")
    record = run_folder.read_record(out)
    assert "model.png" in record.figures and all((out / name).is_file() for name in record.figures)
    assert (out / "report.html").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["split"] == "test" and "translation" in metrics and "labels" in metrics


def test_a_process_with_matplotlib_loaded_evaluates_itself():
    code = "from sharedlatent.runs import evaluation_worker as w\nprint(w.worth_a_worker())\nimport matplotlib\nprint(w.worth_a_worker())"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "False"]


def test_no_evaluation_starts_no_worker(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluation_worker, "worth_a_worker", lambda: True)
    monkeypatch.setattr(EvaluationWorker, "start", classmethod(lambda cls: pytest.fail("a worker was started")))
    out = run_folder.train_run(
        RunConfig.from_dict({"train": {"epochs": 1, "progress": False}}), tmp_path / "run", evaluate=False
    )
    assert not (out / "model.png").exists()


def test_evaluating_a_run_later_is_done_by_the_worker(tmp_path, monkeypatch):
    config = RunConfig.from_dict({"train": {"epochs": 1, "progress": False}})
    out = run_folder.train_run(config, tmp_path / "run", evaluate=False)
    monkeypatch.setattr(evaluation_worker, "worth_a_worker", lambda: True)
    monkeypatch.setattr(evaluate, "evaluate_here", never_here)
    monkeypatch.setattr(evaluation_worker, "evaluate_here", never_here)
    run_folder.evaluate_run(out)
    assert (out / "model.png").is_file() and (out / "report.html").is_file() and (out / "metrics.json").is_file()


def test_a_worker_that_never_reads_its_job_cannot_block_the_trainer(job_parts, tmp_path, monkeypatch):
    monkeypatch.setattr(evaluation_worker, "WAIT_SECONDS", 1.0)
    monkeypatch.setattr(evaluation_worker, "evaluate_here", evaluated_here([]))
    worker = fake_worker("import time; time.sleep(60)")  # the job (far above a pipe's 64 KiB) is never read
    worker.submit(make_job(job_parts, tmp_path / "figures"))
    assert names(worker.result().figures) == ["x.png"]


def test_the_worker_imports_nothing_from_the_working_directory(job_parts, tmp_path, monkeypatch):
    (tmp_path / "random.py").write_text("raise RuntimeError('a module of the user that shadows the standard one')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [*sys.path, Path(tmp_path / "elsewhere")])  # a Path, as some programs add
    monkeypatch.setattr(evaluation_worker, "evaluate_here", never_here)
    worker = EvaluationWorker.start()
    worker.submit(make_job(job_parts, tmp_path / "figures"))
    assert "model.png" in names(worker.result().figures)


def test_a_worker_stopped_while_writing_a_figure_leaves_no_temporary_file(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluation_worker, "STOP_SECONDS", 30.0)  # its 2 s ran out once on a loaded machine
    code = (
        "import signal, sys, time\n"
        "from sharedlatent.runs.evaluation_worker import _leave\n"
        "from sharedlatent.storage import atomic_path\n"
        "signal.signal(signal.SIGTERM, _leave)\n"
        f"with atomic_path({str(tmp_path / 'figure.png')!r}) as temporary:\n"
        "    open(temporary, 'wb').write(b'half a figure')\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "writing"
    worker = EvaluationWorker(process)
    worker.close()
    assert process.returncode == 1  # left through SystemExit, so the temporary file was removed on the way
    assert list(tmp_path.iterdir()) == []


def test_the_worker_process_leaves_without_the_interpreters_teardown():
    code = (
        "import atexit, sys\n"
        "from sharedlatent.runs import evaluation_worker as w\n"
        "atexit.register(lambda: print('teardown', flush=True))\n"
        "w.main = lambda trainer: (sys.stdout.write('done'), sys.stdout.flush(), 3)[2]\n"
        "w.run(0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 3 and result.stdout == "done"
