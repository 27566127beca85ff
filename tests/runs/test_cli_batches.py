"""Batch covariates in CLI runs: two .h5ad files with a donor column train with batch_key; metrics.json reports
batch mixing; translate reads the donor column or answers "as if from" another donor; mistakes are one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

anndata = pytest.importorskip("anndata")
pd = pytest.importorskip("pandas")

from sharedlatent.runs.cli import main  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")
CELLS, DONORS = 240, ("d1", "d2")
SRC = str(Path(__file__).parents[2] / "src")


def donor_shifted(n: int = CELLS, seed: int = 0) -> dict[str, anndata.AnnData]:
    """rna and protein of 3 cell types; donor d2 adds a per-feature offset to both. The donor column is in rna's obs."""
    rng = np.random.default_rng(seed)
    types, donors = rng.integers(0, 3, n), rng.integers(0, 2, n)
    cells = pd.Index([f"cell{i}" for i in range(n)])
    objects = {}
    for name, width in (("rna", 20), ("protein", 6)):
        centres, offset = rng.normal(0, 1.5, (3, width)), rng.normal(0, 2.5, width)
        values = centres[types] + donors[:, None] * offset + rng.normal(0, 0.5, (n, width))
        var = pd.DataFrame(index=[f"{name}{j}" for j in range(width)])
        objects[name] = anndata.AnnData(values.astype(np.float32), obs=pd.DataFrame(index=cells), var=var)
    objects["rna"].obs["donor"] = pd.Categorical(np.asarray(DONORS)[donors])
    objects["rna"].obs["cell_type"] = np.asarray(["T", "B", "NK"])[types]
    return objects


def data_options(folder: Path, *extra: str) -> list[str]:
    options = [f"left_path={folder / 'rna.h5ad'}", f"right_path={folder / 'protein.h5ad'}", "left=rna", "right=protein"]
    return [item for option in (*options, *extra) for item in ("--data-option", option)]


