"""Import the evaluation's modules (scikit-learn's estimators, matplotlib, the figure code) on a background thread
while training runs, so the second core does that work instead of the wall clock after training.

Training a small layout runs on one thread (training/runtime.py), which leaves the other core idle; the imports take
1.5-2 s, mostly Python, and torch releases the interpreter lock inside its kernels and the backward pass. The thread
only imports: an import that fails here fails again, with its real error, when the evaluation imports it."""

from __future__ import annotations

import importlib
import threading

EVALUATION_MODULES = (
    "sharedlatent.runs.evaluate",
    "sharedlatent.figures.samples",
    "sharedlatent.figures.losses",
    "sharedlatent.figures.diagram",
    "sharedlatent.figures.latent",
    "sharedlatent.figures.summary",
    "sharedlatent.figures.report",
)


def _import_all(modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the evaluation's own import reports it
            return


def preload(modules: tuple[str, ...] = EVALUATION_MODULES) -> threading.Thread:
    """Start importing `modules` on a daemon thread; returns the thread (joining it is optional)."""
    thread = threading.Thread(target=_import_all, args=(modules,), name="sharedlatent-preload", daemon=True)
    thread.start()
    return thread
