"""train_run's module leaves the evaluation's imports (scikit-learn, matplotlib) to the evaluation, so a run trained
with --no-evaluate never pays for them."""

from __future__ import annotations

import subprocess
import sys

EVALUATION_IMPORTS = ("sharedlatent.runs.evaluate", "matplotlib", "sklearn.linear_model", "sklearn.neighbors")


def _imported_after(code: str) -> list[str]:
    """The modules of EVALUATION_IMPORTS that a fresh interpreter holds after running `code`."""
    script = f"import sys\n{code}\nprint(','.join(m for m in {EVALUATION_IMPORTS!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return [name for name in result.stdout.strip().split(",") if name]


def test_run_folder_module_leaves_the_evaluation_imports_to_the_evaluation():
    assert _imported_after("import sharedlatent.runs.folder") == []


def test_evaluate_into_is_still_importable_from_the_folder_module():
    from sharedlatent.runs import evaluate, folder

    assert folder.evaluate_into is evaluate.evaluate_into
