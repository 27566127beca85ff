"""The evaluation's imports run beside training: train_run's module does not import them, preload does."""

from __future__ import annotations

import subprocess
import sys

EVALUATION_IMPORTS = ("sharedlatent.runs.evaluate", "matplotlib", "sklearn.linear_model", "sklearn.neighbors")


def _imported_after(code: str) -> list[str]:
    """The modules of EVALUATION_IMPORTS that a fresh interpreter holds after running `code`."""
    script = f"import sys\n{code}\nprint(','.join(m for m in {EVALUATION_IMPORTS!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return [name for name in result.stdout.strip().split(",") if name]


def test_run_folder_module_leaves_the_evaluation_imports_to_the_preload():
    assert _imported_after("import sharedlatent.runs.folder") == []


def test_preload_imports_the_evaluation_modules():
    code = "from sharedlatent.runs.preload import preload\npreload().join()"
    assert _imported_after(code) == list(EVALUATION_IMPORTS)


def test_preload_of_a_missing_module_stops_quietly():
    code = "from sharedlatent.runs.preload import preload\npreload(('no_such_module_here', 'matplotlib')).join()"
    assert _imported_after(code) == []  # stops at the first failure; the evaluation's own import reports it


def test_evaluate_into_is_still_importable_from_the_folder_module():
    from sharedlatent.runs import evaluate, folder

    assert folder.evaluate_into is evaluate.evaluate_into
