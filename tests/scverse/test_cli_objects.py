"""`sharedlatent encode` and translate on .h5mu: a final model (test_fraction=0) trained by the h5mu loader reads new
cells from the layer it was trained on; outputs keep obs, flag unmeasured targets and name the run."""

import numpy as np
import pandas as pd
import pytest

anndata = pytest.importorskip("anndata")
mudata = pytest.importorskip("mudata")

from test_objects import CELLS, PROTEINS, RNA_ONLY, cite_seq  # noqa: E402

from sharedlatent.runs.cli import main  # noqa: E402
from sharedlatent.runs.record import NO_TEST_NOTE  # noqa: E402

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
    table = pd.read_csv(run / "z.csv", index_col="sample_id")
    np.testing.assert_allclose(table.to_numpy(), latent.obsm["X_sharedlatent"], rtol=1e-5)


def test_encode_into_h5mu_keeps_the_input_whole_and_adds_the_latent_to_its_obsm(run, tmp_path):
    out = tmp_path / "with_latent.h5mu"
    assert main(["encode", str(run / "run"), "--input", str(run / "cells.h5mu"), "--output", str(out)]) == 0
    given, written = mudata.read_h5mu(run / "cells.h5mu"), mudata.read_h5mu(out)
    assert list(written.mod) == list(given.mod) and list(written.obs_names) == list(given.obs_names)
    assert (written.obs["rna:cell_type"] == given.obs["rna:cell_type"]).all()
    for name in given.mod:
        assert list(written[name].var_names) == list(given[name].var_names)
        assert (written[name].X != given[name].X).nnz == 0
    assert (written["rna"].layers["counts"] != given["rna"].layers["counts"]).nnz == 0
    assert (
        main(["encode", str(run / "run"), "--input", str(run / "cells.h5mu"), "--output", str(tmp_path / "z.csv")]) == 0
    )
    table = pd.read_csv(tmp_path / "z.csv", index_col="sample_id").reindex(written.obs_names)
    np.testing.assert_allclose(written.obsm["X_sharedlatent"], table.to_numpy(), rtol=1e-5)
    assert written.uns["sharedlatent"]["command"] == "encode"


def test_encode_of_an_h5ad_into_h5mu_is_refused_in_one_line(run, tmp_path, capsys):
    rna = mudata.read_h5mu(run / "cells.h5mu")["rna"]
    rna.write_h5ad(tmp_path / "rna.h5ad")
    out = tmp_path / "z.h5mu"
    assert main(["encode", str(run / "run"), "--input", str(tmp_path / "rna.h5ad"), "--output", str(out)]) == 2
    error = capsys.readouterr().err
    assert "keeps an .h5mu input whole" in error and "rna.h5ad" in error and not out.exists()


def test_translate_h5mu_reads_the_trained_layer_and_flags_rna_only_cells(run, capsys):
    out = run / "protein.h5ad"
    args = ["translate", str(run / "run"), "--source", "rna", "--target", "protein"]
    assert main([*args, "--input", str(run / "cells.h5mu"), "--output", str(out)]) == 0
    result = anndata.read_h5ad(out)
    assert result.shape == (CELLS, PROTEINS)
    assert list(result.obs["cell_type"]) == list(cite_seq().mod["rna"].obs["cell_type"])
    assert int(result.obs["sharedlatent_imputed"].sum()) == RNA_ONLY
    assert result.uns["sharedlatent"]["layer"] == "counts" and result.uns["sharedlatent"]["run"] == str(run / "run")
    capsys.readouterr()
    main([*args, "--input", str(run / "cells.h5mu"), "--output", str(run / "x.h5ad"), "--layer", "X"])
    warned = [line for line in capsys.readouterr().err.splitlines() if "raw counts" in line]
    assert len(warned) == 1 and warned[0].startswith("warning: ")  # one line, no source line under it
    assert main([*args, "--input", str(run / "cells.h5mu"), "--output", str(run / "y.h5ad"), "--layer", "nope"]) == 2
    assert "no layer 'nope'" in capsys.readouterr().err.strip().splitlines()[-1]


