"""A catalogue of bad inputs and faults against the CLI: each gives exit code 2, one `error:` line, no traceback,
and leaves every file that existed before byte-identical."""

from __future__ import annotations

import errno
import json
import os
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sharedlatent.runs.cli import main

Case = Callable[[Path, Path, pytest.MonkeyPatch], list[str]]
CASES: dict[str, Case] = {}


def case(name: str) -> Callable[[Case], Case]:
    def register(function: Case) -> Case:
        CASES[name] = function
        return function

    return register


@pytest.fixture(scope="module")
def base_run(tmp_path_factory) -> Path:
    """One small trained digits run folder, copied for each case that tampers with it."""
    folder = tmp_path_factory.mktemp("base") / "run"
    assert main(["train", "digits", "--epochs", "2", "--out", str(folder), "--no-progress"]) == 0
    return folder


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()
    }


def copy_run(base: Path, tmp: Path) -> Path:
    run = tmp / "run"
    shutil.copytree(base, run)
    return run


def edit_run_json(run: Path, change: Callable[[dict], None]) -> None:
    record = json.loads((run / "run.json").read_text())
    change(record)
    (run / "run.json").write_text(json.dumps(record))


def edit_model_metadata(run: Path, change: Callable[[dict], None]) -> None:
    """Rewrite the JSON metadata inside model.safetensors, keeping the tensors as they are."""
    path = run / "model.safetensors"
    raw = path.read_bytes()
    length = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + length])
    metadata = json.loads(header["__metadata__"]["sharedlatent"])
    change(metadata)
    header["__metadata__"]["sharedlatent"] = json.dumps(metadata)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + raw[8 + length :])


def edit_tensors(run: Path, change: Callable[[dict], None]) -> None:
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    path = run / "model.safetensors"
    with safe_open(str(path), framework="np") as handle:
        metadata = handle.metadata()
    tensors = load_file(str(path))
    change(tensors)
    save_file(tensors, str(path), metadata=metadata)


def write_npy(path: Path, values: np.ndarray) -> Path:
    np.save(path, values)
    return path


def good_input(tmp: Path, rows: int = 5) -> Path:
    return write_npy(tmp / "x.npy", np.random.default_rng(0).uniform(0, 1, (rows, 64)).astype(np.float32))


def translate_args(run: Path, source: Path, out: Path, *extra: str) -> list[str]:
    return [
        "translate",
        str(run),
        "--source",
        "left",
        "--target",
        "right",
        "--input",
        str(source),
        "--output",
        str(out),
        *extra,
    ]


# --- run folders are data, never code ------------------------------------------------------------------------------
@case("evaluate-run-json-names-os-system")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    marker = tmp / "marker"
    edit_run_json(run, lambda r: r.update(dataset="os:system", data_options={"command": f"touch {marker}"}))
    return ["evaluate", str(run)]


@case("evaluate-run-json-names-a-python-file")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    payload = tmp / "payload.py"
    payload.write_text(f"from pathlib import Path\n\ndef load(**_):\n    Path({str(tmp / 'marker')!r}).touch()\n")
    edit_run_json(run, lambda r: r.update(dataset=f"{payload}:load", data_options={}))
    return ["evaluate", str(run)]


@case("evaluate-run-json-asks-for-pickle")
def _(tmp, base, mp):
    import pickle

    run = copy_run(base, tmp)

    class Plant:
        def __reduce__(self):
            return (os.system, (f"touch {tmp / 'marker'}",))

    (tmp / "data.pkl").write_bytes(pickle.dumps(Plant()))
    edit_run_json(
        run, lambda r: r.update(dataset="pickle", data_options={"path": str(tmp / "data.pkl"), "allow_pickle": True})
    )
    return ["evaluate", str(run)]


@case("evaluate-config-toml-random-bytes")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    (run / "config.toml").write_bytes(bytes(range(128, 256)) * 4)
    return ["evaluate", str(run)]


@case("evaluate-config-toml-says-another-layout")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    text = (run / "config.toml").read_text()
    (run / "config.toml").write_text(text.replace("latent_size = 16", "latent_size = 8"))
    return ["evaluate", str(run)]


@case("evaluate-run-json-not-json")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    (run / "run.json").write_text("{not json")
    return ["evaluate", str(run)]


@case("evaluate-run-json-a-list")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    (run / "run.json").write_text("[1, 2, 3]")
    return ["evaluate", str(run)]


@case("evaluate-run-json-missing")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    (run / "run.json").unlink()
    return ["evaluate", str(run)]


@case("evaluate-run-json-wrong-types")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_run_json(run, lambda r: r.update(domains="left", input_sizes=[1, 2], data_options="x"))
    return ["evaluate", str(run)]


@case("evaluate-unknown-registered-dataset")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_run_json(run, lambda r: r.update(dataset="no_such_dataset"))
    return ["evaluate", str(run)]


