"""Every user error on the command line is one `error:` line on stderr, exit code 2, and no traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sharedlatent.runs.cli import main


def run_cli(arguments: list[str], capsys) -> tuple[int, str]:
    """Exit code and stderr of the CLI, whether it returns or exits (argparse errors exit)."""
    try:
        code = main(arguments)
    except SystemExit as stop:
        code = stop.code
    return code, capsys.readouterr().err


def assert_one_error_line(code: int, err: str, message: str) -> None:
    assert code == 2, err
    assert err.startswith("error:") and err.count("\n") == 1, err
    assert "Traceback" not in err and message in err, err


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["train", "nosuchdata", "--epochs", "1"], "unknown dataset 'nosuchdata'"),
        (["train", "--set", "train.speed=3"], "unknown config key train.speed"),
        (["train", "--set", "nosection.key=3"], "unknown config key nosection"),
        (["train", "--set", "train.epochs"], "--set expects KEY=VALUE"),
        (["train", "--set", "train.epochs=0"], "train.epochs must be at least 1"),
        (["train", "--set", "train.epochs=ten"], "train.epochs must be an integer"),
        (["train", "--set", "train.schedule=fancy"], "train.schedule must be one of"),
        (["train", "--set", "train.learning_rate=-1"], "train.learning_rate must be positive"),
        (["train", "--set", "train.validation_fraction=1"], "train.validation_fraction must be in [0, 1)"),
        (["train", "--set", "model.joint_posterior='sum'"], "model.joint_posterior must be one of"),
        (["train", "--set", "train.beta=inf"], "train.beta must be a finite number"),
        (["train", "--config", "missing.toml"], "config file missing.toml does not exist"),
        (["train", "--config", "broken.toml"], "not valid TOML"),
        (["train", "--config", "folder"], "cannot read config file folder"),
        (["train", "--config", "bad_value.toml"], "bad_value.toml: train.batch_size must be at least 1"),
        (["train", "--data-option", "nothing"], "--data-option expects KEY=VALUE"),
        (["info", "no/such/run"], "run folder no/such/run does not exist"),
        (["evaluate", "no/such/run"], "no/such/run"),
        (["generate", "no/such/run", "--output", "out.npz"], "no/such/run"),
        (["generate", "no/such/run", "--output", "out.txt"], "must end in one of"),
        (
            ["translate", "no/such/run", "--source", "a", "--target", "b", "--input", "x.npy", "--output", "y.npy"],
            "no/such/run",
        ),
        (["compare", "no/such/run"], "no/such/run"),
    ],
)
def test_user_errors_are_one_line(arguments, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.toml").write_text("[train\n")
    (tmp_path / "bad_value.toml").write_text("[train]\nbatch_size = 0\n")
    (tmp_path / "folder").mkdir()
    assert_one_error_line(*run_cli(arguments, capsys), message)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.parametrize(
    "arguments, message",
    [
        ([], "required: COMMAND"),
        (["fly"], "invalid choice: 'fly'"),
        (["train", "--speed", "3"], "unrecognized arguments: --speed"),
        (["train", "--epochs", "abc"], "--epochs"),
        (["train", "--schedule", "fancy"], "--schedule"),
        (["train", "--device", "tpu"], "'tpu'"),
        (["generate", "run", "--output", "x.npz", "--method", "grid"], "--method"),
        (["evaluate", "run", "--split", "validation"], "--split"),
        (["translate", "run"], "required"),
        (["fetch", "imagenet"], "invalid choice: 'imagenet'"),
    ],
)
def test_bad_command_lines_are_one_line(arguments, message, capsys):
    assert_one_error_line(*run_cli(arguments, capsys), message)


@pytest.mark.parametrize(
    "arguments, message",
    [(["fly"], "invalid choice"), (["info", "no/such/run"], "does not exist")],
)
def test_python_dash_m_prints_one_error_line(arguments, message, tmp_path):
    source = str(Path(__file__).parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [sys.executable, "-m", "sharedlatent", *arguments], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert_one_error_line(result.returncode, result.stderr, message)


def test_the_deprecated_schedule_name_is_a_note_not_an_error(capsys):
    code, err = run_cli(["train", "--schedule", "seed", "--set", "train.epochs=0"], capsys)
    note, error = err.splitlines()
    assert note == "note: train.schedule = 'seed' is deprecated; use 'original'"
    assert code == 2 and error == "error: train.epochs must be at least 1, got 0"


def test_warnings_under_the_cli_are_one_line_and_mudatas_notice_is_dropped(capsys):
    import warnings

    import sharedlatent.count_inputs
    from sharedlatent.count_inputs import CountInputWarning
    from sharedlatent.runs.cli_guards import deprecations_as_notes

    with deprecations_as_notes():
        warnings.warn_explicit("values are not counts", CountInputWarning, sharedlatent.count_inputs.__file__, 30)
        warnings.warn_explicit(
            "From 0.4 .update() will not pull obs/var columns", FutureWarning, "/site-packages/mudata/x.py", 1
        )
    assert capsys.readouterr().err == "warning: values are not counts\n"