def test_translate_into_h5mu_adds_the_translation_as_a_modality_and_keeps_the_input_whole(run, tmp_path, capsys):
    out = tmp_path / "with_protein.h5mu"
    args = ["translate", str(run / "run"), "--source", "rna", "--target", "protein", "--input", str(run / "cells.h5mu")]
    assert main([*args, "--output", str(out)]) == 0
    assert "as modality 'protein_from_rna'" in capsys.readouterr().out
    written, original = mudata.read_h5mu(out), cite_seq()
    assert list(written.mod) == ["rna", "protein", "protein_from_rna"]
    translated = written.mod["protein_from_rna"]
    assert translated.shape == (CELLS, PROTEINS) and (translated.X >= 0).all()
    assert int(translated.obs["sharedlatent_imputed"].sum()) == RNA_ONLY
    assert translated.uns["sharedlatent"]["command"] == "translate"
    np.testing.assert_array_equal(
        _dense(written.mod["rna"].layers["counts"]), _dense(original.mod["rna"].layers["counts"])
    )
    assert written.mod["protein"].shape == original.mod["protein"].shape
    # a second translation into its own output adds nothing twice: that modality exists
    again = tmp_path / "again.h5mu"
    assert main([*args[:-1], str(out), "--output", str(again)]) == 2
    assert "already has a modality 'protein_from_rna'" in capsys.readouterr().err and not again.exists()
    cycled = tmp_path / "cycled.h5mu"
    assert main([*args, "--output", str(cycled), "--cycle"]) == 0
    assert "rna_via_protein" in mudata.read_h5mu(cycled).mod


def test_translate_into_h5mu_needs_cells_as_input_and_unknown_formats_fail_before_any_work(run, tmp_path, capsys):
    values = tmp_path / "rna.npy"
    np.save(values, np.zeros((3, 5), dtype=np.float32))
    args = ["translate", str(run / "run"), "--source", "rna", "--target", "protein", "--input", str(values)]
    assert main([*args, "--output", str(tmp_path / "out.h5mu")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs .h5ad or .h5mu --input, not rna.npy" in err[0]
    assert main([*args, "--output", str(tmp_path / "out.xlsx")]) == 2
    assert "--output out.xlsx: unknown format" in capsys.readouterr().err
    assert not list(tmp_path.glob("out.*"))


def test_a_run_model_loaded_in_python_matches_genes_by_name_and_reads_the_trained_layer(run):
    from sharedlatent.api import SharedLatentVAE
    from sharedlatent.errors import SharedLatentError

    model = SharedLatentVAE.load(run / "run" / "model.safetensors")
    rna = cite_seq().mod["rna"]
    expected = model.get_latent(rna, domain="rna", layer="counts")
    np.testing.assert_array_equal(model.get_latent(rna[:, ::-1].copy(), domain="rna").to_numpy(), expected.to_numpy())
    with pytest.raises(SharedLatentError, match=r"lacks 5 of the 40 features .*: gene0, gene1, gene2, gene3, gene4$"):
        model.get_latent(rna[:, 5:].copy(), domain="rna")
    assert model.registration.domains["rna"].modality == "rna"


def test_a_run_model_file_without_a_registration_still_loads_and_encodes(run, tmp_path):
    import json
    import shutil
    import struct

    from sharedlatent.api import SharedLatentVAE

    old = tmp_path / "old"
    shutil.copytree(run / "run", old)
    raw = (old / "model.safetensors").read_bytes()
    length = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + length])
    metadata = json.loads(header["__metadata__"]["sharedlatent"])
    del metadata["registration"]  # as written before CLI runs saved one (format 1: before model files had checksums)
    metadata.pop("library", None)  # and before library predictors (format 3)
    metadata["format_version"] = 1
    header["__metadata__"]["sharedlatent"] = json.dumps(metadata)
    del header["__metadata__"]["sharedlatent_sha256"]
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    (old / "model.safetensors").write_bytes(struct.pack("<Q", len(encoded)) + encoded + raw[8 + length :])
    assert SharedLatentVAE.load(old / "model.safetensors").registration is None
    assert main(["encode", str(old), "--input", str(run / "cells.h5mu"), "--output", str(tmp_path / "z.csv")]) == 0
    assert (
        main(["encode", str(run / "run"), "--input", str(run / "cells.h5mu"), "--output", str(tmp_path / "y.csv")]) == 0
    )
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "z.csv"), pd.read_csv(tmp_path / "y.csv"))


