"""AnnData / MuData through the Python API end to end: a sparse CITE-seq-like MuData with a counts layer, a batch
column and RNA-only cells; latents into obsm, translation with obs and flags, a saved registration on reload."""

import numpy as np
import pandas as pd
import pytest

anndata = pytest.importorskip("anndata")
mudata = pytest.importorskip("mudata")
scipy_sparse = pytest.importorskip("scipy.sparse")

from sharedlatent.api import SharedLatentVAE  # noqa: E402
from sharedlatent.config import DomainConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402
from sharedlatent.errors import SharedLatentError  # noqa: E402
from sharedlatent.scverse.registration import aligned_columns  # noqa: E402
from sharedlatent.scverse.translation import IMPUTED_COLUMN  # noqa: E402

GENES, PROTEINS, CELLS, RNA_ONLY = 40, 20, 240, 30

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # mudata announces a change to MuData.update()


def cite_seq(seed: int = 0):
    """Counts from 3 cell types; RNA X log-normalised, raw counts in layers['counts']; the last cells RNA-only."""
    rng = np.random.default_rng(seed)
    types = rng.integers(0, 3, CELLS)
    gene_programs, protein_programs = rng.gamma(1.0, 1.0, (3, GENES)), rng.gamma(1.0, 1.0, (3, PROTEINS))
    names = pd.Index([f"cell{i:04d}" for i in range(CELLS)])
    rna_counts = scipy_sparse.csr_matrix(rng.poisson(gene_programs[types] * 2).astype(np.float32))
    normalised = rna_counts.multiply(1e4 / np.maximum(rna_counts.sum(axis=1), 1)).log1p().tocsr()
    obs = pd.DataFrame(
        {"cell_type": [f"type{t}" for t in types], "batch": rng.choice(["b1", "b2"], CELLS)}, index=names
    )
    rna = anndata.AnnData(X=normalised.astype(np.float32), obs=obs, layers={"counts": rna_counts})
    rna.var_names = [f"gene{i}" for i in range(GENES)]
    paired = names[: CELLS - RNA_ONLY]
    proteins = rng.poisson(protein_programs[types[: len(paired)]] * 20).astype(np.float32)
    prot = anndata.AnnData(X=scipy_sparse.csr_matrix(proteins), obs=pd.DataFrame(index=paired))
    prot.var_names = [f"CD{i}" for i in range(PROTEINS)]
    return mudata.MuData({"rna": rna, "protein": prot})


def config():
    counts = DomainConfig(likelihood="nb", preprocessing="none")
    return RunConfig(
        model=ModelConfig(
            private_widths=[32], shared_widths=[16], latent_size=4, domains={"rna": counts, "protein": counts}
        ),
        train=TrainConfig(epochs=3, batch_size=64, progress=False, validation_fraction=0.1),
    )


@pytest.fixture(scope="module")
def trained():
    mdata = cite_seq()
    model = SharedLatentVAE.from_data(mdata, config(), layer={"rna": "counts"}, batch_key="batch")
    model.fit(mdata)
    return model, mdata


def test_batch_key_is_read_from_obs_and_transform_batch_decodes_as_another_batch(trained, tmp_path):
    model, mdata = trained
    assert model.batch_encoder.categories == ("b1", "b2") and model.config.model.batch_categories == 2
    as_b1 = model.translate(mdata, "rna", "protein", transform_batch="b1")
    counts = mdata.mod["rna"].layers["counts"].toarray()
    np.testing.assert_allclose(as_b1.X, model.translate(counts, "rna", "protein", batch="b1"), rtol=1e-5)
    own = model.translate(mdata, "rna", "protein").X
    batches = mdata.mod["rna"].obs["batch"].to_numpy()
    np.testing.assert_allclose(own, model.translate(counts, "rna", "protein", batch=batches), rtol=1e-5)
    assert as_b1.uns["sharedlatent"]["transform_batch"] == "b1"
    model.save(tmp_path / "model.safetensors")
    assert SharedLatentVAE.load(tmp_path / "model.safetensors").registration.batch_key == "batch"
    with pytest.raises(
        SharedLatentError, match="batch_key 'lane' is in no obs of the data; the obs columns are: .*batch"
    ):
        SharedLatentVAE.from_data(mdata, config(), batch_key="lane")