@case("translate-model-file-missing")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    (run / "model.safetensors").unlink()
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("translate-model-file-truncated")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    raw = (run / "model.safetensors").read_bytes()
    (run / "model.safetensors").write_bytes(raw[: len(raw) // 2])
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("translate-model-file-empty")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    (run / "model.safetensors").write_bytes(b"")
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("translate-model-file-garbage")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    (run / "model.safetensors").write_bytes(os.urandom(4096))
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("translate-metadata-huge-widths")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_model_metadata(run, lambda m: m["config"]["model"].update(private_widths=[40000, 40000]))
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("translate-metadata-huge-latent")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_model_metadata(run, lambda m: m["config"]["model"].update(latent_size=10**12))
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("translate-metadata-missing-config")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_model_metadata(run, lambda m: m.pop("config"))
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("translate-metadata-missing-input-sizes")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_model_metadata(run, lambda m: m.pop("input_sizes"))
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("translate-metadata-input-size-lies")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_model_metadata(run, lambda m: m["input_sizes"].update(left=65))
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("translate-metadata-unknown-likelihood")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_model_metadata(run, lambda m: m["config"]["model"].update(domains={"left": {"likelihood": "os.system"}}))
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("translate-metadata-format-from-the-future")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_model_metadata(run, lambda m: m.update(format_version=99))
    return translate_args(run, good_input(tmp), tmp / "y.npy")


ZERO_PREDICTOR = {"intercept": 0.0, "weights": [0.0] * 16, "scale": 1.0, "low": 1.0, "high": 2.0}


def translate_with_library(tmp: Path, base: Path, version: int, library: object) -> list[str]:
    """translate on a copy of the run whose model metadata claims `version` and holds `library`."""
    run = copy_run(base, tmp)
    edit_model_metadata(run, lambda m: m.update(format_version=version, library=library))
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("translate-metadata-library-of-a-domain-without-counts")
def _(tmp, base, mp):
    return translate_with_library(tmp, base, 3, {"left": ZERO_PREDICTOR})


@case("translate-metadata-library-in-a-format-2-file")
def _(tmp, base, mp):
    return translate_with_library(tmp, base, 2, {"left": ZERO_PREDICTOR})


@case("translate-metadata-library-malformed")
def _(tmp, base, mp):
    return translate_with_library(tmp, base, 3, ["not", "a", "mapping"])


@case("translate-nan-weights")
def _(tmp, base, mp):
    run = copy_run(base, tmp)

    def poison(tensors):
        name = sorted(tensors)[0]
        tensors[name] = np.full_like(tensors[name], np.nan)

    edit_tensors(run, poison)
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("translate-missing-tensor")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_tensors(run, lambda tensors: tensors.pop(sorted(tensors)[-1]))
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("translate-nan-preprocessing")
def _(tmp, base, mp):
    run = copy_run(base, tmp)

    def poison(metadata):
        first = sorted(metadata["preprocessors"])[0]
        metadata["preprocessors"][first] = {"name": "minmax", "offset": [float("nan")], "scale": [1.0]}

    edit_model_metadata(run, poison)
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("generate-nan-latent-box")
def _(tmp, base, mp):
    run = copy_run(base, tmp)

    def poison(metadata):
        size = len(metadata["latent_box"][0]) if metadata.get("latent_box") else 16
        metadata["latent_box"] = [[float("nan")] * size, [1.0] * size]

    edit_model_metadata(run, poison)
    return ["generate", str(run), "-n", "5", "--output", str(tmp / "g.npz")]


def _registration_case(tmp: Path, base: Path, change: Callable[[dict], None]) -> list[str]:
    run = copy_run(base, tmp)
    edit_model_metadata(run, lambda metadata: change(metadata["registration"]))
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("translate-registration-var-names-of-another-length")
def _(tmp, base, mp):
    return _registration_case(tmp, base, lambda r: r["left"].update(var_names=["a", "b"]))


@case("translate-registration-names-an-unknown-domain")
def _(tmp, base, mp):
    return _registration_case(tmp, base, lambda r: r.update(middle=dict(r["left"])))


@case("translate-registration-layer-is-a-number")
def _(tmp, base, mp):
    return _registration_case(tmp, base, lambda r: r["right"].update(layer=3))


@case("translate-registration-has-an-extra-key")
def _(tmp, base, mp):
    return _registration_case(tmp, base, lambda r: r["right"].update(code="os.system"))


@case("translate-run-folder-missing")
def _(tmp, base, mp):
    return translate_args(tmp / "nowhere", good_input(tmp), tmp / "y.npy")


@case("translate-run-folder-is-a-file")
def _(tmp, base, mp):
    (tmp / "file").write_text("x")
    return translate_args(tmp / "file", good_input(tmp), tmp / "y.npy")


@case("info-run-json-truncated")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    (run / "run.json").write_text((run / "run.json").read_text()[:50])
    return ["info", str(run)]


@case("info-history-json-truncated")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    (run / "history.json").write_text((run / "history.json").read_text()[:40])
    return ["info", str(run)]


@case("info-config-toml-corrupt")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    (run / "config.toml").write_text("[train\nepochs = ")
    return ["info", str(run)]


@case("compare-metrics-corrupt")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    (run / "metrics.json").write_text("{")
    return ["compare", str(run), str(base)]


@case("compare-metrics-wrong-shape")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    (run / "metrics.json").write_text('{"translation": 5, "split": []}')
    return ["compare", str(run), str(base)]


# --- translate inputs and outputs ----------------------------------------------------------------------------------
@case("translate-input-is-output")
def _(tmp, base, mp):
    source = good_input(tmp)
    return translate_args(base, source, source, "--overwrite")


@case("translate-input-is-output-by-another-path")
def _(tmp, base, mp):
    source = good_input(tmp)
    (tmp / "sub").mkdir()
    return translate_args(base, source, tmp / "sub" / ".." / "x.npy", "--overwrite")


@case("translate-input-is-output-through-a-link")
def _(tmp, base, mp):
    source = good_input(tmp)
    (tmp / "link.npy").symlink_to(source)
    return translate_args(base, source, tmp / "link.npy", "--overwrite")


@case("translate-empty-npy")
def _(tmp, base, mp):
    (tmp / "x.npy").write_bytes(b"")
    return translate_args(base, tmp / "x.npy", tmp / "y.npy")


@case("translate-npy-header-claims-1e11-rows")
def _(tmp, base, mp):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000, 64), }"
    header += " " * (-(len(header) + 11) % 64) + "\n"
    (tmp / "x.npy").write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 256)
    return translate_args(base, tmp / "x.npy", tmp / "y.npy")


