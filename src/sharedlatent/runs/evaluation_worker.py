"""Score a run's metrics and draw its figures in a second Python process, started before training.

After a small model's training, the metrics (scikit-learn's import included) and the figures (matplotlib's import
included) took most of the default run's time after training. The worker starts before training and imports both on
the core that training leaves idle, in a process of its own, so without contending for the trainer's interpreter
lock. After training, the trainer sends it the evaluation as plain data. On Linux the worker then forks: its two
processes draw half the figures each, and one of them scores the metrics too.

The job goes to the worker as a pickle over its stdin pipe: written by the process that started it, never read from
a file. Whatever goes wrong in the worker (it cannot start, fails, dies or hangs past WAIT_SECONDS), the trainer
scores and draws everything itself, so a failure is reported exactly as without a worker."""

from __future__ import annotations

import builtins
import contextlib
import gc
import importlib
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

from sharedlatent.runs.figure_job import FIGURE_MODULES, FigureJob, draw_figures, figure_plan, merge_shares
from sharedlatent.storage import json_default

if TYPE_CHECKING:
    from sharedlatent.evaluation.metrics_inputs import MetricsInputs

WAIT_SECONDS = 600.0  # metrics and figures read at most a few thousand samples; past this the worker is stuck
WORKER_MODULES = (*FIGURE_MODULES, "sharedlatent.evaluation.run_metrics")  # imported before the job arrives
WORKER_MAIN = "sharedlatent.runs.evaluation_worker"
STOP_SECONDS = 2.0  # a stopped worker's time to remove the figure it was writing before it is killed
ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")  # the worker's processes share 2 cores
SHARES = 2  # the forked worker's processes, each drawing every other figure
PR_SET_PDEATHSIG = 1  # Linux prctl option: the signal this process gets when its parent dies


@dataclass
class EvaluationJob:
    """One split's evaluation as plain data: its figures and the inputs of its metrics."""

    figures: FigureJob
    metrics: MetricsInputs


@dataclass
class EvaluationResult:
    """The figures drawn, in report order, and the metrics scored."""

    figures: list[Path]
    metrics: dict[str, Any]


def evaluate_here(job: EvaluationJob) -> EvaluationResult:
    """Score the metrics and draw every figure in this process."""
    from sharedlatent.evaluation.run_metrics import score_run

    metrics = score_run(job.metrics)
    return EvaluationResult(draw_figures(job.figures), metrics)