def test_latent_written_for_every_cell_paired_or_not(trained):
    model, mdata = trained
    frame = model.write_latent(mdata)
    assert mdata.obsm["X_sharedlatent"].shape == (mdata.n_obs, 4)
    assert np.isfinite(mdata.obsm["X_sharedlatent"]).all()
    assert list(frame.index) == list(mdata.obs_names)
    rna_only = mdata.obs_names[-1]
    alone = model.encode(mdata.mod["rna"].layers["counts"][-1:].toarray(), "rna")
    np.testing.assert_allclose(frame.loc[rna_only].to_numpy(), alone[0], rtol=1e-5, atol=1e-6)


def test_translation_keeps_obs_flags_imputed_cells_and_says_where_it_came_from(trained):
    model, mdata = trained
    result = model.translate(mdata, "rna", "protein")
    assert result.shape == (CELLS, PROTEINS)
    assert list(result.var_names) == [f"CD{i}" for i in range(PROTEINS)]
    assert list(result.obs["cell_type"]) == list(mdata.mod["rna"].obs["cell_type"])
    assert result.obs[IMPUTED_COLUMN].sum() == RNA_ONLY and result.obs[IMPUTED_COLUMN].iloc[-1]
    # the MuData's own "rna:cell_type" and "rna:batch" repeat the columns above: not copied twice
    assert {"rna:cell_type", "rna:batch"} <= set(mdata.obs.columns)
    assert sorted(result.obs.columns) == sorted(["cell_type", "batch", IMPUTED_COLUMN])
    assert result.uns["sharedlatent"]["layer"] == "counts"
    assert result.uns["sharedlatent"]["source"] == "rna"


def test_reloaded_model_matches_genes_by_name_and_refuses_missing_ones(trained, tmp_path):
    model, mdata = trained
    model.save(tmp_path / "model.safetensors")
    again = SharedLatentVAE.load(tmp_path / "model.safetensors")
    rna = mdata.mod["rna"]
    expected = again.translate(rna, "rna", "protein").X
    permuted = rna[:, np.random.default_rng(1).permutation(GENES)].copy()
    np.testing.assert_allclose(again.translate(permuted, "rna", "protein").X, expected, rtol=1e-5)
    np.testing.assert_allclose(model.translate(rna, "rna", "protein").X, expected, rtol=1e-5)
    with pytest.raises(SharedLatentError, match=r"lacks 2 of the 40 features .*: gene3, gene7$") as error:
        again.translate(rna[:, [g for g in rna.var_names if g not in ("gene3", "gene7")]].copy(), "rna", "protein")
    assert "\n" not in str(error.value)


def test_a_lone_anndata_missing_genes_is_taken_for_its_domain_and_says_which_are_missing(trained):
    model, mdata = trained
    rna, protein = mdata.mod["rna"], mdata.mod["protein"].copy()
    with pytest.raises(SharedLatentError, match=r"^domain 'rna' \(layers\['counts'\]\) lacks 5 of the 40 features"):
        model.get_latent(rna[:, 5:].copy())
    protein.var_names = [f"other{i}" for i in range(PROTEINS)]
    with pytest.raises(SharedLatentError, match=r"with domain= \(its var_names share no feature") as error:
        model.get_latent(protein)
    assert "--domain" in error.value.cli and "domain=" not in error.value.cli
    both = anndata.concat([rna, mdata.mod["protein"]], axis=1)  # every gene and every protein: ambiguous
    with pytest.raises(SharedLatentError, match="its var_names fit rna, protein alike"):
        model.get_latent(both)


