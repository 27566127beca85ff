"""train_run's module leaves the evaluation's imports (scikit-learn, matplotlib) to the evaluation, so a run trained
with --no-evaluate never pays for them."""

from __future__ import annotations

from conftest import modules_imported_after

EVALUATION_IMPORTS = ("sharedlatent.runs.evaluate", "matplotlib", "sklearn.linear_model", "sklearn.neighbors")


def test_run_folder_module_leaves_the_evaluation_imports_to_the_evaluation():
    assert modules_imported_after("import sharedlatent.runs.folder", EVALUATION_IMPORTS) == []


def test_evaluate_into_is_still_importable_from_the_folder_module():
    from sharedlatent.runs import evaluate, folder

    assert folder.evaluate_into is evaluate.evaluate_into
