"""A run folder is data, never code: evaluate runs no loader or pickle it names unless the user says so again;
--overwrite replaces real runs only; a crash or SIGTERM leaves nothing half-written; data changes are caught."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest

from sharedlatent.model_file import check_model_file
from sharedlatent.runs.cli import main
from sharedlatent.runs.record import RUN_FORMAT, read_record
from sharedlatent.runs.target import is_run_folder, sweep_stale_staging

FAST = ["--epochs", "1", "--no-progress"]


class Plant:
    """Unpickling this touches a marker file: the proof that a pickle ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("trust") / "run"
    assert main(["train", "digits", "--out", str(folder), *FAST]) == 0
    return folder


def copy_with_record(run: Path, tmp: Path, **changes) -> Path:
    copy = tmp / "copy"
    shutil.copytree(run, copy)
    record = json.loads((copy / "run.json").read_text())
    record.update(changes)
    (copy / "run.json").write_text(json.dumps(record))
    return copy


def user_dataset_file(tmp: Path) -> Path:
    """A legitimate user loader: two small random domains sharing a latent factor."""
    path = tmp / "my_data.py"
    path.write_text(
        "import numpy as np\n"
        "from sharedlatent.datasets import PairedDataset, Split\n\n"
        "def load(n='60'):\n"
        "    rng = np.random.default_rng(0)\n"
        "    z = rng.uniform(0, 1, (int(n), 2))\n"
        "    left, right = z @ rng.uniform(0, 0.5, (2, 5)), z @ rng.uniform(0, 0.5, (2, 4))\n"
        "    cut = int(n) * 3 // 4\n"
        "    split = lambda rows: Split({'left': left[rows], 'right': right[rows]})\n"
        "    return PairedDataset('mine', split(slice(0, cut)), split(slice(cut, None)))\n"
    )
    return path


def test_evaluate_never_runs_a_pickle_or_loader_named_by_run_json(digits_run, tmp_path, capsys):
    marker = tmp_path / "marker"
    (tmp_path / "data.pkl").write_bytes(pickle.dumps(Plant(marker)))
    payload = tmp_path / "payload.py"
    payload.write_text(f"from pathlib import Path\nPath({str(marker)!r}).touch()\n\ndef load(**_):\n    pass\n")
    pickled = copy_with_record(
        digits_run,
        tmp_path / "a",
        dataset="pickle",
        data_options={"path": str(tmp_path / "data.pkl"), "allow_pickle": True},
    )
    coded = copy_with_record(digits_run, tmp_path / "b", dataset=f"{payload}:load", data_options={})
    assert main(["evaluate", str(pickled)]) == 2
    assert "--allow-pickle" in capsys.readouterr().err
    assert main(["evaluate", str(coded)]) == 2
    assert "--trust-loader" in capsys.readouterr().err
    assert not marker.exists()


def test_trust_loader_opts_in_for_a_user_dataset_file(tmp_path, capsys):
    loader = f"{user_dataset_file(tmp_path)}:load"
    run = tmp_path / "run"
    assert main(["train", loader, "--out", str(run), *FAST]) == 0
    assert main(["evaluate", str(run)]) == 2
    assert "--trust-loader" in capsys.readouterr().err
    assert main(["evaluate", str(run), "--trust-loader"]) == 0


def test_allow_pickle_opts_in_for_a_trusted_pickle(tmp_path, capsys):
    rng = np.random.default_rng(0)
    arrays = tuple(rng.uniform(0, 1, (n, 6)) for n in (40, 40, 10, 10))
    with gzip.open(tmp_path / "data.pkl.gz", "wb") as stream:
        pickle.dump(arrays, stream)
    run = tmp_path / "run"
    options = ["--data-option", f"path={tmp_path / 'data.pkl.gz'}", "--allow-pickle"]
    assert main(["train", "pickle", *options, "--out", str(run), *FAST]) == 0
    assert main(["evaluate", str(run)]) == 2
    assert "--allow-pickle" in capsys.readouterr().err
    assert main(["evaluate", str(run), "--allow-pickle"]) == 0


