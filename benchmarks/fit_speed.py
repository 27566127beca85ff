"""Training speed on digits at fixed work, with early stopping off so that every run trains the same epochs whatever
its rounding, in fresh processes, optionally interleaved with another checkout's source.

`--schedule original` (the default) is the original's settings (batch 256, every training row);
`--schedule joint` is our default settings (batch 64, 10% held out for the validation loss, computed every epoch).
Prints a row per run (fit seconds, phase epochs, sample-passes per second) and writes JSON. `digits_quality.py`
reports speed too, but there early stopping can end two versions of the code whose rounding differs after
different numbers of (differently priced) epochs; here it cannot.

    .venv/bin/python benchmarks/fit_speed.py [--schedule original|joint] [--epochs 200] [--repeats 3] [--threads N]
        [--src OTHER/src] [--out benchmarks/results/fit_speed.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Runs in the child, against whichever source tree PYTHONPATH names; prints one JSON line.
FIT = """
import dataclasses, json, sys
from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import RunConfig, original_config
from sharedlatent.datasets import load_dataset
from sharedlatent.training.holdout import validation_size
data = load_dataset("digits")
epochs, schedule, threads = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
config = original_config() if schedule == "original" else RunConfig()
config.train = dataclasses.replace(config.train, epochs=epochs, patience=10**6, progress=False, threads=threads)
model = SharedLatentVAE(data.input_sizes, config)
history = model.fit(data.train.domains)
rows = data.train.n_samples - validation_size(data.train.n_samples, config.train.validation_fraction)
import sharedlatent
print(json.dumps({"seconds": history.seconds, "phase_epochs": len(history.records),
                  "passes_per_second": rows * len(history.records) / history.seconds, "package": sharedlatent.__file__}))
"""


def timed_fit(source: Path, epochs: int, schedule: str, threads: int = 0) -> dict:
    """One fit in a fresh process importing the package from `source`; stops with the child's error if it fails or
    imported the package from elsewhere (an installed copy filling in for a wrong path)."""
    environment = dict(os.environ, PYTHONPATH=str(source))
    command = [sys.executable, "-c", FIT, str(epochs), schedule, str(threads)]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"error: the fit importing {source} failed:\n{done.stderr.strip()}")
    run = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(run.pop("package")).resolve().is_relative_to(source):
        raise SystemExit(f"error: the fit imported sharedlatent from outside {source}")
    return {"source": str(source), **run}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schedule", choices=("original", "joint"), default="original")
    parser.add_argument("--epochs", type=int, default=200, help="epochs per stage (original: joint, then rounds)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="train.threads (0: the package's thread policy)")
    parser.add_argument("--src", type=Path, help="another checkout's src folder, timed interleaved with this one")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "fit_speed.json")
    args = parser.parse_args()
    if args.epochs < 1 or args.repeats < 1:
        parser.error("--epochs and --repeats must be at least 1")
    sources = [(HERE.parent / "src").resolve()] + ([args.src.resolve()] if args.src else [])
    for source in sources:
        if not (source / "sharedlatent" / "__init__.py").is_file():
            parser.error(f"{source} holds no sharedlatent package; give a checkout's src folder")
    runs = []
    for _ in range(args.repeats):
        for source in sources:
            run = timed_fit(source, args.epochs, args.schedule, args.threads)
            runs.append(run)
            print(
                f"{run['source']:<40} fit {run['seconds']:6.2f} s  {run['phase_epochs']} phase epochs"
                f"  {run['passes_per_second']:8.0f} passes/s",
                flush=True,
            )
    for source in sources:
        mine = [run["passes_per_second"] for run in runs if run["source"] == str(source)]
        print(f"{str(source):<40} median {statistics.median(mine):8.0f} passes/s, best {max(mine):8.0f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"python": platform.python_version(), "cpus": os.cpu_count()}
    args.out.write_text(
        json.dumps(
            {
                "machine": machine,
                "schedule": args.schedule,
                "epochs": args.epochs,
                "threads": args.threads,
                "runs": runs,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