@case("translate-npy-object-array")
def _(tmp, base, mp):
    np.save(tmp / "x.npy", np.array([{"a": 1}] * 3, dtype=object), allow_pickle=True)
    return translate_args(base, tmp / "x.npy", tmp / "y.npy")


@case("translate-corrupt-parquet")
def _(tmp, base, mp):
    (tmp / "x.parquet").write_bytes(b"PAR1" + os.urandom(200) + b"PAR1")
    return translate_args(base, tmp / "x.parquet", tmp / "y.npy")


@case("translate-npz-sample-ids-length-differs")
def _(tmp, base, mp):
    np.savez(tmp / "x.npz", values=np.zeros((5, 64), np.float32), sample_ids=np.array(["a", "b"]))
    return translate_args(base, tmp / "x.npz", tmp / "y.npy")


@case("translate-npz-empty")
def _(tmp, base, mp):
    np.savez(tmp / "x.npz")
    return translate_args(base, tmp / "x.npz", tmp / "y.npy")


@case("translate-nan-input")
def _(tmp, base, mp):
    values = np.zeros((4, 64), np.float32)
    values[1, 3] = np.nan
    return translate_args(base, write_npy(tmp / "x.npy", values), tmp / "y.npy")


@case("translate-inf-input")
def _(tmp, base, mp):
    values = np.zeros((4, 64), np.float32)
    values[2, 0] = np.inf
    return translate_args(base, write_npy(tmp / "x.npy", values), tmp / "y.npy")


@case("translate-wrong-feature-count")
def _(tmp, base, mp):
    return translate_args(base, write_npy(tmp / "x.npy", np.zeros((4, 63), np.float32)), tmp / "y.npy")


@case("translate-three-dimensional-input")
def _(tmp, base, mp):
    return translate_args(base, write_npy(tmp / "x.npy", np.zeros((4, 8, 8), np.float32)), tmp / "y.npy")


@case("translate-zero-rows")
def _(tmp, base, mp):
    return translate_args(base, write_npy(tmp / "x.npy", np.zeros((0, 64), np.float32)), tmp / "y.npy")


@case("translate-text-csv")
def _(tmp, base, mp):
    (tmp / "x.csv").write_text("a,b\nfoo,bar\n")
    return translate_args(base, tmp / "x.csv", tmp / "y.npy")


@case("translate-empty-csv")
def _(tmp, base, mp):
    (tmp / "x.csv").write_text("")
    return translate_args(base, tmp / "x.csv", tmp / "y.npy")


@case("translate-binary-garbage-as-csv")
def _(tmp, base, mp):
    (tmp / "x.csv").write_bytes(os.urandom(300))
    return translate_args(base, tmp / "x.csv", tmp / "y.npy")


@case("translate-input-missing")
def _(tmp, base, mp):
    return translate_args(base, tmp / "absent.npy", tmp / "y.npy")


@case("translate-input-is-a-folder")
def _(tmp, base, mp):
    (tmp / "folder.npy").mkdir()
    return translate_args(base, tmp / "folder.npy", tmp / "y.npy")


@case("translate-unknown-input-suffix")
def _(tmp, base, mp):
    (tmp / "x.xlsx").write_bytes(b"PK")
    return translate_args(base, tmp / "x.xlsx", tmp / "y.npy")