TRAIN = ["--epochs", "4", "--no-progress", "--set", "model.private_widths=[16]", "--set", "model.shared_widths=[8]"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batches")
    for name, adata in donor_shifted().items():
        adata.write_h5ad(folder / f"{name}.h5ad")
    options = data_options(folder, "batch_key=donor", "label_column=cell_type")
    assert main(["train", "h5ad", "--out", str(folder / "run"), *TRAIN, "--set", "model.latent_size=4", *options]) == 0
    return folder


def test_metrics_report_batch_mixing_of_the_test_split(run):
    metrics = json.loads((run / "run" / "metrics.json").read_text())
    mixing = metrics["batch_mixing"]
    assert 0.0 <= mixing["entropy"] <= 1.0 and mixing["batches"] == 2 and mixing["k"] == 30
    assert "entropy of batch labels" in mixing["definition"] and mixing["generated_as_batch"] == "d1"
    assert mixing["generated_as_batch_rule"] == "the first of the model's batch labels, sorted"
    assert (run / "run" / "report.html").exists()


def test_evaluate_reruns_on_a_batch_model(run, capsys):
    assert main(["evaluate", str(run / "run"), "--split", "train"]) == 0
    assert "batch_mixing definition: mean over samples" in capsys.readouterr().out
    assert "batch_mixing" in json.loads((run / "run" / "metrics_train.json").read_text())
    assert main(["info", str(run / "run")]) == 0
    assert "batches   mixing entropy" in capsys.readouterr().out


def test_translate_reads_the_donor_column_and_transform_batch_changes_the_answer(run):
    args = ["translate", str(run / "run"), "--source", "rna", "--target", "protein", "--input", str(run / "rna.h5ad")]
    assert main([*args, "--output", str(run / "own.h5ad")]) == 0
    assert main([*args, "--output", str(run / "as_d2.h5ad"), "--transform-batch", "d2"]) == 0
    own, as_d2 = anndata.read_h5ad(run / "own.h5ad"), anndata.read_h5ad(run / "as_d2.h5ad")
    d2 = (own.obs["donor"] == "d2").to_numpy()
    np.testing.assert_allclose(own.X[d2], as_d2.X[d2], rtol=1e-5, atol=1e-6)  # d2 cells as if from d2: unchanged
    assert not np.allclose(own.X[~d2], as_d2.X[~d2])  # d1 cells now decoded as d2
    assert as_d2.uns["sharedlatent"]["transform_batch"] == "d2"


def test_csv_input_needs_a_batch_label(run, capsys):
    table = pd.DataFrame(anndata.read_h5ad(run / "rna.h5ad").X, columns=[f"rna{j}" for j in range(20)])
    table.to_csv(run / "rna.csv", index=False)
    args = ["translate", str(run / "run"), "--source", "rna", "--target", "protein", "--input", str(run / "rna.csv")]
    assert main([*args, "--output", str(run / "p.csv")]) == 2
    assert "decodes per batch (d1, d2); give --batch LABEL" in capsys.readouterr().err
    assert main([*args, "--output", str(run / "p.csv"), "--batch", "d1"]) == 0
    assert main([*args, "--output", str(run / "q.csv"), "--batch", "d9"]) == 2
    assert "unknown batch label 'd9'" in capsys.readouterr().err
    assert main(["generate", str(run / "run"), "-n", "3", "--output", str(run / "g.npz")]) == 2
    assert (
        main(["generate", str(run / "run"), "-n", "3", "--output", str(run / "g.npz"), "--transform-batch", "d2"]) == 0
    )


def test_a_missing_batch_column_is_one_line_exit_2(run):
    command = [sys.executable, "-m", "sharedlatent", "train", "h5ad", "--out", str(run / "bad"), *TRAIN]
    command += data_options(run, "batch_key=lane")
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ | {"PYTHONPATH": SRC}, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: batch_key 'lane' is in the obs of none of {run / 'rna.h5ad'}, {run / 'protein.h5ad'}"
        "; the obs columns are: donor, cell_type"
    ]
    assert not (run / "bad").exists()


def test_transform_batch_needs_no_donor_column_and_takes_unseen_donors(run, capsys):
    from sharedlatent.api import SharedLatentVAE
    from sharedlatent.errors import SharedLatentError

    model = SharedLatentVAE.load(run / "run" / "model.safetensors")
    assert model.registration.batch_key == "donor"
    rna = anndata.read_h5ad(run / "rna.h5ad")
    as_d1 = model.translate(rna, "rna", "protein", transform_batch="d1").X
    no_column, unseen = rna.copy(), rna.copy()
    del no_column.obs["donor"]
    unseen.obs["donor"] = "d9"
    for cells in (no_column, unseen):
        np.testing.assert_array_equal(model.translate(cells, "rna", "protein", transform_batch="d1").X, as_d1)
    with pytest.raises(SharedLatentError, match=r"'donor' is in no obs .*cell_type; give batch= .*transform_batch="):
        model.translate(no_column, "rna", "protein")
    with pytest.raises(SharedLatentError, match=r"not fitted on \('d9'; it knows d1, d2\); give transform_batch="):
        model.translate(unseen, "rna", "protein")
    unseen.write_h5ad(run / "unseen.h5ad")
    args = [
        "translate",
        str(run / "run"),
        "--source",
        "rna",
        "--target",
        "protein",
        "--input",
        str(run / "unseen.h5ad"),
    ]
    assert main([*args, "--output", str(run / "unseen_as_d1.h5ad"), "--transform-batch", "d1"]) == 0
    np.testing.assert_array_equal(anndata.read_h5ad(run / "unseen_as_d1.h5ad").X, as_d1)
    capsys.readouterr()
    assert main([*args, "--output", str(run / "unseen_own.h5ad")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.endswith("give --transform-batch LABEL to decode the cells as a known batch") and "=" not in error
