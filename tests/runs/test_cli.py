"""The command line end to end on the embedded digits dataset, and its one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sharedlatent.runs.cli import main


def translate_args(
    run: Path, source_file: Path, output: Path, *extra: str, source: str = "left", target: str = "right"
) -> list[str]:
    """The argv of `sharedlatent translate` from `source` to `target`."""
    return [
        "translate",
        str(run),
        "--source",
        source,
        "--target",
        target,
        "--input",
        str(source_file),
        "--output",
        str(output),
        *extra,
    ]


def one_error_line(capsys) -> str:
    """The CLI's stderr, checked to be a single `error:` line without a traceback."""
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs") / "digits"
    code = main(
        [
            "train",
            "digits",
            "--epochs",
            "3",
            "--noise",
            "0.1",
            "--out",
            str(folder),
            "--no-progress",
            "--set",
            "model.latent_size=8",
        ]
    )
    assert code == 0
    return folder


def test_train_writes_a_complete_run_folder(run_folder):
    names = {p.name for p in run_folder.iterdir()}
    expected = {
        "config.toml",
        "model.safetensors",
        "metrics.json",
        "history.json",
        "run.json",
        "loss_curves.png",
        "model.png",
        "model.txt",
        "report.html",
    }
    assert expected <= names
    assert any(name.startswith("samples_64-96-64-32-8") and name.endswith(".png") for name in names)
    metrics = json.loads((run_folder / "metrics.json").read_text())
    for section in ("reconstruction", "translation", "cycle", "noise_cycle", "baseline_mean_predictor", "latent"):
        assert section in metrics
    assert set(metrics["translation"]) == {"left->right", "right->left"}
    assert set(metrics["cycle"]) == {"left->right->left", "right->left->right"}
    assert "train.noise_level" not in (run_folder / "config.toml").read_text()
    assert "noise_level = 0.1" in (run_folder / "config.toml").read_text()
    assert not list(run_folder.parent.glob(".digits.partial*"))


def test_existing_run_folder_is_refused_unless_overwrite(run_folder, capsys):
    before = (run_folder / "model.safetensors").read_bytes()
    assert main(["train", "--epochs", "1", "--out", str(run_folder), "--no-progress"]) == 2
    assert "already exists" in one_error_line(capsys)
    assert (run_folder / "model.safetensors").read_bytes() == before


def test_translate_npy_and_csv(run_folder, tmp_path, digits):
    left = digits.test.domains["left"][:6]
    np.save(tmp_path / "in.npy", left)
    assert (
        main(
            translate_args(
                run_folder, str(tmp_path / "in.npy"), str(tmp_path / "out.npy"), source="left", target="right"
            )
        )
        == 0
    )
    assert np.load(tmp_path / "out.npy").shape == (6, 64)
    np.savetxt(tmp_path / "in.csv", left, delimiter=",")
    assert (
        main(
            translate_args(
                run_folder, str(tmp_path / "in.csv"), str(tmp_path / "out.csv"), source="left", target="right"
            )
        )
        == 0
    )
    header = (tmp_path / "out.csv").read_text().splitlines()[0]
    assert header.startswith("pixel_0_0,")
    assert np.loadtxt(tmp_path / "out.csv", delimiter=",", skiprows=1).shape == (6, 64)  # no data row taken as a header
    assert (
        main(
            [
                "translate",
                str(run_folder),
                "--source",
                "left",
                "--target",
                "right",
                "--cycle",
                "--input",
                str(tmp_path / "in.npy"),
                "--output",
                str(tmp_path / "cycle.npy"),
            ]
        )
        == 0
    )


def test_generate_and_info_and_compare(run_folder, tmp_path, capsys):
    assert main(["generate", str(run_folder), "-n", "5", "--output", str(tmp_path / "pairs.npz")]) == 0
    pairs = np.load(tmp_path / "pairs.npz")
    assert pairs["left"].shape == (5, 64) and pairs["right"].shape == (5, 64)
    assert (
        main(["generate", str(run_folder), "-n", "4", "--method", "prior", "--output", str(tmp_path / "gen.csv")]) == 0
    )
    assert (tmp_path / "gen_left.csv").exists() and (tmp_path / "gen_right.csv").exists()
    capsys.readouterr()
    assert main(["info", str(run_folder)]) == 0
    assert "64-96-64-32-8" in capsys.readouterr().out
    assert main(["compare", str(run_folder), str(run_folder)]) == 0
    assert "translation/left->right/mse" in capsys.readouterr().out