@case("translate-unknown-output-suffix")
def _(tmp, base, mp):
    return translate_args(base, good_input(tmp), tmp / "y.docx")


@case("translate-unknown-domain")
def _(tmp, base, mp):
    args = translate_args(base, good_input(tmp), tmp / "y.npy")
    args[args.index("left")] = "middle"
    return args


@case("translate-output-exists")
def _(tmp, base, mp):
    (tmp / "y.npy").write_bytes(b"keep me")
    return translate_args(base, good_input(tmp), tmp / "y.npy")


@case("translate-output-under-a-file")
def _(tmp, base, mp):
    (tmp / "plain").write_text("a file")
    return translate_args(base, good_input(tmp), tmp / "plain" / "y.npy")


@case("translate-output-is-a-folder")
def _(tmp, base, mp):
    (tmp / "out.npy").mkdir()
    return translate_args(base, good_input(tmp), tmp / "out.npy", "--overwrite")


@case("translate-output-name-too-long")
def _(tmp, base, mp):
    return translate_args(base, good_input(tmp), tmp / ("y" * 300 + ".npy"))


@case("translate-read-only-filesystem")
def _(tmp, base, mp):
    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    mp.setattr("tempfile.mkstemp", refuse)
    return translate_args(base, good_input(tmp), tmp / "y.npy")


