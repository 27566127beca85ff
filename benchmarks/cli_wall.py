"""Wall time of the default command, `sharedlatent train digits` (train, evaluate, figures, report), split into
training (the seconds the run records for its fit) and everything else (process start, imports, data, evaluation).

Prints a row per run and writes JSON. `--src OTHER/src` also times another checkout's source tree, interleaved
with this one so that a change in the machine's speed hits both alike.

    .venv/bin/python benchmarks/cli_wall.py [--repeats 3] [--src /path/to/other/checkout/src]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRAINING_LINE = re.compile(r"^training .*?([0-9.]+) s$", re.MULTILINE)


def timed_run(source: Path, folder: Path) -> dict:
    """One `sharedlatent train digits` in a fresh process importing the package from `source`."""
    environment = dict(os.environ, PYTHONPATH=str(source))
    command = [sys.executable, "-m", "sharedlatent", "train", "digits", "--out", str(folder), "--no-progress"]
    tick = time.perf_counter()
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - tick
    training = float(TRAINING_LINE.search(result.stdout).group(1))
    return {
        "source": str(source),
        "wall_s": round(wall, 2),
        "training_s": training,
        "rest_s": round(wall - training, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--src", type=Path, action="append", default=[], help="another source tree to time as well")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "cli_wall.json")
    args = parser.parse_args()
    sources = [HERE.parent / "src", *args.src]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(args.repeats):
            for index, source in enumerate(sources):
                row = timed_run(source, Path(scratch) / f"run_{repeat}_{index}")
                rows.append(row)
                print(
                    f"{row['source']:<40} wall {row['wall_s']:6.1f} s  training {row['training_s']:6.1f} s  "
                    f"rest {row['rest_s']:5.1f} s",
                    flush=True,
                )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"python": platform.python_version(), "cpus": os.cpu_count()}
    args.out.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