def test_train_overwrite_replaces_a_genuine_run_folder(digits_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(digits_run, run)
    created = read_record(run).created
    (run / "report_train.html").write_text("the old run's")  # a run file the new run does not write
    assert main(["train", "digits", "--out", str(run), "--overwrite", "--seed", "3", *FAST]) == 0
    assert not (run / "report_train.html").exists()
    assert read_record(run).format == RUN_FORMAT
    assert read_record(run).created >= created


def test_a_run_json_from_before_the_format_marker_still_counts_as_a_run(digits_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(digits_run, run)
    record = json.loads((run / "run.json").read_text())
    for key in ("format", "format_version", "data_files", "data_notes"):
        record.pop(key)
    (run / "run.json").write_text(json.dumps(record))
    assert is_run_folder(run)
    (run / "model.safetensors").write_bytes(b"not a model")
    assert not is_run_folder(run)


def _tables(tmp: Path, ids: list[str]) -> list[str]:
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        rows = [f"{i}," + ",".join(f"{v:.3f}" for v in rng.uniform(0, 1, 3)) for i in ids]
        (tmp / f"{name}.csv").write_text("id,f1,f2,f3\n" + "\n".join(rows) + "\n")
    return ["train", "tables", "--data-option", "left_path=a.csv", "--data-option", "right_path=b.csv", *FAST]


def test_a_tables_run_evaluated_from_another_folder_uses_the_stored_absolute_paths(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.chdir(data)
    args = _tables(data, [f"s{i}" for i in range(40)] + ["lonely"])
    (data / "b.csv").write_text((data / "b.csv").read_text().replace("lonely,", "alone,"))
    assert main([*args, "--out", str(tmp_path / "run")]) == 0
    assert "1 dropped" in capsys.readouterr().out  # the train summary names the dropped rows
    record = read_record(tmp_path / "run")
    assert record.data_options["left_path"] == str(data / "a.csv")
    assert set(record.data_files) == {str(data / "a.csv"), str(data / "b.csv")}
    assert any("1 dropped" in note for note in record.data_notes)
    held_out = (tmp_path / "run" / "test_samples.csv").read_text().splitlines()  # which samples the metrics scored
    assert held_out[0] == "sample_id" and len(held_out) - 1 == 8 and set(held_out[1:]) < {f"s{i}" for i in range(40)}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.csv").write_text("id,f1,f2,f3\nx,1,2,3\n")  # a decoy a relative path would pick up
    monkeypatch.chdir(elsewhere)
    assert main(["evaluate", str(tmp_path / "run")]) == 0


def test_sigterm_while_writing_the_run_leaves_nothing_behind(tmp_path, monkeypatch, capsys):
    import sharedlatent.runs.evaluate as run_evaluate

    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(run_evaluate, "evaluate_into", terminated)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "digits", "--out", str(tmp_path / "run"), *FAST]) == 143
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error:")
    # Nothing half-written stays: no run folder, no staging. A checkpoint, when training wrote one, stays so that
    # `--resume` can finish the run, and the error line says so.
    left = [p.name for p in tmp_path.iterdir()]
    assert left in ([], [".run.checkpoint"])
    assert ("--resume" in err[0]) == bool(left)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_stale_staging_of_a_dead_process_is_swept_and_a_live_one_kept(tmp_path):
    out = tmp_path / "run"
    dead, live = tmp_path / ".run.partial-999999999", tmp_path / f".run.partial-{os.getppid()}"
    for folder in (dead, live):
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"half")
    assert sweep_stale_staging(out) == [dead]
    assert live.exists() and not dead.exists()


def test_a_model_file_written_by_save_passes_the_check(digits_run):
    metadata = check_model_file(digits_run / "model.safetensors")
    assert metadata["input_sizes"] == {"left": 64, "right": 64}


