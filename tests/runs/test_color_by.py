"""A run on .h5mu data colours its latent plot by an obs column (legend or colour bar), draws its count domains as
heatmaps, and refuses an unknown column in one line."""

import json

import numpy as np
import pytest

anndata = pytest.importorskip("anndata")
mudata = pytest.importorskip("mudata")

from sharedlatent.datasets.simulated_cite_seq import as_mudata, simulate_cite_seq  # noqa: E402
from sharedlatent.runs.cli import main  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::FutureWarning")]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("colour")
    data = simulate_cite_seq(n_cells=160, n_genes=40, n_proteins=8, n_informative=4, n_hidden=20, seed=1)
    mdata = as_mudata(data)
    mdata.mod["rna"].obs["total_counts"] = data.rna.sum(axis=1)
    mdata.write_h5mu(folder / "cells.h5mu")
    options = ["path=" + str(folder / "cells.h5mu"), "left_mod=rna", "right_mod=protein", "left_layer=counts"]
    args = ["train", "h5mu", "--out", str(folder / "run"), "--epochs", "2", "--no-progress", "--color-by", "cell_type"]
    args += ["--set", "train.validation_fraction=0.0"]  # no epoch search: the test stays short
    assert main(args + [item for option in options for item in ("--data-option", option)]) == 0
    return folder / "run"


def test_count_domains_get_heatmaps_in_the_report(run):
    figures = json.loads((run / "run.json").read_text())["figures"]
    assert "heatmap_rna_test.png" in figures and "heatmap_protein_test.png" in figures
    assert "heatmap rna test" in (run / "report.html").read_text()


def test_evaluate_colours_by_a_numeric_column_and_refuses_an_unknown_one(run, capsys):
    before = (run / "latent_test.png").read_bytes()
    assert main(["evaluate", str(run), "--color-by", "total_counts"]) == 0
    assert (run / "latent_test.png").read_bytes() != before  # a colour bar instead of the cell-type legend
    assert main(["evaluate", str(run), "--color-by", "donor"]) == 2
    message = capsys.readouterr().err
    assert "no obs column 'donor'" in message and "cell_type" in message


def test_cells_obs_fills_each_column_from_the_modalities_that_have_the_cell():
    import pandas as pd

    from sharedlatent.datasets.anndata_files import Modality, cells_obs

    first = anndata.AnnData(np.zeros((2, 1)), obs=pd.DataFrame({"kind": ["a", None]}, index=["c1", "c2"]))
    second = anndata.AnnData(np.zeros((2, 1)), obs=pd.DataFrame({"kind": ["x", "b"]}, index=["c2", "c3"]))
    modalities = {"one": Modality("one", first, first.X, ["f"]), "two": Modality("two", second, second.X, ["f"])}
    obs = cells_obs(modalities)
    assert list(obs.index) == ["c1", "c2", "c3"] and list(obs["kind"]) == ["a", "x", "b"]


def test_a_misspelt_column_is_refused_before_training(run, tmp_path, capsys):
    options = ["path=" + str(run.parent / "cells.h5mu"), "left_mod=rna", "right_mod=protein", "left_layer=counts"]
    args = ["train", "h5mu", "--out", str(tmp_path / "x"), "--no-progress", "--color-by", "celltype"]
    args += [item for option in options for item in ("--data-option", option)]
    assert main(args) == 2
    assert "no obs column 'celltype'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not list(
        tmp_path.glob(".x*")
    )  # no run, no checkpoint left to block a rerun
    assert main(args[:-2] + ["--no-evaluate", "--color-by", "cell_type"]) == 2
    assert "which --no-evaluate skips" in capsys.readouterr().err