def test_encode_of_an_h5ad_missing_genes_names_them_and_an_unknown_one_asks_for_domain(run, tmp_path, capsys):
    rna, protein = cite_seq().mod["rna"], cite_seq().mod["protein"]
    rna[:, 5:].copy().write_h5ad(tmp_path / "missing.h5ad")
    protein.var_names = [f"other{i}" for i in range(PROTEINS)]
    protein.write_h5ad(tmp_path / "unknown.h5ad")
    for name in ("missing", "unknown"):
        args = [
            "encode",
            str(run / "run"),
            "--input",
            str(tmp_path / f"{name}.h5ad"),
            "--output",
            str(tmp_path / "z.csv"),
        ]
        assert main(args) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert errors[
        0
    ] == "error: domain 'rna' (layers['counts']) lacks 5 of the 40 features the model was trained on: " + (
        "gene0, gene1, gene2, gene3, gene4"
    )
    assert errors[1].startswith("error: say which domain the .h5ad holds with --domain (its var_names share no")


def test_info_of_a_final_model_reads_its_train_split_metrics(run, capsys):
    assert main(["info", str(run / "run")]) == 0
    assert "--split train` writes metrics" in capsys.readouterr().out
    assert main(["evaluate", str(run / "run"), "--split", "train"]) == 0
    capsys.readouterr()
    assert main(["info", str(run / "run")]) == 0
    printed = capsys.readouterr().out
    assert "on the train split" in printed and "not computed yet" not in printed


def test_cycle_of_cells_reads_the_trained_layer_and_keeps_obs(run, capsys):
    """translate --cycle on .h5mu / .h5ad reads the counts layer the model was trained on (not the log-normalised X),
    keeps obs and says it cycled, as the Python API's cycle of the same counts gives."""
    from sharedlatent.api import SharedLatentVAE

    args = ["translate", str(run / "run"), "--source", "rna", "--target", "protein", "--cycle"]
    assert main([*args, "--input", str(run / "cells.h5mu"), "--output", str(run / "cycled.h5ad")]) == 0
    assert "rna -> protein -> rna" in capsys.readouterr().out
    cycled = anndata.read_h5ad(run / "cycled.h5ad")
    rna = cite_seq().mod["rna"]
    assert cycled.shape == rna.shape and list(cycled.obs_names) == list(rna.obs_names)
    assert list(cycled.obs["cell_type"]) == list(rna.obs["cell_type"]) and not cycled.obs["sharedlatent_imputed"].any()
    assert cycled.uns["sharedlatent"]["cycle"] == "rna -> protein -> rna"
    model = SharedLatentVAE.load(run / "run" / "model.safetensors")
    expected = model.cycle(rna.layers["counts"].toarray(), "rna", "protein")
    np.testing.assert_allclose(cycled.X, expected, rtol=1e-6)
    assert (
        main([*args, "--input", str(run / "cells.h5mu"), "--output", str(run / "c2.h5ad"), "--transform-batch", "b1"])
        == 2
    )


def test_a_domain_decoded_from_itself_is_not_flagged_imputed(run, tmp_path):
    cite_seq().mod["rna"].write_h5ad(tmp_path / "rna.h5ad")
    args = ["translate", str(run / "run"), "--source", "rna", "--target", "rna", "--input", str(tmp_path / "rna.h5ad")]
    assert main([*args, "--output", str(tmp_path / "same.h5ad")]) == 0
    same = anndata.read_h5ad(tmp_path / "same.h5ad")
    assert not same.obs["sharedlatent_imputed"].any()
    assert same.uns["sharedlatent"]["library_size"] == "each cell's own observed total"