def test_weights_or_metadata_changed_on_disk_are_refused_and_files_without_a_checksum_load(digits_run, tmp_path):
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    from sharedlatent import SharedLatentVAE
    from sharedlatent.errors import SharedLatentError
    from sharedlatent.storage import DIGEST_KEY

    path = tmp_path / "model.safetensors"
    with safe_open(str(digits_run / "model.safetensors"), framework="np") as handle:
        header = handle.metadata()
    tensors = load_file(str(digits_run / "model.safetensors"))
    assert len(header[DIGEST_KEY]) == 64
    name = sorted(tensors)[3]
    changed = dict(tensors)
    changed[name] = tensors[name].copy()
    changed[name].flat[0] += 1e-3  # one value, finite, same shape: every structural check passes
    save_file(changed, str(path), metadata=header)
    with pytest.raises(
        SharedLatentError, match="is damaged: its weights or metadata do not match the checksum saved with them"
    ):
        SharedLatentVAE.load(path)
    edited = json.loads(header["sharedlatent"])  # a number of the metadata changed, its structure still valid
    edited["latent_box"][1][0] += 1.0
    save_file(tensors, str(path), metadata={**header, "sharedlatent": json.dumps(edited)})
    with pytest.raises(SharedLatentError, match="is damaged: its weights or metadata do not match"):
        SharedLatentVAE.load(path)
    unsummed = {key: value for key, value in header.items() if key != DIGEST_KEY}
    save_file(tensors, str(path), metadata=unsummed)
    with pytest.raises(SharedLatentError, match="its checksum is missing"):  # version 2 files always carry one
        SharedLatentVAE.load(path)
    version_1 = json.loads(header["sharedlatent"])
    version_1["format_version"] = 1  # written before checksums: read as before
    save_file(tensors, str(path), metadata={**unsummed, "sharedlatent": json.dumps(version_1)})
    x = np.random.default_rng(0).uniform(0, 1, (3, 64)).astype(np.float32)
    before = SharedLatentVAE.load(digits_run / "model.safetensors").translate(x, "left", "right")
    np.testing.assert_array_equal(SharedLatentVAE.load(path).translate(x, "left", "right"), before)


def test_generate_replaces_a_file_set_and_refuses_absurd_counts(digits_run, tmp_path, capsys):
    (tmp_path / "g_left.csv").write_text("old\n")
    assert main(["generate", str(digits_run), "-n", "3", "--output", str(tmp_path / "g.csv"), "--overwrite"]) == 0
    assert len((tmp_path / "g_left.csv").read_text().splitlines()) == 4 and (tmp_path / "g_right.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g_left.csv", "g_right.csv"]
    assert main(["generate", str(digits_run), "-n", "100000000", "--output", str(tmp_path / "h.npz")]) == 2
    assert "GiB" in capsys.readouterr().err and not (tmp_path / "h.npz").exists()


def test_overwrite_refuses_a_run_folder_holding_the_users_own_files(digits_run, tmp_path, capsys, monkeypatch):
    from sharedlatent.runs.target import files_a_run_does_not_write
    from sharedlatent.storage import atomic_path

    assert files_a_run_does_not_write(digits_run) == []  # every file a digits run writes is known as a run's
    copy = tmp_path / "run"
    shutil.copytree(digits_run, copy)
    assert main(["evaluate", str(copy), "--split", "train"]) == 0
    assert files_a_run_does_not_write(copy) == []  # and so are the train split's
    left_behind = []  # a kill while evaluate writes leaves atomic_path's temporary file: it is the run's, not the user's
    for name in ("metrics.json", "samples_64-96-64-32-16_test.png", "model.safetensors"):
        with pytest.raises(InterruptedError), atomic_path(copy / name) as temporary:  # the name it makes, nothing kept
            left_behind.append(temporary.name)
            raise InterruptedError
    for name in left_behind:
        (copy / name).write_bytes(b"")
    assert files_a_run_does_not_write(copy) == []
    (copy / "my_notes.txt").write_text("mine")
    (copy / "predictions").mkdir()
    capsys.readouterr()
    assert main(["train", "digits", "--out", str(copy), "--overwrite", *FAST]) == 2
    assert "also holds files a run does not write (my_notes.txt, predictions)" in capsys.readouterr().err
    assert (copy / "my_notes.txt").read_text() == "mine"
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.chdir(data)
    assert main([*_tables(data, [f"s{i}" for i in range(40)]), "--out", str(tmp_path / "tables")]) == 0
    assert files_a_run_does_not_write(tmp_path / "tables") == []  # scatter figures of a tables run
