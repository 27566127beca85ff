"""The `sharedlatent` command leaves without the interpreter's teardown (runs/cli.py entry): its output, exit code
and exit handlers must all survive that."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import sharedlatent.runs.cli as cli


def run_entry(main_body: str) -> subprocess.CompletedProcess:
    """entry() in a fresh interpreter, with main() replaced by `main_body` (a function body returning the code)."""
    code = (
        "import atexit, sys\n"
        "import sharedlatent.runs.cli as cli\n"
        "def fake_main():\n" + "".join(f"    {line}\n" for line in main_body.splitlines()) + "cli.main = fake_main\n"
        "cli.entry()\n"
        "print('not reached')\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_entry_keeps_the_exit_code_the_buffered_output_and_the_exit_handlers():
    body = (
        "atexit.register(lambda: print('handler ran'))\n"
        "sys.stdout.write('x' * 100000)\n"  # more than a pipe holds, still buffered when main returns
        "print('error: something', file=sys.stderr)\n"
        "return 3"
    )
    result = run_entry(body)
    assert result.returncode == 3
    assert result.stdout == "x" * 100000 + "handler ran\n"
    assert result.stderr == "error: something\n"


def test_an_exception_escaping_main_leaves_with_its_traceback():
    result = run_entry("raise ValueError('a bug')")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "ValueError: a bug" in result.stderr


def test_the_module_command_exits_through_entry():
    result = subprocess.run(
        [sys.executable, "-m", "sharedlatent", "datasets"], capture_output=True, text=True, check=True
    )
    assert result.stdout.rstrip().splitlines()[-1].strip().startswith("needs:")  # the whole listing arrived
    result = subprocess.run(
        [sys.executable, "-m", "sharedlatent", "info", "/no/such/run"], capture_output=True, text=True
    )
    assert result.returncode != 0 and result.stderr.startswith("error:")


def test_a_profiled_command_still_writes_its_profile(tmp_path):
    profile = tmp_path / "profile.out"
    command = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "sharedlatent", "datasets"]
    subprocess.run(command, capture_output=True, text=True, check=True)
    assert profile.stat().st_size > 0


DATASETS_COMMAND = (
    "from sharedlatent.runs.cli import entry; import sys; sys.argv = ['sharedlatent', 'datasets']; entry()"
)


@pytest.mark.skipif(sys.platform != "linux", reason="tells a closed pipe by Linux's poll (POLLERR)")
def test_a_closed_output_pipe_stops_quietly_with_the_shells_code_for_it():
    """`sharedlatent ... | head` once head has left: no "error: Broken pipe" and exit 141 (128 + SIGPIPE), as
    other command-line tools end; nothing is left to fail at exit."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before anything is written
    try:
        for unbuffered in (False, True):  # a short output sits in the buffer until the command ends, or not
            environment = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
            if unbuffered:
                environment["PYTHONUNBUFFERED"] = "1"
            command = [sys.executable, "-c", DATASETS_COMMAND]
            result = subprocess.run(command, stdout=write_end, stderr=subprocess.PIPE, text=True, env=environment)
            assert (result.returncode, result.stderr) == (141, ""), f"unbuffered={unbuffered}"
    finally:
        os.close(write_end)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_output_to_a_full_disk_is_an_error_line():
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-c", DATASETS_COMMAND], stdout=full, stderr=subprocess.PIPE, text=True, env=environment
        )
    assert result.returncode == 2
    assert result.stderr == "error: No space left on device\n"


def test_a_broken_pipe_that_is_not_stdout_is_an_error_line(monkeypatch, capsys):
    def fails(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setitem(cli.COMMANDS, "datasets", (cli.COMMANDS["datasets"][0], fails))
    assert cli.main(["datasets"]) == cli.EXIT_USER_ERROR
    assert capsys.readouterr().err == "error: Broken pipe\n"