def test_an_input_of_no_cells_is_refused_and_an_existing_output_kept(run, tmp_path, capsys):
    cite_seq().mod["rna"][:0].copy().write_h5ad(tmp_path / "none.h5ad")
    (tmp_path / "out.h5ad").write_bytes(b"earlier result")
    for command in (["translate", "--source", "rna", "--target", "protein"], ["encode"]):
        args = [command[0], str(run / "run"), *command[1:], "--input", str(tmp_path / "none.h5ad")]
        assert main([*args, "--output", str(tmp_path / "out.h5ad"), "--overwrite"]) == 2
        assert "holds no cells (0 obs)" in capsys.readouterr().err
    assert (tmp_path / "out.h5ad").read_bytes() == b"earlier result"


def test_generated_h5ad_names_its_pairs_and_says_how_it_was_made(run, tmp_path):
    out = tmp_path / "new.h5ad"
    assert main(["generate", str(run / "run"), "-n", "7", "--output", str(out), "--seed", "3"]) == 0
    rna, protein = (anndata.read_h5ad(tmp_path / f"new_{name}.h5ad") for name in ("rna", "protein"))
    assert list(rna.obs_names) == list(protein.obs_names) == [f"generated_{i}" for i in range(7)]
    assert list(protein.var_names) == [f"CD{i}" for i in range(PROTEINS)]
    told = protein.uns["sharedlatent"]
    assert (told["command"], told["domain"], told["method"], told["seed"]) == ("generate", "protein", "box", "3")


def test_an_unknown_input_format_lists_anndata_among_the_known_ones(run, tmp_path, capsys):
    (tmp_path / "cells.xyz").write_text("1,2\n")
    args = ["translate", str(run / "run"), "--source", "rna", "--target", "protein"]
    assert main([*args, "--input", str(tmp_path / "cells.xyz"), "--output", str(tmp_path / "o.csv")]) == 2
    error = capsys.readouterr().err
    assert "unknown format '.xyz'; expected .csv" in error and error.rstrip().endswith(".h5ad, .h5mu")


def test_generate_writes_the_pairs_as_one_h5mu_of_a_modality_per_domain(run, tmp_path):
    out = tmp_path / "new.h5mu"
    assert main(["generate", str(run / "run"), "-n", "6", "--output", str(out)]) == 0
    pairs = mudata.read_h5mu(out)
    assert set(pairs.mod) == {"rna", "protein"} and pairs.n_obs == 6
    assert (
        list(pairs.mod["protein"].obs_names) == list(pairs.mod["rna"].obs_names) == [f"generated_{i}" for i in range(6)]
    )
    assert list(pairs.mod["rna"].var_names) == list(cite_seq().mod["rna"].var_names)
    assert pairs.uns["sharedlatent"]["command"] == "generate" and "domain" not in pairs.uns["sharedlatent"]


