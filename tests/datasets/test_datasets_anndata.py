"""AnnData / MuData pairs on small files written with anndata itself, sparse X included."""

import numpy as np
import pandas as pd
import pytest

anndata = pytest.importorskip("anndata")
scipy_sparse = pytest.importorskip("scipy.sparse")

from sharedlatent.datasets import anndata_files  # noqa: E402
from sharedlatent.datasets.anndata_files import dense_rows, load_h5ad_pair, load_h5mu_pair, write_h5ad  # noqa: E402
from sharedlatent.datasets.registry import load_dataset  # noqa: E402
from sharedlatent.errors import SharedLatentError  # noqa: E402

RNG = np.random.default_rng(0)


def rna(cells):
    counts = scipy_sparse.random(len(cells), 30, density=0.2, format="csr", random_state=0, dtype=np.float32) * 10
    adata = anndata.AnnData(
        X=counts, obs=pd.DataFrame({"cell_type": ["T" if i % 2 else "B" for i in range(len(cells))]}, index=cells)
    )
    adata.var_names = [f"gene{i}" for i in range(30)]
    adata.layers["counts"] = counts.copy()
    adata.obsm["X_pca"] = RNG.random((len(cells), 5)).astype(np.float32)
    return adata


def protein(cells):
    adata = anndata.AnnData(X=RNG.random((len(cells), 4)).astype(np.float32), obs=pd.DataFrame(index=cells))
    adata.var_names = ["CD3", "CD4", "CD8", "CD19"]
    return adata


CELLS = [f"AAAC{i:04d}" for i in range(20)]


def test_h5ad_pair_matched_by_obs_names_with_sparse_x(tmp_path):
    left = rna(CELLS)
    left.write_h5ad(tmp_path / "rna.h5ad")
    protein(CELLS[::-1] + ["extra1", "extra2"]).write_h5ad(tmp_path / "protein.h5ad")
    dataset = load_h5ad_pair(
        left_path=str(tmp_path / "rna.h5ad"),
        right_path=str(tmp_path / "protein.h5ad"),
        label_column="cell_type",
        left="rna",
        right="protein",
    )
    assert dataset.input_sizes == {"rna": 30, "protein": 4}
    assert dataset.feature_names["protein"] == ["CD3", "CD4", "CD8", "CD19"]
    assert "protein: 20 of 22 rows kept, 2 dropped" in dataset.description
    cell = dataset.train.sample_ids[0]
    np.testing.assert_allclose(dataset.train.domains["rna"][0], left[cell].X.toarray().ravel())
    assert set(dataset.test.labels) == {"B", "T"}


def test_layer_and_obsm_choices(tmp_path):
    rna(CELLS).write_h5ad(tmp_path / "rna.h5ad")
    protein(CELLS).write_h5ad(tmp_path / "protein.h5ad")
    dataset = load_dataset(
        "h5ad", left_path=str(tmp_path / "rna.h5ad"), right_path=str(tmp_path / "protein.h5ad"), left_obsm="X_pca"
    )
    assert dataset.input_sizes["left"] == 5 and dataset.feature_names["left"][0] == "X_pca_0"
    layered = load_h5ad_pair(left_path=tmp_path / "rna.h5ad", right_path=tmp_path / "protein.h5ad", left_layer="counts")
    assert layered.input_sizes["left"] == 30
    with pytest.raises(SharedLatentError, match="no layer 'raw'; layers are \\['counts'\\]"):
        load_h5ad_pair(left_path=tmp_path / "rna.h5ad", right_path=tmp_path / "protein.h5ad", left_layer="raw")


@pytest.mark.filterwarnings("ignore::FutureWarning")  # mudata announces a change to MuData.update()
def test_h5mu_pair_uses_modality_names(tmp_path):
    mudata = pytest.importorskip("mudata")
    mdata = mudata.MuData({"rna": rna(CELLS), "prot": protein(CELLS[:15])})
    mdata.write(tmp_path / "cite.h5mu")
    dataset = load_h5mu_pair(
        path=str(tmp_path / "cite.h5mu"), left_mod="rna", right_mod="prot", label_column="cell_type"
    )
    assert dataset.domain_names == ["rna", "prot"]
    assert dataset.train.n_samples + dataset.test.n_samples == 15
    assert "rna: 15 of 20 rows kept, 5 dropped" in dataset.description
    with pytest.raises(SharedLatentError, match="no modality 'atac'"):
        load_h5mu_pair(path=tmp_path / "cite.h5mu", left_mod="rna", right_mod="atac")


