"""Side by side with the original Keras prototype on the digits split: the training seconds and sample-passes per
second of its schedule there and of the `original` schedule here (original_config(), batch 256, its early-stopped
joint stage), alternating fresh processes on the same machine, with the test translation MSE of each run.

The prototype is public but not shipped: give a checkout of greenelab/shared-latent-space and a Python that has
TensorFlow 2 with Keras 2 (prototype_runner.py says how its class is run there). Training seconds exclude process
start and imports on both sides. Sample-passes per second are given over the whole training and without each model's
(or phase's) first epoch, in which Keras builds its training functions. Prints a table and the ratios of medians;
writes JSON.

    python -m venv /tmp/tf && /tmp/tf/bin/pip install tensorflow-cpu==2.15.1
    git clone https://github.com/greenelab/shared-latent-space /tmp/prototype
    .venv/bin/python benchmarks/prototype_speed.py --prototype /tmp/prototype --tf-python /tmp/tf/bin/python
        [--epochs 200] [--seeds 0,1,2] [--out benchmarks/results/prototype_speed.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from machine import cpu_model  # the benchmarks' own helper, beside this script

HERE = Path(__file__).resolve().parent
PROGRAMS = ("prototype (Keras)", "sharedlatent original_config()")

# Runs in a fresh process with this checkout's package; prints one JSON line.
OURS = """
import dataclasses, json, sys
import numpy as np
from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import original_config
from sharedlatent.datasets import load_dataset
data = load_dataset("digits")
config = original_config(epochs=int(sys.argv[1]), seed=int(sys.argv[2]), progress=False)
model = SharedLatentVAE(data.input_sizes, config)
history = model.fit(data.train.domains)
test = data.test.domains
firsts = {}
for record in history.records:
    firsts.setdefault(record.phase, record.seconds)
first_epochs = sum(firsts.values())
print(json.dumps({
    "seconds": history.seconds,
    "joint_epochs": sum(record.stage == 0 for record in history.records),
    "phase_epochs": len(history.records),
    "passes_per_second": data.train.n_samples * len(history.records) / history.seconds,
    "first_epochs_seconds": first_epochs,
    "later_passes_per_second": data.train.n_samples * (len(history.records) - len(firsts)) / (history.seconds - first_epochs),
    "left->right": float(np.mean((model.translate(test["left"], "left", "right") - test["right"]) ** 2)),
    "right->left": float(np.mean((model.translate(test["right"], "right", "left") - test["left"]) ** 2)),
}))
"""


def run(command: list[str], what: str) -> dict:
    """One training run in a fresh process; its last stdout line is its JSON result."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"error: the {what} run failed:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def export_digits(path: Path) -> None:
    """The digits train/test split both programs train and test on, as an .npz the TensorFlow side reads."""
    from sharedlatent.datasets import load_dataset

    data = load_dataset("digits")
    train, test = data.train.domains, data.test.domains
    np.savez(
        path, left_train=train["left"], right_train=train["right"], left_test=test["left"], right_test=test["right"]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prototype", type=Path, required=True, help="a checkout of greenelab/shared-latent-space")
    parser.add_argument("--tf-python", type=Path, required=True, help="a Python with TensorFlow 2 and Keras 2")
    parser.add_argument("--epochs", type=int, default=200, help="the prototype's numEpochs (both stages)")
    parser.add_argument("--seeds", default="0,1,2", help="one run of each program per seed, alternating")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "prototype_speed.json")
    args = parser.parse_args()
    if not (args.prototype / "shared_vae_class.py").is_file():
        raise SystemExit(f"error: {args.prototype} holds no shared_vae_class.py (a prototype checkout)")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        data_file = Path(scratch) / "digits.npz"
        export_digits(data_file)
        for seed in (int(s) for s in args.seeds.split(",")):
            runner = [str(args.tf_python), str(HERE / "prototype_runner.py"), str(args.prototype), str(data_file)]
            prototype = run([*runner, str(args.epochs), str(seed)], "prototype")
            rows.append({"program": PROGRAMS[0], "seed": seed, **prototype})
            ours = run([sys.executable, "-c", OURS, str(args.epochs), str(seed)], "sharedlatent")
            rows.append({"program": PROGRAMS[1], "seed": seed, **ours})
    print(
        f"{'program':<32} {'seed':>4} {'phase ep.':>9} {'seconds':>8} {'passes/s':>9} {'1st ep. s':>9} "
        f"{'later/s':>9} {'L->R':>7} {'R->L':>7}"
    )
    for row in rows:
        print(
            f"{row['program']:<32} {row['seed']:>4} {row['phase_epochs']:>9} {row['seconds']:>8.2f} "
            f"{row['passes_per_second']:>9.0f} {row['first_epochs_seconds']:>9.2f} {row['later_passes_per_second']:>9.0f} "
            f"{row['left->right']:>7.4f} {row['right->left']:>7.4f}"
        )
    ratios = {}
    for key in ("passes_per_second", "later_passes_per_second"):
        medians = [statistics.median(r[key] for r in rows if r["program"] == program) for program in PROGRAMS]
        ratios[key] = medians[1] / medians[0]
        print(f"median {key}: prototype {medians[0]:.0f}, sharedlatent {medians[1]:.0f}: {ratios[key]:.2f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"python": platform.python_version(), "processor": cpu_model(), "machine": platform.machine()}
    args.out.write_text(
        json.dumps({"machine": machine, "epochs": args.epochs, "rows": rows, "ratios": ratios}, indent=2)
    )


if __name__ == "__main__":
    main()