def test_three_modalities_by_mods_train_encode_and_translate_reading_each_ones_layer(tmp_path, capsys):
    data = cite_seq()
    rng = np.random.default_rng(1)
    paired = data.mod["protein"].obs_names
    peaks = anndata.AnnData(X=rng.poisson(1.0, (len(paired), 12)).astype(np.float32), obs=pd.DataFrame(index=paired))
    peaks.var_names = [f"peak{i}" for i in range(12)]
    three = mudata.MuData({"rna": data.mod["rna"], "protein": data.mod["protein"], "atac": peaks})
    three.write_h5mu(tmp_path / "tea.h5mu")
    options = ["path=" + str(tmp_path / "tea.h5mu"), "mods=rna,protein,atac", "rna_layer=counts"]
    args = ["train", "h5mu", "--out", str(tmp_path / "run"), "--epochs", "2", "--no-progress"]
    assert main(args + [item for option in options for item in ("--data-option", option)]) == 0
    from sharedlatent.api import SharedLatentVAE

    model = SharedLatentVAE.load(tmp_path / "run" / "model.safetensors")
    assert model.domain_names == ["rna", "protein", "atac"]
    assert [model.registration.domains[d].modality for d in model.domain_names] == ["rna", "protein", "atac"]
    assert model.registration.domains["rna"].layer == "counts" and model.registration.domains["atac"].layer is None
    out = tmp_path / "z.h5mu"
    assert main(["encode", str(tmp_path / "run"), "--input", str(tmp_path / "tea.h5mu"), "--output", str(out)]) == 0
    assert mudata.read_h5mu(out).obsm["X_sharedlatent"].shape[0] == three.n_obs
    translated = tmp_path / "atac.h5ad"
    args = ["translate", str(tmp_path / "run"), "--source", "rna", "--target", "atac"]
    assert main([*args, "--input", str(tmp_path / "tea.h5mu"), "--output", str(translated)]) == 0
    result = anndata.read_h5ad(translated)
    assert result.shape == (three.n_obs, 12) and result.uns["sharedlatent"]["layer"] == "counts"
    for bad, message in (("mods=rna", "two or more different"), ("atac_layers=x", "unknown option 'atac_layers'")):
        extra = ["--data-option", bad] if bad != "mods=rna" else []
        chosen = options if bad != "mods=rna" else [options[0], "mods=rna"]
        command = ["train", "h5mu", "--out", str(tmp_path / "bad"), "--epochs", "1", "--no-progress"]
        assert main(command + [i for o in chosen for i in ("--data-option", o)] + extra) == 2
        assert message in capsys.readouterr().err


def test_three_h5ad_files_named_by_their_path_options(tmp_path):
    data = cite_seq()
    rng = np.random.default_rng(2)
    paired = data.mod["protein"].obs_names
    peaks = anndata.AnnData(X=rng.poisson(1.0, (len(paired), 12)).astype(np.float32), obs=pd.DataFrame(index=paired))
    peaks.var_names = [f"peak{i}" for i in range(12)]
    for name, adata in (("rna", data.mod["rna"]), ("protein", data.mod["protein"]), ("atac", peaks)):
        adata.write_h5ad(tmp_path / f"{name}.h5ad")
    options = [f"{name}_path={tmp_path / name}.h5ad" for name in ("rna", "protein", "atac")] + ["rna_layer=counts"]
    args = ["train", "h5ad", "--out", str(tmp_path / "run"), "--epochs", "2", "--no-progress"]
    assert main(args + [item for option in options for item in ("--data-option", option)]) == 0
    from sharedlatent.api import SharedLatentVAE

    model = SharedLatentVAE.load(tmp_path / "run" / "model.safetensors")
    assert model.domain_names == ["rna", "protein", "atac"] and model.registration.domains["rna"].layer == "counts"
    out = tmp_path / "atac_from_rna.h5ad"
    args = ["translate", str(tmp_path / "run"), "--source", "rna", "--target", "atac"]
    assert main([*args, "--input", str(tmp_path / "rna.h5ad"), "--output", str(out)]) == 0
    assert anndata.read_h5ad(out).uns["sharedlatent"]["layer"] == "counts"
    for wrong in ("left_layer=counts", "left_path=" + str(tmp_path / "rna.h5ad")):  # silently ignored before
        command = ["train", "h5ad", "--out", str(tmp_path / "bad"), "--epochs", "1", "--no-progress"]
        assert main(command + [i for o in [*options, wrong] for i in ("--data-option", o)]) == 2
    bad = ["--data-option", "peaks_layer=x"]
    assert (
        main(
            args[:0]
            + ["train", "h5ad", "--out", str(tmp_path / "bad"), "--epochs", "1", "--no-progress"]
            + [i for o in options for i in ("--data-option", o)]
            + bad
        )
        == 2
    )


def _dense(matrix):
    """A layer as a numpy array, whether it is stored sparse or dense."""
    return matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)
