"""`sharedlatent encode` and translate on .h5mu: a final model (test_fraction=0) trained by the h5mu loader reads new
cells from the layer it was trained on; outputs keep obs, flag unmeasured targets and name the run."""

import numpy as np
import pandas as pd
import pytest

anndata = pytest.importorskip("anndata")
mudata = pytest.importorskip("mudata")

from test_objects import CELLS, PROTEINS, RNA_ONLY, cite_seq  # noqa: E402

from sharedlatent.runs.cli import main  # noqa: E402
from sharedlatent.runs.folder import NO_TEST_NOTE  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    cite_seq().write_h5mu(folder / "cells.h5mu")
    options = ["path=" + str(folder / "cells.h5mu"), "left_mod=rna", "right_mod=protein", "left_layer=counts"]
    options += ["pairing=outer", "test_fraction=0"]
    args = ["train", "h5mu", "--out", str(folder / "run"), "--epochs", "2", "--no-progress"]
    assert main(args + [item for option in options for item in ("--data-option", option)]) == 0
    return folder


def test_final_model_trains_on_every_cell_and_skips_evaluation(run):
    assert not (run / "run" / "metrics.json").exists()
    assert NO_TEST_NOTE in (run / "run" / "run.json").read_text()


def test_encode_writes_obs_and_latent_for_every_cell(run, capsys):
    out = run / "latent.h5ad"
    assert main(["encode", str(run / "run"), "--input", str(run / "cells.h5mu"), "--output", str(out)]) == 0
    latent = anndata.read_h5ad(out)
    assert latent.obsm["X_sharedlatent"].shape[0] == CELLS and np.isfinite(latent.obsm["X_sharedlatent"]).all()
    assert latent.uns["sharedlatent"]["command"] == "encode"
    assert main(["encode", str(run / "run"), "--input", str(run / "cells.h5mu"), "--output", str(run / "z.csv")]) == 0
    table = pd.read_csv(run / "z.csv", index_col="obs_names")
    np.testing.assert_allclose(table.to_numpy(), latent.obsm["X_sharedlatent"], rtol=1e-5)


def test_translate_h5mu_reads_the_trained_layer_and_flags_rna_only_cells(run, capsys):
    out = run / "protein.h5ad"
    args = ["translate", str(run / "run"), "--source", "rna", "--target", "protein"]
    assert main([*args, "--input", str(run / "cells.h5mu"), "--output", str(out)]) == 0
    result = anndata.read_h5ad(out)
    assert result.shape == (CELLS, PROTEINS)
    assert list(result.obs["cell_type"]) == list(cite_seq().mod["rna"].obs["cell_type"])
    assert int(result.obs["sharedlatent_imputed"].sum()) == RNA_ONLY
    assert result.uns["sharedlatent"]["layer"] == "counts" and result.uns["sharedlatent"]["run"] == str(run / "run")
    with pytest.warns(UserWarning, match="raw counts"):
        main([*args, "--input", str(run / "cells.h5mu"), "--output", str(run / "x.h5ad"), "--layer", "X"])
    assert main([*args, "--input", str(run / "cells.h5mu"), "--output", str(run / "y.h5ad"), "--layer", "nope"]) == 2
    assert "no layer 'nope'" in capsys.readouterr().err.strip().splitlines()[-1]
