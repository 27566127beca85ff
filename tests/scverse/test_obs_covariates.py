"""Continuous covariates read from obs (continuous_covariate_keys): fit, get_latent and translate read the columns,
and the keys travel with the saved model."""

import numpy as np
import pytest

anndata = pytest.importorskip("anndata")
mudata = pytest.importorskip("mudata")

from test_objects import CELLS, cite_seq, config  # noqa: E402

from sharedlatent.api import SharedLatentVAE  # noqa: E402
from sharedlatent.errors import SharedLatentError  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # mudata announces a change to MuData.update()


def with_mito(seed: int = 0):
    mdata = cite_seq(seed)
    mdata.mod["rna"].obs["pct_mito"] = np.random.default_rng(seed).uniform(1, 10, CELLS)
    return mdata


def test_obs_columns_are_read_in_fit_latent_and_translate_and_saved(tmp_path):
    mdata = with_mito()
    model = SharedLatentVAE.from_data(mdata, config(), layer={"rna": "counts"}, continuous_covariate_keys=["pct_mito"])
    model.fit(mdata)
    assert model.covariate_scaler.names == ("pct_mito",) and model.config.model.continuous_covariates == 1
    mito = mdata.mod["rna"].obs["pct_mito"].to_numpy()
    counts = mdata.mod["rna"].layers["counts"].toarray()
    translated = model.translate(mdata, "rna", "protein")
    np.testing.assert_allclose(translated.X, model.translate(counts, "rna", "protein", covariates=mito), rtol=1e-5)
    at_five = model.translate(mdata, "rna", "protein", covariates=[5.0]).X
    assert not np.allclose(at_five, translated.X)
    assert model.get_latent(mdata).shape == (CELLS, 4)
    model.save(tmp_path / "model.safetensors")
    loaded = SharedLatentVAE.load(tmp_path / "model.safetensors")
    assert loaded.registration.continuous_keys == ["pct_mito"]
    np.testing.assert_array_equal(loaded.translate(mdata, "rna", "protein").X, translated.X)


def test_missing_or_text_obs_columns_are_refused():
    mdata = with_mito()
    with pytest.raises(SharedLatentError, match="continuous covariate 'pct_ribo' is in no obs"):
        SharedLatentVAE.from_data(mdata, config(), continuous_covariate_keys=["pct_ribo"])
    with pytest.raises(SharedLatentError, match="'cell_type' is not a numeric obs column"):
        SharedLatentVAE.from_data(mdata, config(), continuous_covariate_keys=["cell_type"])


def test_translating_partial_cells_needs_labels_of_the_translated_cells_only():
    # Labels on each modality's obs: protein's obs covers only its own (paired) cells, which are all translated.
    mdata = with_mito()
    protein = mdata.mod["protein"]
    for column in ("batch", "pct_mito"):
        protein.obs[column] = mdata.mod["rna"].obs[column].reindex(protein.obs_names).to_numpy()
    keys = {"batch_key": "batch", "continuous_covariate_keys": ["pct_mito"]}
    model = SharedLatentVAE.from_data(mdata, config(), layer={"rna": "counts"}, **keys)
    model.fit(mdata)
    translated = model.translate(mdata, "protein", "rna")
    assert translated.n_obs == protein.n_obs and np.isfinite(translated.X).all()


def test_a_frame_indexed_by_cell_names_is_aligned_and_unknown_names_are_refused():
    mdata = with_mito()
    model = SharedLatentVAE.from_data(mdata, config(), layer={"rna": "counts"}, continuous_covariate_keys=["pct_mito"])
    model.fit(mdata)
    shuffled = mdata.mod["rna"].obs[["pct_mito"]].sample(frac=1, random_state=0)
    np.testing.assert_array_equal(
        model.translate(mdata, "rna", "protein", covariates=shuffled).X, model.translate(mdata, "rna", "protein").X
    )
    with pytest.raises(SharedLatentError, match="lack 1 of the"):
        model.translate(mdata, "rna", "protein", covariates=shuffled.iloc[1:])
    with pytest.raises(SharedLatentError, match="covariates name pct_mt, which the model was not fitted on"):
        model.translate(mdata, "rna", "protein", covariates={"pct_mito": 5.0, "pct_mt": 9.0})