def test_evaluate_rewrites_metrics_and_report(run_folder, capsys):
    assert main(["evaluate", str(run_folder), "--split", "train"]) == 0
    assert json.loads((run_folder / "metrics_train.json").read_text())["split"] == "train"
    assert json.loads((run_folder / "metrics.json").read_text())["split"] == "test"  # the test metrics stay
    listed = json.loads((run_folder / "run.json").read_text())["figures"]
    assert {"latent_train.png", "latent_test.png", "model.png"} <= set(listed)  # and so do the test figures
    assert all((run_folder / name).is_file() for name in listed)
    assert (run_folder / "report_train.html").stat().st_size > 1000
    printed = capsys.readouterr().out
    assert "left->right" in printed and "mean_predictor_mse" in printed and "foscttm" in printed
    assert (run_folder / "report.html").stat().st_size > 1000
    # The automatic likelihood and preprocessing choices are in the report, with their reasons.
    report = (run_folder / "report.html").read_text()
    assert "Settings chosen from the training data" in report and "left: likelihood sigmoid_mse" in report


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["train", "nosuchdata", "--epochs", "1"], "unknown dataset 'nosuchdata'"),
        (["train", "--set", "train.epochs=0"], "train.epochs must be at least 1"),
        (["train", "--set", "train.speed=3"], "unknown config key train.speed"),
        (["train", "--config", "missing.toml"], "config file missing.toml does not exist"),
        (["train", "pickle", "--data-option", "path=x.pkl.gz"], "pickle"),
        (["info", "no/such/run"], "run folder no/such/run does not exist"),
    ],
)
def test_errors_are_one_line_and_exit_2(arguments, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(arguments) == 2
    assert message in one_error_line(capsys)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_translate_errors(run_folder, tmp_path, capsys):
    np.save(tmp_path / "narrow.npy", np.zeros((3, 10)))
    np.save(tmp_path / "nan.npy", np.full((3, 64), np.nan))
    (tmp_path / "words.csv").write_text("a,b\nx,y\n")
    cases = [
        ("narrow.npy", "expected 64 features per sample, got 10"),
        ("nan.npy", "NaN"),
        ("missing.npy", "does not exist"),
        ("words.csv", "numeric"),
    ]
    for name, message in cases:
        code = main(
            translate_args(run_folder, str(tmp_path / name), str(tmp_path / "o.npy"), source="left", target="right")
        )
        assert code == 2 and message in one_error_line(capsys), name
    (tmp_path / "exists.npy").write_bytes(b"keep me")
    np.save(tmp_path / "ok.npy", np.zeros((2, 64)))
    assert (
        main(
            translate_args(
                run_folder, str(tmp_path / "ok.npy"), str(tmp_path / "exists.npy"), source="left", target="right"
            )
        )
        == 2
    )
    assert "already exists; pass --overwrite" in one_error_line(capsys)
    assert (tmp_path / "exists.npy").read_bytes() == b"keep me"


def test_console_script_runs():
    result = subprocess.run(
        [sys.executable, "-m", "sharedlatent", "datasets"], capture_output=True, text=True, check=True
    )
    assert "digits" in result.stdout and "mnist" in result.stdout


def test_a_users_dataset_file_trains_without_editing_the_package(tmp_path):
    from pathlib import Path

    example = Path(__file__).parents[2] / "examples" / "my_dataset.py"
    out = tmp_path / "waves"
    assert (
        main(
            [
                "train",
                f"{example}:load_waves",
                "--data-option",
                "n=200",
                "--epochs",
                "2",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    assert json.loads((out / "run.json").read_text())["input_sizes"] == {"left": 32, "right": 32}


def test_translate_keeps_sample_ids_and_names_columns(run_folder, tmp_path, digits):
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(digits.test.domains["left"][:4], columns=[f"c{i}" for i in range(64)])
    frame.insert(0, "sample_id", ["s1", "s2", "s3", "s4"])
    frame.to_csv(tmp_path / "in.csv", index=False)
    assert (
        main(
            translate_args(
                run_folder, str(tmp_path / "in.csv"), str(tmp_path / "out.tsv"), source="left", target="right"
            )
        )
        == 0
    )
    result = pandas.read_csv(tmp_path / "out.tsv", sep="\t")
    assert list(result["sample_id"]) == ["s1", "s2", "s3", "s4"]
    assert list(result.columns[1:3]) == ["pixel_0_0", "pixel_0_1"]


def test_translate_h5ad_to_a_new_h5ad(run_folder, tmp_path, digits):
    anndata = pytest.importorskip("anndata")
    import scipy.sparse

    cells = anndata.AnnData(X=scipy.sparse.csr_matrix(digits.test.domains["left"][:5]))
    cells.obs_names = [f"cell{i}" for i in range(5)]
    cells.write_h5ad(tmp_path / "cells.h5ad")
    assert (
        main(
            translate_args(
                run_folder,
                str(tmp_path / "cells.h5ad"),
                str(tmp_path / "translated.h5ad"),
                source="left",
                target="right",
            )
        )
        == 0
    )
    result = anndata.read_h5ad(tmp_path / "translated.h5ad")
    assert list(result.obs_names) == [f"cell{i}" for i in range(5)] and result.shape == (5, 64)
    assert result.var_names[0] == "pixel_0_0"


def test_overwrite_replaces_run_folders_only(tmp_path, capsys):
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    assert main(["train", "--epochs", "1", "--out", str(precious), "--overwrite", "--no-progress"]) == 2
    assert "not a sharedlatent run folder" in one_error_line(capsys)
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_output_under_a_file_is_refused_before_training(tmp_path, capsys):
    (tmp_path / "file.npy").write_bytes(b"x")
    assert main(["train", "--epochs", "1", "--out", str(tmp_path / "file.npy" / "run"), "--no-progress"]) == 2
    assert "is a file" in one_error_line(capsys)


def test_bad_command_line_is_one_error_line(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train", "--epochs", "abc"])
    assert stop.value.code == 2
    assert "--epochs" in one_error_line(capsys)


def test_translate_matches_columns_by_name(run_folder, tmp_path, digits, capsys):
    pandas = pytest.importorskip("pandas")
    names = [f"pixel_{i // 8}_{i % 8}" for i in range(64)]
    left = digits.test.domains["left"][:4]
    pandas.DataFrame(left, columns=names).to_csv(tmp_path / "ordered.csv", index=False)
    pandas.DataFrame(left[:, ::-1], columns=names[::-1]).to_csv(tmp_path / "reversed.csv", index=False)
    for name in ("ordered", "reversed"):
        assert (
            main(
                translate_args(
                    run_folder,
                    str(tmp_path / f"{name}.csv"),
                    str(tmp_path / f"{name}.npy"),
                    source="left",
                    target="right",
                )
            )
            == 0
        )
    np.testing.assert_array_equal(np.load(tmp_path / "ordered.npy"), np.load(tmp_path / "reversed.npy"))
    pandas.DataFrame(left, columns=names[:60] + ["a", "b", "c", "d"]).to_csv(tmp_path / "wrong.csv", index=False)
    assert (
        main(
            translate_args(
                run_folder, str(tmp_path / "wrong.csv"), str(tmp_path / "wrong.npy"), source="left", target="right"
            )
        )
        == 2
    )
    assert "columns do not match the domain's features" in one_error_line(capsys)


def natural_scale_tables(folder: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Two 40-row CSVs of values around 50 (so "auto" standardises them) in `folder`, made the working folder; the
    `train tables` arguments that read them."""
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        rows = [f"s{i}," + ",".join(f"{v:.3f}" for v in rng.normal(50, 10, 3)) for i in range(40)]
        (folder / f"{name}.csv").write_text("id,f1,f2,f3\n" + "\n".join(rows) + "\n")
    monkeypatch.chdir(folder)
    return ["train", "tables", "--data-option", "left_path=a.csv", "--data-option", "right_path=b.csv"]


def test_the_weight_decay_a_run_trained_with_is_in_its_summary_and_report(tmp_path, monkeypatch, capsys):
    """Values on a natural scale are standardised, which turns the decay on; --set turns it off again."""
    args = natural_scale_tables(tmp_path, monkeypatch)
    for extra, decay in (([], "0.3"), (["--set", "train.weight_decay=0"], "0")):
        run = tmp_path / f"run{decay}"
        assert main([*args, "--epochs", "1", "--no-progress", "--out", str(run), *extra]) == 0
        training = [line for line in capsys.readouterr().out.splitlines() if line.startswith("training")]
        assert training and f"weight decay {decay}," in training[0]
        assert f"weight decay {decay}, weight average" in (run / "report.html").read_text()
        assert f"weight_decay = {float(decay)}" in (run / "config.toml").read_text()  # written out, rule or not
    # A run's config without the key was trained before the decay existed, with none: shown so, not as the rule
    old = tmp_path / "run0.3" / "config.toml"
    old.write_text("\n".join(line for line in old.read_text().splitlines() if not line.startswith("weight_decay")))
    assert main(["info", str(tmp_path / "run0.3")]) == 0
    assert "weight decay 0 (trained before train.weight_decay existed)" in capsys.readouterr().out


def test_the_weight_average_a_run_kept_is_in_its_summary_report_and_config(tmp_path, monkeypatch, capsys):
    """Unset, the rule's decay for the fit's steps per epoch is written out (40 rows at batch 64: one step, 0.5)."""
    args = natural_scale_tables(tmp_path, monkeypatch)
    for extra, shown, written in (([], "decay 0.5", "0.5"), (["--set", "train.ema_decay=0"], "off", "0.0")):
        run = tmp_path / f"run{written}"
        assert main([*args, "--epochs", "1", "--no-progress", "--out", str(run), *extra]) == 0
        training = [line for line in capsys.readouterr().out.splitlines() if line.startswith("training")]
        assert training and f"weight average {shown}," in training[0]
        assert f"weight average {shown} (as the config" in (run / "report.html").read_text()
        assert f"ema_decay = {written}" in (run / "config.toml").read_text()
    # A run's config without the key was trained before the average existed: shown so, not as the rule
    old = tmp_path / "run0.5" / "config.toml"
    old.write_text("\n".join(line for line in old.read_text().splitlines() if not line.startswith("ema_decay")))
    assert main(["info", str(tmp_path / "run0.5")]) == 0
    assert "weight average off (trained before train.ema_decay existed)" in capsys.readouterr().out


def test_the_summary_says_when_each_phase_kept_its_own_adam_moments(tmp_path, monkeypatch, capsys):
    args = natural_scale_tables(tmp_path, monkeypatch)
    for extra, shown in (([], False), (["--schedule", "original", "--set", "train.moments_per_phase=true"], True)):
        run = tmp_path / f"run{shown}"
        assert main([*args, "--epochs", "1", "--no-progress", "--out", str(run), *extra]) == 0
        training = [line for line in capsys.readouterr().out.splitlines() if line.startswith("training")]
        assert training and ("Adam moments per phase" in training[0]) is shown
        assert f"moments_per_phase = {str(shown).lower()}" in (run / "config.toml").read_text()


def test_the_summary_says_how_the_output_layers_started(tmp_path, monkeypatch, capsys):
    """Zero by default on standardised data, Glorot when asked, and Glorot for a config that predates the key."""
    args = natural_scale_tables(tmp_path, monkeypatch)
    for extra, wanted in (
        ([], "output layers start at zero)"),
        (["--set", "model.zero_output_layers=false"], "output layers Glorot)"),
    ):
        run = tmp_path / f"run{len(extra)}"
        assert main([*args, "--epochs", "1", "--no-progress", "--out", str(run), *extra]) == 0
        layout = [line for line in capsys.readouterr().out.splitlines() if line.startswith("layout")]
        assert layout and layout[0].endswith(wanted)
    old = tmp_path / "run2" / "config.toml"
    old.write_text(
        "\n".join(line for line in old.read_text().splitlines() if not line.startswith("zero_output_layers"))
    )
    assert main(["info", str(tmp_path / "run2")]) == 0
    assert "output layers Glorot (trained before model.zero_output_layers existed)" in capsys.readouterr().out


def test_the_output_layer_line_names_only_domains_whose_decoder_outputs_the_value():
    from sharedlatent.config import DomainConfig, RunConfig
    from sharedlatent.runs.summary import output_start_text

    config = RunConfig()
    config.model.zero_output_layers = True
    config.model.domains = {name: DomainConfig(likelihood="sigmoid_mse") for name in ("left", "right")}
    # Nothing is zeroed there, though config.toml says zero_output_layers = true: the line says why
    assert output_start_text(config, ["left", "right"]) == "output layers Glorot (no gaussian domain to start at zero)"
    config.model.zero_output_layers = False
    assert output_start_text(config, ["left", "right"]) == "output layers Glorot"
    config.model.zero_output_layers = True
    config.model.domains["right"] = DomainConfig(likelihood="gaussian")
    assert output_start_text(config, ["left", "right"]) == "output layers (right) start at zero"
    config.model.zero_output_layers = None
    assert "(right) Glorot (trained before" in output_start_text(config, ["left", "right"])


def test_translate_keeps_the_id_column_name_and_leaves_out_the_runs_label_column(tmp_path, monkeypatch, capsys):
    """The training CSV itself, label column and all, goes back into translate; the output's ID column is named
    as the input's, so it joins back to the input by name."""
    args = natural_scale_tables(tmp_path, monkeypatch)
    lines = (tmp_path / "a.csv").read_text().splitlines()
    labelled = [lines[0] + ",kind"] + [f"{line},{'xy'[i % 2]}" for i, line in enumerate(lines[1:])]
    (tmp_path / "a.csv").write_text("\n".join(labelled) + "\n")
    run = tmp_path / "run"
    assert main([*args, "--data-option", "label_column=kind", "--epochs", "1", "--no-progress", "--out", str(run)]) == 0
    assert main(translate_args(run, tmp_path / "a.csv", tmp_path / "out.csv")) == 0
    assert (tmp_path / "out.csv").read_text().splitlines()[0] == "id,f1,f2,f3"
    renamed = ["donor" + lines[0][2:]] + lines[1:]  # 'donor' is not named like an ID: only --id-column says so
    (tmp_path / "donor.csv").write_text("\n".join(renamed) + "\n")
    capsys.readouterr()
    assert main(translate_args(run, tmp_path / "donor.csv", tmp_path / "out2.csv")) == 2
    assert "translate: --id-column / --label-column" in capsys.readouterr().err
    assert main(translate_args(run, tmp_path / "donor.csv", tmp_path / "out2.csv", "--id-column", "donor")) == 0
    assert (tmp_path / "out2.csv").read_text().splitlines()[1].startswith("s0,")


def test_generated_pairs_in_an_npz_translate_by_their_domain_key(run_folder, tmp_path):
    assert main(["generate", str(run_folder), "-n", "3", "--output", str(tmp_path / "pairs.npz")]) == 0
    assert main(translate_args(run_folder, tmp_path / "pairs.npz", tmp_path / "out.npy")) == 0
    assert np.load(tmp_path / "out.npy").shape == (3, 64)


def test_upper_case_npy_and_npz_outputs_hold_the_data(run_folder, tmp_path, digits):
    """numpy appends ".npy" to a name not ending so in lower case; the file renamed into place was empty, and with
    --overwrite the old one was lost (a hostile-input review)."""
    np.save(tmp_path / "in.npy", digits.test.domains["left"][:4])
    (tmp_path / "OUT.NPY").write_bytes(b"old")
    assert main(translate_args(run_folder, tmp_path / "in.npy", tmp_path / "OUT.NPY", "--overwrite")) == 0
    assert np.load(tmp_path / "OUT.NPY").shape == (4, 64)
    assert main(["generate", str(run_folder), "-n", "3", "--output", str(tmp_path / "G.NPZ")]) == 0
    assert np.load(tmp_path / "G.NPZ")["left"].shape == (3, 64)
    assert main(["generate", str(run_folder), "-n", "3", "--output", str(tmp_path / "H.NPY")]) == 0
    assert np.load(tmp_path / "H_right.NPY").shape == (3, 64)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_three_tables_train_translate_generate_and_evaluate_from_the_command_line(tmp_path, monkeypatch, capsys):
    """Domains beyond two on the command line: each file named by its NAME_path option."""
    import pandas as pd

    rng = np.random.default_rng(0)
    factors, ids = rng.normal(size=(120, 2)), [f"s{i}" for i in range(120)]
    values = {
        "rna": rng.poisson(np.exp(1 + factors @ rng.normal(0, 0.5, (2, 8)))),
        "protein": factors @ rng.normal(0, 1, (2, 4)) + 5,
        "mutation": (factors @ rng.normal(0, 1, (2, 3)) > 0).astype(int),
    }
    for name, array in values.items():
        frame = pd.DataFrame(array, columns=[f"{name}{j}" for j in range(array.shape[1])])
        frame.insert(0, "sample_id", ids)
        frame.sample(frac=1, random_state=1).to_csv(tmp_path / f"{name}.csv", index=False)
    monkeypatch.chdir(tmp_path)
    options = [item for name in values for item in ("--data-option", f"{name}_path={name}.csv")]
    assert main(["train", "tables", *options, "--epochs", "2", "--no-progress", "--out", "run"]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert set(metrics["baselines"]) == {f"{a}->{b}" for a in values for b in values if a != b}
    assert (
        main(
            [
                "translate",
                "run",
                "--source",
                "protein",
                "--target",
                "mutation",
                "--input",
                "protein.csv",
                "--output",
                "m.csv",
            ]
        )
        == 0
    )
    assert list(pd.read_csv(tmp_path / "m.csv").columns) == ["sample_id", "mutation0", "mutation1", "mutation2"]
    assert main(["generate", "run", "-n", "4", "--output", "g.csv"]) == 0
    assert all((tmp_path / f"g_{name}.csv").exists() for name in values)
    capsys.readouterr()
    assert main(["generate", "run", "-n", "4", "--output", "g.npz"]) == 0
    assert "wrote 4 generated triples (rna, protein, mutation)" in capsys.readouterr().out
    assert main(["evaluate", "run"]) == 0