@case("translate-disk-full")
def _(tmp, base, mp):
    real_save = np.save
    source = good_input(tmp)  # written before np.save is made to fail

    def full(file, *args, **kwargs):
        real_save(file, *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device")

    mp.setattr(np, "save", full)
    return translate_args(base, source, tmp / "y.npy")


# --- generate ------------------------------------------------------------------------------------------------------
@case("generate-zero-samples")
def _(tmp, base, mp):
    return ["generate", str(base), "-n", "0", "--output", str(tmp / "g.npz")]


@case("generate-negative-samples")
def _(tmp, base, mp):
    return ["generate", str(base), "-n", "-5", "--output", str(tmp / "g.npz")]


@case("generate-unknown-method")
def _(tmp, base, mp):
    return ["generate", str(base), "--method", "dream", "--output", str(tmp / "g.npz")]


@case("generate-unknown-suffix")
def _(tmp, base, mp):
    return ["generate", str(base), "--output", str(tmp / "g.docx")]


@case("generate-one-of-the-set-exists")
def _(tmp, base, mp):
    (tmp / "g_right.csv").write_text("keep,me\n1,2\n")
    return ["generate", str(base), "--output", str(tmp / "g.csv")]


@case("generate-second-file-fails")
def _(tmp, base, mp):
    (tmp / "g_left.csv").write_text("old,left\n1,2\n")
    (tmp / "g_right.csv").write_text("old,right\n1,2\n")
    import sharedlatent.runs.sample_files as sample_files

    real = sample_files.write_samples
    calls = []

    def fail_second(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, *args, **kwargs)

    mp.setattr(sample_files, "write_samples", fail_second)
    return ["generate", str(base), "--output", str(tmp / "g.csv"), "--overwrite"]


@case("generate-output-under-a-file")
def _(tmp, base, mp):
    (tmp / "plain").write_text("a file")
    return ["generate", str(base), "--output", str(tmp / "plain" / "g.npz")]


# --- train ---------------------------------------------------------------------------------------------------------
@case("train-overwrite-a-folder-with-an-empty-run-json")
def _(tmp, base, mp):
    (tmp / "precious").mkdir()
    (tmp / "precious" / "run.json").write_text("{}")
    (tmp / "precious" / "thesis.tex").write_text("years of work")
    return ["train", "digits", "--epochs", "1", "--out", str(tmp / "precious"), "--overwrite", "--no-progress"]


@case("train-overwrite-a-folder-that-is-no-run")
def _(tmp, base, mp):
    (tmp / "precious").mkdir()
    (tmp / "precious" / "notes.txt").write_text("keep")
    return ["train", "digits", "--epochs", "1", "--out", str(tmp / "precious"), "--overwrite", "--no-progress"]


@case("train-epochs-flag-and-set-disagree")
def _(tmp, base, mp):
    return ["train", "digits", "--epochs", "2", "--set", "train.epochs=1", "--out", str(tmp / "new")]


@case("train-set-twice")
def _(tmp, base, mp):
    return ["train", "digits", "--set", "train.epochs=2", "--set", "train.epochs=3", "--out", str(tmp / "new")]


@case("translate-h5mu-to-a-run-not-trained-on-anndata")
def _(tmp, base, mp):
    (tmp / "cells.h5mu").write_bytes(b"not read")
    return translate_args(base, tmp / "cells.h5mu", tmp / "y.npy")


@case("train-out-exists")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    return ["train", "digits", "--epochs", "1", "--out", str(run), "--no-progress"]


@case("train-out-under-a-file")
def _(tmp, base, mp):
    (tmp / "plain").write_text("a file")
    return ["train", "digits", "--epochs", "1", "--out", str(tmp / "plain" / "run"), "--no-progress"]


@case("train-device-mps-without-mps")
def _(tmp, base, mp):
    import torch

    if torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    return ["train", "digits", "--epochs", "1", "--device", "mps", "--out", str(tmp / "r"), "--no-progress"]


@case("train-device-cuda-without-cuda")
def _(tmp, base, mp):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    return ["train", "digits", "--epochs", "1", "--device", "cuda", "--out", str(tmp / "r"), "--no-progress"]


# Bad settings for `train digits`: each is the options between the dataset and `--out`.
BAD_TRAIN_OPTIONS = {
    "train-device-unknown": ["--epochs", "1", "--device", "tpu9"],
    "train-negative-epochs": ["--epochs", "-1"],
    "train-zero-batch": ["--batch-size", "0"],
    "train-nan-learning-rate": ["--set", "train.learning_rate=nan"],
    "train-unknown-config-key": ["--set", "train.epochz=3"],
    "train-set-without-equals": ["--set", "train.epochs"],
    "train-data-option-malformed": ["--data-option", "nonsense"],
}


def _bad_train_options(options: list[str]) -> Case:
    return lambda tmp, base, mp: ["train", "digits", *options, "--out", str(tmp / "r"), "--no-progress"]


for _name, _options in BAD_TRAIN_OPTIONS.items():
    CASES[_name] = _bad_train_options(_options)


@case("train-config-missing")
def _(tmp, base, mp):
    return ["train", "--config", str(tmp / "absent.toml"), "--out", str(tmp / "r"), "--no-progress"]


@case("train-config-not-toml")
def _(tmp, base, mp):
    (tmp / "c.toml").write_text("[train\nepochs = ")
    return ["train", "--config", str(tmp / "c.toml"), "--out", str(tmp / "r"), "--no-progress"]


@case("train-config-binary")
def _(tmp, base, mp):
    (tmp / "c.toml").write_bytes(os.urandom(100))
    return ["train", "--config", str(tmp / "c.toml"), "--out", str(tmp / "r"), "--no-progress"]


@case("train-config-wrong-type")
def _(tmp, base, mp):
    (tmp / "c.toml").write_text('[train]\nepochs = "many"\n')
    return ["train", "--config", str(tmp / "c.toml"), "--out", str(tmp / "r"), "--no-progress"]


@case("train-unknown-dataset")
def _(tmp, base, mp):
    return ["train", "no_such_dataset", "--out", str(tmp / "r"), "--no-progress"]


@case("train-module-function-missing")
def _(tmp, base, mp):
    return ["train", "json:no_such_function", "--out", str(tmp / "r"), "--no-progress"]


@case("train-dataset-file-missing")
def _(tmp, base, mp):
    return ["train", f"{tmp / 'absent.py'}:load", "--out", str(tmp / "r"), "--no-progress"]


@case("train-tables-file-missing")
def _(tmp, base, mp):
    return [
        "train",
        "tables",
        "--data-option",
        f"left_path={tmp / 'a.csv'}",
        "--data-option",
        f"right_path={tmp / 'b.csv'}",
        "--out",
        str(tmp / "r"),
        "--no-progress",
    ]


def _tables(tmp: Path, left_ids: list[str], right_ids: list[str]) -> list[str]:
    rng = np.random.default_rng(0)
    for name, ids in (("a", left_ids), ("b", right_ids)):
        rows = [f"{i}," + ",".join(f"{v:.3f}" for v in rng.uniform(0, 1, 3)) for i in ids]
        (tmp / f"{name}.csv").write_text("id,f1,f2,f3\n" + "\n".join(rows) + "\n")
    return [
        "train",
        "tables",
        "--data-option",
        f"left_path={tmp / 'a.csv'}",
        "--data-option",
        f"right_path={tmp / 'b.csv'}",
        "--epochs",
        "1",
        "--out",
        str(tmp / "r"),
        "--no-progress",
    ]


@case("train-tables-no-shared-ids")
def _(tmp, base, mp):
    return _tables(tmp, [f"a{i}" for i in range(30)], [f"b{i}" for i in range(30)])


@case("train-tables-duplicated-ids")
def _(tmp, base, mp):
    return _tables(tmp, ["x"] * 30, ["x"] * 30)


@case("train-tables-nan-values")
def _(tmp, base, mp):
    args = _tables(tmp, [f"s{i}" for i in range(30)], [f"s{i}" for i in range(30)])
    text = (tmp / "a.csv").read_text().splitlines()
    text[3] = text[3].rsplit(",", 1)[0] + ",nan"
    (tmp / "a.csv").write_text("\n".join(text) + "\n")
    return args


@case("evaluate-tables-data-changed")
def _(tmp, base, mp):
    args = _tables(tmp, [f"s{i}" for i in range(40)], [f"s{i}" for i in range(40)])
    assert main(args) == 0
    text = (tmp / "a.csv").read_text().replace("0.", "0.9", 5)
    (tmp / "a.csv").write_text(text)
    return ["evaluate", str(tmp / "r")]


@case("evaluate-unknown-split")
def _(tmp, base, mp):
    return ["evaluate", str(base), "--split", "validation"]


@case("unknown-command")
def _(tmp, base, mp):
    return ["bake", "digits"]


@case("unknown-option")
def _(tmp, base, mp):
    return ["train", "digits", "--epocs", "3"]


# --- more of each family --------------------------------------------------------------------------------------------
@case("evaluate-run-json-format-from-the-future")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_run_json(run, lambda r: r.update(format_version=99))
    return ["evaluate", str(run)]


@case("evaluate-run-json-foreign-format-marker")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_run_json(run, lambda r: r.update(format="someone-elses-run"))
    return ["evaluate", str(run)]


@case("evaluate-run-json-unknown-field")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_run_json(run, lambda r: r.update(loader_hook="os:system"))
    return ["evaluate", str(run)]


@case("evaluate-run-json-names-a-stdlib-function")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_run_json(run, lambda r: r.update(dataset="shutil:rmtree", data_options={"path": str(tmp)}))
    return ["evaluate", str(run)]


@case("evaluate-run-json-allow-pickle-as-a-string")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    (tmp / "data.pkl").write_bytes(b"not even a pickle")
    edit_run_json(
        run, lambda r: r.update(dataset="pickle", data_options={"path": str(tmp / "data.pkl"), "allow_pickle": "yes"})
    )
    return ["evaluate", str(run)]


@case("evaluate-data-file-gone")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_run_json(run, lambda r: r.update(data_files={str(tmp / "gone.csv"): {"size": 3, "sha256": "0" * 64}}))
    return ["evaluate", str(run)]


@case("evaluate-data-file-same-size-other-content")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    (tmp / "d.csv").write_text("abc")
    edit_run_json(run, lambda r: r.update(data_files={str(tmp / "d.csv"): {"size": 3, "sha256": "0" * 64}}))
    return ["evaluate", str(run)]


@case("info-run-json-wrong-types")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_run_json(run, lambda r: r.update(input_sizes={"left": "64"}))
    return ["info", str(run)]


@case("translate-metadata-not-json")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    path = run / "model.safetensors"
    raw = path.read_bytes()
    length = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + length])
    header["__metadata__"]["sharedlatent"] = "{oops"
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + raw[8 + length :])
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("translate-metadata-negative-input-size")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_model_metadata(run, lambda m: m["input_sizes"].update(left=-64))
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("translate-metadata-unknown-key")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_model_metadata(run, lambda m: m.update(on_load="os.system"))
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("translate-metadata-huge-shared-widths")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_model_metadata(run, lambda m: m["config"]["model"].update(shared_widths=[10**9]))
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("generate-latent-box-wrong-length")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_model_metadata(run, lambda m: m.update(latent_box=[[0.0], [1.0]]))
    return ["generate", str(run), "-n", "5", "--output", str(tmp / "g.npz")]