@pytest.mark.filterwarnings("ignore::FutureWarning")  # mudata's notice about obs columns pulled on update
def test_batch_key_labels_travel_with_each_split(tmp_path):
    mudata = pytest.importorskip("mudata")
    mdata = mudata.MuData({"rna": rna(CELLS), "prot": protein(CELLS)})
    mdata.obs["lane"] = ["L1" if i < 10 else "L2" for i in range(len(CELLS))]  # the MuData's own obs
    mdata.write(tmp_path / "cite.h5mu")
    dataset = load_h5mu_pair(path=tmp_path / "cite.h5mu", left_mod="rna", right_mod="prot", batch_key="lane")
    for split in (dataset.train, dataset.test):
        expected = ["L1" if int(cell[4:]) < 10 else "L2" for cell in split.sample_ids]
        assert list(split.batches) == expected
    with pytest.raises(SharedLatentError, match=r"^batch_key 'donor' is in the obs of none of"):
        load_h5mu_pair(path=tmp_path / "cite.h5mu", left_mod="rna", right_mod="prot", batch_key="donor")
    rna(CELLS).write_h5ad(tmp_path / "rna.h5ad")
    protein(CELLS).write_h5ad(tmp_path / "protein.h5ad")
    paths = {"left_path": tmp_path / "rna.h5ad", "right_path": tmp_path / "protein.h5ad"}
    with pytest.raises(SharedLatentError, match="without obsm, label_column or batch_key"):
        load_h5ad_pair(**paths, batch_key="cell_type", backed=True)
    assert load_h5ad_pair(**paths, batch_key="cell_type").train.batches is not None  # backed "auto" stays in memory


def test_obs_names_that_do_not_match(tmp_path):
    rna(CELLS).write_h5ad(tmp_path / "rna.h5ad")
    protein([f"other{i}" for i in range(20)]).write_h5ad(tmp_path / "protein.h5ad")
    with pytest.raises(SharedLatentError, match="no sample IDs are shared"):
        load_h5ad_pair(left_path=tmp_path / "rna.h5ad", right_path=tmp_path / "protein.h5ad")


def test_a_misspelt_option_is_named_and_one_matrix_for_two_domains_is_refused(tmp_path):
    rna(CELLS).write_h5ad(tmp_path / "rna.h5ad")
    protein(CELLS).write_h5ad(tmp_path / "protein.h5ad")
    pair = {"left_path": tmp_path / "rna.h5ad", "right_path": tmp_path / "protein.h5ad"}
    for typo in ("lable_column", "batchkey", "left_layers"):
        with pytest.raises(SharedLatentError, match=f"h5ad: unknown option '{typo}'"):
            load_h5ad_pair(**pair, **{typo: "x"})
    with pytest.raises(SharedLatentError, match="domains 'left' and 'right' read the same matrix"):
        load_h5ad_pair(left_path=tmp_path / "rna.h5ad", right_path=tmp_path / "rna.h5ad")


def test_missing_file_and_missing_label(tmp_path):
    with pytest.raises(SharedLatentError, match="does not exist"):
        load_h5ad_pair(left_path=tmp_path / "a.h5ad", right_path=tmp_path / "b.h5ad")
    rna(CELLS).write_h5ad(tmp_path / "rna.h5ad")
    protein(CELLS).write_h5ad(tmp_path / "protein.h5ad")
    with pytest.raises(SharedLatentError, match="label column 'donor'"):
        load_h5ad_pair(left_path=tmp_path / "rna.h5ad", right_path=tmp_path / "protein.h5ad", label_column="donor")


def test_nan_values_are_refused(tmp_path):
    bad = protein(CELLS)
    bad.X[3, 1] = np.nan
    rna(CELLS).write_h5ad(tmp_path / "rna.h5ad")
    bad.write_h5ad(tmp_path / "protein.h5ad")
    with pytest.raises(SharedLatentError, match="protein.h5ad: domain 'right' has 1 NaN"):
        load_h5ad_pair(left_path=tmp_path / "rna.h5ad", right_path=tmp_path / "protein.h5ad")


def test_dense_rows_in_chunks_matches_full_densify():
    matrix = scipy_sparse.random(50, 7, density=0.3, format="csr", random_state=1)
    rows = np.array([5, 0, 49, 12, 12 + 1])
    np.testing.assert_allclose(dense_rows(matrix, rows, chunk_rows=2), matrix.toarray()[rows], rtol=1e-6)


def test_write_h5ad_round_trip(tmp_path):
    values = RNG.random((3, 2)).astype(np.float32)
    path = write_h5ad(
        tmp_path / "translated.h5ad", values, ["c1", "c2", "c3"], ["CD3", "CD19"], obs={"source": ["rna"] * 3}
    )
    back = anndata.read_h5ad(path)
    np.testing.assert_allclose(back.X, values)
    assert list(back.var_names) == ["CD3", "CD19"] and list(back.obs["source"]) == ["rna"] * 3
    assert [p.name for p in tmp_path.iterdir()] == ["translated.h5ad"]
    with pytest.raises(SharedLatentError, match="do not fit"):
        write_h5ad(tmp_path / "bad.h5ad", values, ["c1"], ["CD3", "CD19"])


