"""Draw a run's figures in a second Python process while the first computes the metrics.

After a small model's training, drawing the figures (matplotlib's import included) and the metrics (scikit-learn's
import included) took most of the default run's time after training, one after the other on one core. The worker
starts before training and imports matplotlib and the figure code on the core that training leaves idle (in a
process of its own, so without contending for the trainer's interpreter lock); after training it draws the figures
while the trainer computes the metrics.

The job goes to the worker as a pickle over its stdin pipe: written by the process that started it, never read from
a file. Whatever goes wrong in the worker (it cannot start, fails, dies or hangs past WAIT_SECONDS), the figures are
drawn in the trainer's own process instead, so a failure is reported exactly as without a worker."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from sharedlatent.runs.figure_job import FIGURE_MODULES, FigureJob, draw_figures

WAIT_SECONDS = 600.0  # figures are drawn from at most a few thousand samples; past this the worker is stuck
WORKER_MODULE = "sharedlatent.runs.figure_worker"
STOP_SECONDS = 2.0  # a stopped worker's time to remove the figure it was writing before it is killed
ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")  # drawing beside the metrics, not in them


class FigureWorker:
    """A started worker process waiting for one FigureJob."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.job: FigureJob | None = None

    @classmethod
    def start(cls) -> FigureWorker | None:
        """Start a worker (it imports the figure code, then waits); None where no process can be started."""
        try:
            # The trainer's import path, set before anything is imported: this same sharedlatent, and never a module
            # that happens to lie in the working directory
            paths = [os.fspath(path) for path in sys.path if isinstance(path, (str, os.PathLike)) and os.fspath(path)]
            code = f"import sys; sys.path[:] = {paths!r}; from {WORKER_MODULE} import main; raise SystemExit(main())"
            process = subprocess.Popen(
                [sys.executable, "-c", code],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # a failure is drawn again, and reported, by the trainer
                env=dict(os.environ, **{name: "1" for name in ONE_THREAD}),
            )
        except Exception:  # noqa: BLE001 - no worker never stops a run: the trainer draws
            return None
        return cls(process)

    def submit(self, job: FigureJob) -> None:
        """Send the job; the worker draws it while the caller goes on (a worker that died is noticed in `figures`).
        A thread writes it, so a worker that never reads cannot block the caller past `figures`' wait."""
        self.job = job
        stdin, self.process.stdin = self.process.stdin, None  # the writer's now: communicate() must not touch it
        try:
            data = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - e.g. a loader's renderer that cannot be pickled: drawn here instead
            data = b""  # the worker reads no job and leaves; `figures` finds no result
        threading.Thread(target=_write_and_close, args=(stdin, data), daemon=True).start()

    def figures(self) -> list[Path]:
        """The submitted job's figures in report order, drawn by the worker, or here where it did not draw them."""
        assert self.job is not None, "submit a job first"
        names = self._worker_result()
        if names is None:
            return draw_figures(self.job)
        return [self.job.folder / name for name in names]

    def _worker_result(self) -> list[str] | None:
        """The figure file names the worker reports, or None where it failed in any way."""
        try:
            output, _ = self.process.communicate(timeout=WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            self.close()
            return None
        if self.process.returncode != 0:
            return None
        try:
            names = json.loads(output)["figures"]
        except (ValueError, KeyError, TypeError):
            return None
        assert self.job is not None
        if not isinstance(names, list) or not all(
            isinstance(n, str) and (self.job.folder / n).is_file() for n in names
        ):
            return None
        return names

    def __enter__(self) -> FigureWorker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker if it still runs (no job was submitted, or the run stopped while it drew): asked first, so
        that a figure being written is cleaned up, then killed."""
        if self.process.poll() is None:
            self.process.terminate()
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


def _write_and_close(stream: IO[bytes] | None, data: bytes) -> None:
    """Write the job to the worker's stdin and close it; a worker that has gone is noticed by `figures`."""
    if stream is None:
        return
    with contextlib.suppress(OSError):
        stream.write(data)
    with contextlib.suppress(OSError):
        stream.close()


def worth_a_worker() -> bool:
    """Whether a worker would save time: most of what it saves is matplotlib's import, which a process that has
    imported it already (a notebook, a test session) does not pay; there the figures are drawn in-process."""
    return "matplotlib" not in sys.modules


def figure_worker(wanted: bool) -> contextlib.AbstractContextManager[FigureWorker | None]:
    """A started worker that is stopped on leaving the block, or None (not `wanted`, not worth it, or none could
    start)."""
    worker = FigureWorker.start() if wanted and worth_a_worker() else None
    return worker if worker is not None else contextlib.nullcontext()


def _leave(signum: int, frame: object) -> None:
    raise SystemExit(1)


def main() -> int:
    """The worker: import the figure code, read one job from stdin, draw it, print the figure names as JSON."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the trainer, which then stops this process
    signal.signal(signal.SIGTERM, _leave)  # the trainer's stop: a figure being written is removed on the way out
    for name in FIGURE_MODULES:
        with contextlib.suppress(Exception):  # a failing import fails again, with its error, in the trainer
            importlib.import_module(name)
    data = sys.stdin.buffer.read()
    if not data:
        return 0  # nothing was submitted
    try:
        job = pickle.loads(data)  # noqa: S301 - the pipe from the process that started this one, never a file
        figures = draw_figures(job)
    except Exception:  # noqa: BLE001 - the trainer draws again and reports the error itself, once
        return 1
    sys.stdout.write(json.dumps({"figures": [path.name for path in figures]}))
    return 0