@case("generate-latent-box-low-above-high")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_model_metadata(run, lambda m: m.update(latent_box=[m["latent_box"][1], [v - 1 for v in m["latent_box"][0]]]))
    return ["generate", str(run), "-n", "5", "--output", str(tmp / "g.npz")]


@case("translate-preprocessors-missing-a-domain")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_model_metadata(run, lambda m: m["preprocessors"].pop(sorted(m["preprocessors"])[0]))
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("translate-preprocessing-infinite-scale")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_model_metadata(
        run, lambda m: m["preprocessors"].update(left={"name": "minmax", "offset": [0.0], "scale": [float("inf")]})
    )
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("translate-infinite-weights")
def _(tmp, base, mp):
    run = copy_run(base, tmp)

    def poison(tensors):
        name = sorted(tensors)[-1]
        tensors[name] = tensors[name].copy()
        tensors[name].flat[0] = np.inf

    edit_tensors(run, poison)
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("translate-extra-tensor")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_tensors(run, lambda tensors: tensors.update(smuggled=np.zeros(4, np.float32)))
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("translate-tensor-wrong-shape")
def _(tmp, base, mp):
    run = copy_run(base, tmp)

    def reshape(tensors):
        name = next(n for n in sorted(tensors) if tensors[n].ndim == 2)
        tensors[name] = np.ascontiguousarray(tensors[name].T)

    edit_tensors(run, reshape)
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("translate-safetensors-header-length-huge")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    raw = (run / "model.safetensors").read_bytes()
    (run / "model.safetensors").write_bytes(struct.pack("<Q", 2**60) + raw[8:])
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("translate-npy-truncated-data")
def _(tmp, base, mp):
    raw = good_input(tmp).read_bytes()
    (tmp / "x.npy").write_bytes(raw[: len(raw) - 100])
    return translate_args(base, tmp / "x.npy", tmp / "y.npy")


