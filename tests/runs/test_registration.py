"""What a CLI run records about its data for the Python API: feature names per domain, and for the h5ad / h5mu
loaders the modality, layer or obsm key and batch column the loader read."""

from sharedlatent.runs.registration import run_registration

SIZES = {"rna": 3, "protein": 2}
NAMES = {"rna": ["g1", "g2", "g3"], "protein": ["CD3", "CD4"]}


def test_h5mu_records_modalities_layers_and_the_batch_column():
    options = {"left_mod": "RNA", "right_mod": "ADT", "layer": "counts", "right_obsm": "X_adt", "batch_key": "donor"}
    registration = run_registration("h5mu", options, SIZES, NAMES)
    rna, protein = registration.domains["rna"], registration.domains["protein"]
    assert (rna.modality, rna.layer, rna.obsm, rna.var_names) == ("RNA", "counts", None, NAMES["rna"])
    assert (protein.modality, protein.layer, protein.obsm) == ("ADT", "counts", "X_adt")
    assert registration.batch_key == "donor"


def test_h5ad_records_no_modality_and_a_left_layer_only_on_the_left():
    registration = run_registration("h5ad", {"left_layer": "counts"}, SIZES, NAMES)
    assert registration.domains["rna"].layer == "counts" and registration.domains["protein"].layer is None
    assert registration.domains["rna"].modality is None and registration.batch_key is None


def test_tables_record_feature_names_only_where_each_feature_has_one_name():
    registration = run_registration("table", {"batch_key": "x"}, SIZES, NAMES)
    assert registration.domains["protein"].var_names == ["CD3", "CD4"] and registration.batch_key is None
    assert registration.domains["rna"].layer is None and registration.domains["rna"].modality is None
    partly = run_registration("table", {}, SIZES, {"rna": ["a", "a", "b"], "protein": ["CD3", "CD4"]})
    assert list(partly.domains) == ["protein"]
    assert run_registration("table", {}, SIZES, {"rna": ["a", "a", "b"], "protein": ["p"]}) is None


def test_a_table_run_model_matches_anndata_columns_by_name(tmp_path):
    import numpy as np
    import pytest

    anndata = pytest.importorskip("anndata")
    from sharedlatent.api import SharedLatentVAE
    from sharedlatent.runs.cli import main

    args = ["train", "linnerud", "--out", str(tmp_path / "run"), "--epochs", "2", "--no-progress", "--no-evaluate"]
    assert main(args) == 0
    model = SharedLatentVAE.load(tmp_path / "run" / "model.safetensors")
    names = model.registration.domains["exercise"].var_names
    values = np.random.default_rng(0).uniform(0, 20, (5, len(names))).astype(np.float32)
    adata = anndata.AnnData(values)
    adata.var_names = names
    expected = model.encode(values, "exercise")
    np.testing.assert_allclose(model.get_latent(adata[:, ::-1].copy()).to_numpy(), expected, rtol=1e-6)