def test_log_normalised_x_given_to_a_count_model_warns(trained):
    model, mdata = trained
    with pytest.warns(UserWarning, match="raw counts"):
        model.translate({"rna": mdata.mod["rna"]}, "rna", "protein", layer="X")


def test_library_size_sets_each_translated_cells_total(trained):
    model, mdata = trained
    counts = mdata.mod["rna"].layers["counts"][:5].toarray()
    predicted = model.translate(counts, "rna", "protein", batch="b1").sum(axis=1)
    predictor = model.library_predictors["protein"]  # each cell's total from its latent, within the training range
    assert (predictor.low * (1 - 1e-4) <= predicted).all() and (predicted <= predictor.high * (1 + 1e-4)).all()
    totals = np.array([100.0, 200.0, 300.0, 400.0, 500.0])
    np.testing.assert_allclose(
        model.translate(counts, "rna", "protein", library_size=totals, batch="b1").sum(axis=1), totals, rtol=1e-4
    )
    with pytest.raises(SharedLatentError, match="one positive number or 5"):
        model.translate(counts, "rna", "protein", library_size=totals[:3], batch="b1")


def test_sparse_matrices_train_like_dense_arrays():
    mdata = cite_seq()
    paired = mdata.mod["protein"].n_obs
    data = {"rna": mdata.mod["rna"].layers["counts"][:paired], "protein": mdata.mod["protein"].X}
    model = SharedLatentVAE({"rna": GENES, "protein": PROTEINS}, config())
    model.fit(data)
    assert model.registration is None
    assert model.get_latent(data).shape == (paired, 4)


def test_encoders_that_read_the_batch_still_need_the_cells_labels_with_transform_batch():
    mdata = cite_seq()
    settings = config()
    settings.model.batch_in_encoders = True
    settings.train.epochs = 1
    model = SharedLatentVAE.from_data(mdata, settings, layer={"rna": "counts"}, batch_key="batch")
    model.fit(mdata)
    rna = mdata.mod["rna"].copy()
    assert model.translate(rna, "rna", "protein", transform_batch="b1").shape == (CELLS, PROTEINS)
    rna.obs["batch"] = "b9"
    with pytest.raises(SharedLatentError, match=r"\('b9'; it knows b1, b2\); this model's encoders read the batch"):
        model.translate(rna, "rna", "protein", transform_batch="b1")


def test_name_matching_errors_stay_one_short_line():
    names = [f"g{i}" for i in range(8)] * 2  # eight names, each twice
    with pytest.raises(SharedLatentError, match=r"not unique \(g0, g1, g2, g3, g4, \.\.\.\)$"):
        aligned_columns(np.zeros((2, 16)), names, [f"g{i}" for i in range(9)], "rna")
    expected = [f"gene{i}" for i in range(1000)]
    with pytest.raises(
        SharedLatentError, match=r"lacks 999 of the 1000 features .*: gene1, gene2, gene3, gene4, gene5, \.\.\.$"
    ):
        aligned_columns(np.zeros((2, 1)), ["gene0"], expected, "rna")


def test_batch_labels_that_disagree_between_the_objects_are_refused():
    """RNA's obs said b1 / b2 where the protein's said zz for the same cells; the first was taken silently."""
    mdata = cite_seq()
    rna, protein = mdata.mod["rna"].copy(), mdata.mod["protein"].copy()
    protein.obs["batch"] = "zz"
    with pytest.raises(SharedLatentError, match=r"obs column 'batch' disagrees between the objects for \d+ cells"):
        SharedLatentVAE.from_data({"rna": rna, "protein": protein}, config(), batch_key="batch")
    protein.obs["batch"] = rna.obs["batch"].reindex(protein.obs_names)  # agreeing copies are fine
    model = SharedLatentVAE.from_data({"rna": rna, "protein": protein}, config(), batch_key="batch")
    model.fit({"rna": rna, "protein": protein})