@case("translate-input-is-output-by-a-hard-link")
def _(tmp, base, mp):
    source = good_input(tmp)
    os.link(source, tmp / "hard.npy")
    return translate_args(base, source, tmp / "hard.npy", "--overwrite")


@case("translate-npz-labels-length-differs")
def _(tmp, base, mp):
    np.savez(tmp / "x.npz", values=np.zeros((5, 64), np.float32), labels=np.arange(7))
    return translate_args(base, tmp / "x.npz", tmp / "y.npy")


@case("generate-hundred-million-samples")
def _(tmp, base, mp):
    return ["generate", str(base), "-n", "100000000", "--output", str(tmp / "g.npz")]


@case("generate-output-is-a-folder")
def _(tmp, base, mp):
    (tmp / "g.npz").mkdir()
    return ["generate", str(base), "--output", str(tmp / "g.npz"), "--overwrite"]


@case("generate-read-only-filesystem")
def _(tmp, base, mp):
    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    mp.setattr(np, "savez", refuse)
    return ["generate", str(base), "-n", "3", "--output", str(tmp / "g.npz")]


@case("train-overwrite-a-folder-with-an-old-run-json-and-a-fake-model")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_run_json(run, lambda r: [r.pop(k) for k in ("format", "format_version")])
    (run / "model.safetensors").write_bytes(b"my notes, not a model")
    return ["train", "digits", "--epochs", "1", "--out", str(run), "--overwrite", "--no-progress"]


@case("train-overwrite-a-folder-whose-run-json-is-a-list")
def _(tmp, base, mp):
    (tmp / "precious").mkdir()
    (tmp / "precious" / "run.json").write_text("[]")
    (tmp / "precious" / "model.safetensors").write_text("x")
    return ["train", "digits", "--epochs", "1", "--out", str(tmp / "precious"), "--overwrite", "--no-progress"]


@case("train-overwrite-a-run-folder-without-its-model")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    (run / "model.safetensors").unlink()
    return ["train", "digits", "--epochs", "1", "--out", str(run), "--overwrite", "--no-progress"]


@case("compare-metrics-translation-a-list")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    (run / "metrics.json").write_text('{"split": "test", "translation": [1, 2]}')
    return ["compare", str(run), str(base)]


@case("evaluate-trust-loader-still-needs-a-real-function")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_run_json(run, lambda r: r.update(dataset=f"{tmp / 'absent.py'}:load"))
    return ["evaluate", str(run), "--trust-loader"]


@case("train-config-toml-names-a-python-file-loader")
def _(tmp, base, mp):
    """A run folder's config.toml, handed to --config, is data: its loader path needs --trust-loader."""
    payload = tmp / "payload.py"
    payload.write_text(f"open({str(tmp / 'marker')!r}, 'w').close()\ndef load():\n    pass\n")
    config = tmp / "config.toml"
    config.write_text((base / "config.toml").read_text().replace('dataset = "digits"', f'dataset = "{payload}:load"'))
    assert str(payload) in config.read_text()
    return ["train", "--config", str(config), "--epochs", "1", "--out", str(tmp / "out"), "--no-progress"]


@case("train-overwrite-an-out-folder-that-holds-the-data")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    rows = "sample_id,x,y\n" + "".join(f"s{i},{i % 7},{i % 5}\n" for i in range(60))
    for name in ("l.csv", "r.csv"):
        (run / name).write_text(rows)
    options = ["--data-option", f"left_path={run / 'l.csv'}", "--data-option", f"right_path={run / 'r.csv'}"]
    return ["train", "tables", *options, "--epochs", "1", "--out", str(run), "--overwrite", "--no-progress"]


@case("evaluate-run-json-layout-climbs-out-of-the-folder")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_run_json(run, lambda r: r.update(layout="/../../../ESCAPED"))
    return ["evaluate", str(run)]


@case("train-domain-name-with-a-slash")
def _(tmp, base, mp):
    rows = "sample_id,x,y\n" + "".join(f"s{i},{i % 7},{i % 5}\n" for i in range(60))
    for name in ("l.csv", "r.csv"):
        (tmp / name).write_text(rows)
    options = ["--data-option", "left_path=l.csv", "--data-option", "right_path=r.csv", "--data-option", "left=a/b"]
    return ["train", "tables", *options, "--epochs", "1", "--out", str(tmp / "out"), "--no-progress"]


@case("evaluate-history-json-not-a-history")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    (run / "history.json").write_text('{"a": 1}')
    return ["evaluate", str(run)]


@case("evaluate-history-json-loss-a-string")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    history = json.loads((run / "history.json").read_text())
    history["records"][0]["train_loss"] = "low"
    (run / "history.json").write_text(json.dumps(history))
    return ["evaluate", str(run)]