def test_missing_extra_gives_install_hint(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "anndata", None)  # what an environment without the package looks like to import
    with pytest.raises(SharedLatentError, match=r"pip install 'sharedlatent\[bio\]'"):
        anndata_files.import_anndata()


def test_normalised_x_beside_a_counts_layer_gets_a_note_naming_the_layer(tmp_path):
    """scanpy leaves log-normalised values in X and the counts in a layer; reading X silently would model the
    normalised values, so the dataset notes say which layer holds the counts."""
    counts = RNG.poisson(3.0, (len(CELLS), 30)).astype(np.float32)
    adata = anndata.AnnData(X=np.log1p(counts), obs=pd.DataFrame(index=CELLS), layers={"counts": counts})
    adata.write_h5ad(tmp_path / "rna.h5ad")
    protein(CELLS).write_h5ad(tmp_path / "protein.h5ad")
    paths = {"left_path": tmp_path / "rna.h5ad", "right_path": tmp_path / "protein.h5ad"}
    (note,) = [n for n in load_h5ad_pair(**paths).notes if "is not counts" in n]
    assert note.startswith("left: X is not counts but layers['counts'] is") and "layer=counts" in note
    assert not [n for n in load_h5ad_pair(**paths, left_layer="counts").notes if "is not counts" in n]
    with pytest.raises(SharedLatentError, match=r"no layer 'counts'; layers are \[\] \(without a layer, X is read"):
        load_h5ad_pair(**paths, layer="counts")  # the protein file has none


def test_outer_pairing_with_labels_in_one_file_leaves_the_others_cells_unlabelled(tmp_path):
    """Cells only the protein file has are unpaired: they get an empty label that nothing reads (a review)."""
    rna(CELLS[:15]).write_h5ad(tmp_path / "rna.h5ad")  # obs has cell_type
    protein(CELLS[5:]).write_h5ad(tmp_path / "protein.h5ad")  # no cell_type
    paths = {"left_path": tmp_path / "rna.h5ad", "right_path": tmp_path / "protein.h5ad"}
    dataset = load_h5ad_pair(**paths, label_column="cell_type", pairing="outer", test_fraction=0.3)
    assert set(dataset.test.labels) <= {"B", "T"} and set(dataset.train.paired().labels) <= {"B", "T"}
    assert int((dataset.train.labels == "").sum()) == 5  # the five protein-only cells


def test_repeated_feature_names_are_refused_when_training(tmp_path):
    """New cells are matched to a trained model by feature name, so a repeated name is refused up front (in memory
    and backed) instead of training a model that cannot read its own file."""
    left = rna(CELLS)
    left.var_names = [f"gene{min(i, 28)}" for i in range(30)]  # gene28 twice
    left.write_h5ad(tmp_path / "rna.h5ad")
    protein(CELLS).write_h5ad(tmp_path / "protein.h5ad")
    paths = {"left_path": str(tmp_path / "rna.h5ad"), "right_path": str(tmp_path / "protein.h5ad")}
    for backed in (False, True):
        with pytest.raises(SharedLatentError, match=r"feature names are not unique \(gene28\); run .var_names_make_"):
            load_h5ad_pair(**paths, backed=backed)


def test_a_label_column_both_files_hold_must_agree(tmp_path):
    left, right = rna(CELLS), protein(CELLS)
    left.obs["lane"] = ["b1" if i % 2 else "b2" for i in range(len(CELLS))]
    right.obs["lane"] = left.obs["lane"].to_numpy()
    right.obs.loc[CELLS[0], "lane"] = None  # missing in one file: the other file's value is taken
    left.write_h5ad(tmp_path / "rna.h5ad")
    right.write_h5ad(tmp_path / "protein.h5ad")
    paths = {"left_path": str(tmp_path / "rna.h5ad"), "right_path": str(tmp_path / "protein.h5ad")}
    assert set(load_h5ad_pair(**paths, batch_key="lane").train.batches) == {"b1", "b2"}
    left.obs["plate"] = [i % 3 for i in range(len(CELLS))]  # integers in one file, floats (one missing) in the other
    right.obs["plate"] = left.obs["plate"].astype(float)
    right.obs.loc[CELLS[1], "plate"] = np.nan
    left.write_h5ad(tmp_path / "rna.h5ad")
    right.write_h5ad(tmp_path / "protein.h5ad")
    assert set(load_h5ad_pair(**paths, batch_key="plate").train.batches) <= {"0", "1", "2"}
    right.obs["lane"] = ["X1" if i % 2 else "X2" for i in range(len(CELLS))]
    right.write_h5ad(tmp_path / "protein.h5ad")
    with pytest.raises(
        SharedLatentError, match=r"^batch_key 'lane' differs between .*rna.h5ad and .*protein.h5ad for 20 cells"
    ):
        load_h5ad_pair(**paths, batch_key="lane")