class EvaluationWorker:
    """A started worker process waiting for one EvaluationJob."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.job: EvaluationJob | None = None

    @classmethod
    def start(cls) -> EvaluationWorker | None:
        """Start a worker (it imports the figure and metrics code, then waits); None where no process can start."""
        try:
            # The trainer's import path, set before anything is imported: this same sharedlatent, and never a module
            # that happens to lie in the working directory
            paths = [os.fspath(path) for path in sys.path if isinstance(path, (str, os.PathLike)) and os.fspath(path)]
            code = f"import sys; sys.path[:] = {paths!r}; from {WORKER_MAIN} import run; run({os.getpid()})"
            process = subprocess.Popen(
                [sys.executable, "-c", code],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # a failure is evaluated again, and reported, by the trainer
                env=dict(os.environ, **{name: "1" for name in ONE_THREAD}),
            )
        except Exception:  # noqa: BLE001 - no worker never stops a run: the trainer evaluates
            return None
        return cls(process)

    def submit(self, job: EvaluationJob) -> None:
        """Send the job; the worker evaluates it while the caller goes on (a worker that died is noticed in
        `result`). A thread writes it, so a worker that never reads cannot block the caller past `result`'s wait."""
        self.job = job
        stdin, self.process.stdin = self.process.stdin, None  # the writer's now: communicate() must not touch it
        try:
            data = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - e.g. a loader's renderer that cannot be pickled: evaluated here instead
            data = b""  # the worker reads no job and leaves; `result` finds none
        threading.Thread(target=_write_and_close, args=(stdin, data), daemon=True).start()

    def result(self) -> EvaluationResult:
        """The submitted job's figures and metrics from the worker, or evaluated here where it did not deliver."""
        assert self.job is not None, "submit a job first"
        result = self._worker_result(self.job)
        return result if result is not None else evaluate_here(self.job)

    def _worker_result(self, job: EvaluationJob) -> EvaluationResult | None:
        """What the worker reports, or None where it failed in any way."""
        try:
            output, _ = self.process.communicate(timeout=WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            self.close()
            return None
        if self.process.returncode != 0:
            return None
        try:
            reported = json.loads(output)
            names, metrics = reported["figures"], reported["metrics"]
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(metrics, dict) or not _drawn(names, job.figures.folder):
            return None
        _warn_again(reported.get("warnings"))
        return EvaluationResult([job.figures.folder / name for name in names], metrics)

    def __enter__(self) -> EvaluationWorker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker if it still runs (no job was submitted, or the run stopped while it worked): asked first,
        so that a figure being written is cleaned up, then killed."""
        if self.process.poll() is None:
            self.process.terminate()  # its forked process is stopped by it, or by the kernel as it dies (Linux)
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        self.process.stdin = None


def _warn_again(raised: object) -> None:
    """Raise here the warnings the worker's evaluation raised, as the evaluation in this process would have: with
    their built-in category, or as a UserWarning that names its own (a library's, e.g. ConvergenceWarning)."""
    for item in raised if isinstance(raised, list) else []:
        if not (isinstance(item, list) and len(item) == 2 and all(isinstance(part, str) for part in item)):
            continue
        name, message = item
        category = getattr(builtins, name, None)
        if isinstance(category, type) and issubclass(category, Warning):
            warnings.warn(message, category, stacklevel=3)
        else:
            warnings.warn(f"{name}: {message}", UserWarning, stacklevel=3)


def _distinct(raised: list[warnings.WarningMessage]) -> list[tuple[str, str]]:
    """Each distinct warning raised, as (category name, message), in order."""
    return list(dict.fromkeys((item.category.__name__, str(item.message)) for item in raised))


def _drawn(names: object, folder: Path, expected: int | None = None) -> bool:
    """Whether `names` lists figure files that exist in `folder` (`expected` of them, where given)."""
    return (
        isinstance(names, list)
        and all(isinstance(name, str) and (folder / name).is_file() for name in names)
        and (expected is None or len(names) == expected)
    )


def _write_and_close(stream: IO[bytes] | None, data: bytes) -> None:
    """Write the job to the worker's stdin and close it; a worker that has gone is noticed by `result`."""
    if stream is None:
        return
    with contextlib.suppress(OSError):
        stream.write(data)
    with contextlib.suppress(OSError):
        stream.close()


def worth_a_worker() -> bool:
    """Whether a worker would save time: most of what it saves is matplotlib's and scikit-learn's imports, which a
    process that has imported matplotlib already (a notebook, a test session) has likely paid; there the figures
    and metrics are done in-process."""
    return "matplotlib" not in sys.modules


def evaluation_worker(wanted: bool) -> contextlib.AbstractContextManager[EvaluationWorker | None]:
    """A started worker that is stopped on leaving the block, or None (not `wanted`, not worth it, or none could
    start)."""
    worker = EvaluationWorker.start() if wanted and worth_a_worker() else None
    return worker if worker is not None else contextlib.nullcontext()


def evaluate_in_two_processes(job: EvaluationJob) -> EvaluationResult:
    """Score the metrics and draw the second share of the figures here (the smaller, where they do not divide
    evenly), while a forked process draws the first. Where the forked process fails, its figures are drawn here."""
    from sharedlatent.evaluation.run_metrics import score_run

    read_end, write_end = os.pipe()
    parent = os.getpid()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        _draw_share_and_exit(job.figures, write_end, parent)
    os.close(write_end)
    try:
        metrics = score_run(job.metrics)
        mine = draw_figures(job.figures, 1, SHARES)
        theirs = _forked_figures(read_end, child, job.figures)
    finally:
        _stop(child)
    if theirs is None:
        theirs = draw_figures(job.figures, 0, SHARES)
    return EvaluationResult(merge_shares([theirs, mine]), metrics)


def _draw_share_and_exit(job: FigureJob, write_end: int, parent: int) -> NoReturn:
    """The forked process: draw the first share of the figures, write their names to the pipe, leave at once (no
    exit handlers or buffers of the parent's: they are the parent's to run)."""
    code = 1
    try:
        _leave_with(parent)
        with warnings.catch_warnings(record=True) as raised:
            warnings.simplefilter("always")
            names = [path.name for path in draw_figures(job, 0, SHARES)]
        with os.fdopen(write_end, "w") as stream:
            stream.write(json.dumps({"figures": names, "warnings": _distinct(raised)}))
        code = 0
    finally:
        os._exit(code)


def _forked_figures(read_end: int, child: int, job: FigureJob) -> list[Path] | None:
    """The figures the forked process reports (its warnings raised again here), or None where it failed."""
    with os.fdopen(read_end) as stream:
        text = stream.read()
    _, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return None
    try:
        reported = json.loads(text)
        names = reported["figures"]
    except (ValueError, KeyError, TypeError):
        return None
    if not _drawn(names, job.folder, len(figure_plan(job)[0::SHARES])):
        return None
    _warn_again(reported.get("warnings"))  # into this process's record of them
    return [job.folder / name for name in names]


def _stop(child: int) -> None:
    """Stop the forked process if it still runs (this one is leaving early), and reap it."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(child, os.WNOHANG) == (0, 0):
            os.kill(child, signal.SIGTERM)
            os.waitpid(child, 0)


def _fork_safe() -> bool:
    """Whether to fork: on Linux. macOS's system libraries are not fork-safe (CPython's multiprocessing stopped
    forking there by default for that reason), and Windows cannot fork."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def _leave(signum: int, frame: object) -> None:
    raise SystemExit(1)


def _leave_with(parent: int) -> None:
    """Be stopped (SIGTERM) when the process that started this one dies, killed or not, so that nothing goes on
    writing into a run that is gone: the kernel's parent-death signal on Linux, elsewhere nothing. A parent already
    gone means leaving now."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):  # without it, a stop still comes from the parent's own close
            import ctypes

            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:
        raise SystemExit(1)


def run(trainer: int) -> NoReturn:
    """The worker process's entry: main, then leave without the interpreter's teardown (freeing matplotlib's and
    scikit-learn's modules kept the trainer waiting about half a second past the worker's report: a one-off timing,
    timestamps written by the worker and the trainer around one default run)."""
    code = 1
    try:
        code = main(trainer)
    finally:
        os._exit(code)


def main(trainer: int) -> int:
    """The worker for the process `trainer`: import the figure and metrics code, read one job from stdin, evaluate
    it, write the figure names, the metrics and the warnings raised as JSON to stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the trainer, which then stops this process
    signal.signal(signal.SIGTERM, _leave)  # the trainer's stop: a figure being written is removed on the way out
    _leave_with(trainer)
    # The report gets stdout's pipe to itself: whatever else prints (a user's loader module, imported again to
    # unpickle its renderer) goes where stderr goes
    report = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    for name in WORKER_MODULES:
        with contextlib.suppress(Exception):  # a failing import fails again, with its error, in the trainer
            importlib.import_module(name)
    # The imported modules' objects live as long as the process: left out of garbage collection, which then does not
    # walk them again and again while the figures make many small objects, nor touch (copy) their pages after fork
    gc.freeze()
    data = sys.stdin.buffer.read()
    if not data:
        return 0  # nothing was submitted
    try:
        with warnings.catch_warnings(record=True) as raised:
            warnings.simplefilter("always")
            job = pickle.loads(data)  # noqa: S301 - the pipe from the process that started this one, never a file
            result = evaluate_in_two_processes(job) if _fork_safe() else evaluate_here(job)
        text = json.dumps(
            {
                "figures": [path.name for path in result.figures],
                "metrics": result.metrics,
                "warnings": _distinct(raised),
            },
            default=json_default,
        )
    except Exception:  # noqa: BLE001 - the trainer evaluates again and reports the error itself, once
        return 1
    with report:
        report.write(text)
    return 0