@case("evaluate-run-json-data-notes-not-text")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_run_json(run, lambda r: r.update(data_notes=[{"a": 1}]))
    return ["evaluate", str(run)]


@case("generate-run-json-domains-not-the-models")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_run_json(run, lambda r: r.update(domains=["foo", "bar"]))
    return ["generate", str(run), "-n", "2", "--output", str(tmp / "g.csv")]


@case("info-run-json-nested-too-deeply")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    (run / "run.json").write_text("[" * 100_000 + "]" * 100_000)
    return ["translate", str(run), "--source", "left", "--target", "right", "--input", str(good_input(tmp)),
            "--output", str(tmp / "o.npy")]  # fmt: skip


@case("train-config-nested-too-deeply")
def _(tmp, base, mp):
    (tmp / "c.toml").write_text("v = " + "[" * 100_000 + "]" * 100_000 + "\n")
    return ["train", "--config", str(tmp / "c.toml"), "--out", str(tmp / "out")]


@case("generate-negative-seed")
def _(tmp, base, mp):
    return ["generate", str(base), "-n", "2", "--seed", "-1", "--output", str(tmp / "g.csv")]


@case("train-seed-beyond-32-bits")
def _(tmp, base, mp):
    return ["train", "digits", "--set", "train.seed=99999999999999999999", "--out", str(tmp / "out")]


@case("train-absurd-latent-size")
def _(tmp, base, mp):
    return ["train", "digits", "--set", "model.latent_size=100000000", "--out", str(tmp / "out")]


@case("translate-model-latent-box-beyond-float32")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    size = json.loads((run / "config.toml").read_text().split("latent_size = ")[1].split()[0])
    edit_model_metadata(run, lambda m: m.update(latent_box=[[-1e308] * size, [1e308] * size]))
    return ["generate", str(run), "-n", "2", "--output", str(tmp / "g.csv")]


@case("translate-model-integer-tensor")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    edit_tensors(run, lambda t: t.update({"z_mean.bias": t["z_mean.bias"].view(np.int32)}))
    return translate_args(run, good_input(tmp), tmp / "o.npy")


@case("translate-hdf5-that-is-not-anndata")
def _(tmp, base, mp):
    h5py = pytest.importorskip("h5py")
    pytest.importorskip("anndata")
    with h5py.File(tmp / "x.h5ad", "w") as handle:
        handle["foo"] = np.zeros(3)
    return translate_args(base, tmp / "x.h5ad", tmp / "o.npy")


@case("translate-csv-row-longer-than-its-header")
def _(tmp, base, mp):
    header = ",".join(f"pixel_{i // 8}_{i % 8}" for i in range(64))
    (tmp / "x.csv").write_text(header + "\n" + ",".join(["0.5"] * 70) + "\n")
    return translate_args(base, tmp / "x.csv", tmp / "o.csv")


@case("translate-complex-npy")
def _(tmp, base, mp):
    return translate_args(base, write_npy(tmp / "x.npy", np.ones((3, 64), dtype=complex)), tmp / "o.npy")


@case("translate-input-is-a-folder")
def _(tmp, base, mp):
    (tmp / "folder").mkdir()
    return translate_args(base, tmp / "folder", tmp / "o.npy")


@case("translate-one-weight-changed-on-disk")
def _(tmp, base, mp):
    run = copy_run(base, tmp)

    def nudge(tensors):
        first = sorted(tensors)[0]
        tensors[first] = tensors[first] * np.float32(1.001)

    edit_tensors(run, nudge)
    return translate_args(run, good_input(tmp), tmp / "y.npy")


@case("info-model-file-truncated")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    (run / "model.safetensors").write_bytes((base / "model.safetensors").read_bytes()[:1000])
    return ["info", str(run)]


@case("info-config-toml-not-the-models")
def _(tmp, base, mp):
    run = copy_run(base, tmp)
    text = (run / "config.toml").read_text()
    assert "latent_size = 16" in text
    (run / "config.toml").write_text(text.replace("latent_size = 16", "latent_size = 1000"))
    return ["info", str(run)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_gives_one_error_line_and_changes_nothing(name, base_run, tmp_path, capsys, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    argv = CASES[name](work, base_run, monkeypatch)
    before_work, before_base = snapshot(work), snapshot(base_run)
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse errors exit through SystemExit
        code = stop.code
    err = capsys.readouterr().err
    monkeypatch.undo()
    assert code == 2, f"exit code {code}, stderr: {err}"
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert "Traceback" not in err
    after = snapshot(work)
    for path, content in before_work.items():
        assert after.get(path) == content, f"{path} changed or vanished"
    assert snapshot(base_run) == before_base
    assert not (work / "marker").exists(), "a run folder's content ran code"
    assert not [p for p in work.iterdir() if p.name.startswith(".") and "partial" in p.name], "staging left behind"


def test_the_catalogue_is_large():
    assert len(CASES) >= 60
