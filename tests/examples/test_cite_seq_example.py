"""The README's CITE-seq example runs offline: simulate, fit briefly, latents into obsm for every cell, protein
translated with cell types carried over and the unmeasured cells flagged; the UMAP part only where scanpy is."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("anndata")
pytest.importorskip("mudata")
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

from sharedlatent import RunConfig  # noqa: E402

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "cite_seq_example.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("cite_seq_example", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def annotated(example):
    data, mdata = example.build(n_cells=150, n_hidden=30, n_genes=40, n_proteins=6, n_informative=4)
    config = RunConfig()
    config.train.epochs, config.train.validation_fraction = 2, 0.0  # two epochs, no epoch search
    model = example.train(mdata, config)
    return data, mdata, example.annotate(model, mdata)


def test_latent_for_every_cell_and_protein_with_cell_types(annotated):
    data, mdata, protein = annotated
    assert mdata.obsm["X_sharedlatent"].shape[0] == 150 and np.isfinite(mdata.obsm["X_sharedlatent"]).all()
    assert protein.shape == (150, 6) and list(protein.var_names) == data.protein_names
    assert (protein.obs["cell_type"].astype(str).to_numpy() == data.cell_types).all()
    np.testing.assert_array_equal(protein.obs["sharedlatent_imputed"].to_numpy(), data.hidden)


def test_umap_figure_where_scanpy_is_installed(example, annotated, tmp_path):
    pytest.importorskip("scanpy")
    data, mdata, protein = annotated
    rna = mdata.mod["rna"]
    example.embed(rna)
    assert example.draw(rna, protein, data, tmp_path / "figure.png").stat().st_size > 0
