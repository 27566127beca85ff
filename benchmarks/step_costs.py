"""Where a small training step's time goes, and what subnormal floats cost, on digits' `original` schedule.

Two tables, then JSON:
- microseconds per step of each phase (`run_epoch` timed over 20 epochs, the best of `--repeats`) at batch 256 and
  at batch 4: at batch 4 the arithmetic is nearly gone, so its time is the fixed cost of a step (Python, op
  dispatch, the optimiser's update);
- `original_config(epochs=200)` fitted with subnormal floats flushed to zero (as `fit` trains) and without, with
  the fit's seconds, sample-passes per second and how many of Adam's first-moment values end subnormal.

    .venv/bin/python benchmarks/step_costs.py [--repeats 5] [--out benchmarks/results/step_costs.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from contextlib import nullcontext
from pathlib import Path

import torch

from machine import cpu_model  # the benchmarks' own helper, beside this script
from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import original_config
from sharedlatent.datasets import load_dataset
from sharedlatent.training import loop
from sharedlatent.training.adam import PhaseOptimizers
from sharedlatent.training.runtime import cpu_threads, flushing_subnormals
from sharedlatent.training.schedules import build_schedule

HERE = Path(__file__).resolve().parent
EPOCHS_TIMED = 20


def step_microseconds(dataset, batch_size: int, repeats: int) -> dict[str, float]:
    """The best time per step of each phase over `repeats` runs of EPOCHS_TIMED epochs, on one thread, flushed."""
    config = original_config(batch_size=batch_size)
    module = SharedLatentVAE(dataset.input_sizes, config).module
    data = loop.TensorData.from_numpy(dataset.train.domains, None, torch.device("cpu"))
    stages = build_schedule("original", list(dataset.input_sizes), 1, freeze_phases=False)
    phases = [stages[0].phases[0], *stages[1].phases]
    optimizer, setup = loop.make_optimizer(module, config.train.learning_rate), loop.EpochSetup(module)
    generator = torch.Generator().manual_seed(0)
    steps = -(-data.n_samples // batch_size) * EPOCHS_TIMED
    best: dict[str, float] = {}
    with cpu_threads(1), flushing_subnormals():
        for _ in range(repeats):
            for phase in phases:
                start = time.perf_counter()
                for _ in range(EPOCHS_TIMED):
                    loop.run_epoch(module, optimizer, data, phase, config.train, generator, setup=setup)
                micro = (time.perf_counter() - start) / steps * 1e6
                best[phase.name] = min(best.get(phase.name, micro), micro)
    return best


class RecordedOptimizers(PhaseOptimizers):
    """PhaseOptimizers that remember the instances fit makes, so their moments can be read after the fit."""

    made: list[PhaseOptimizers] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        RecordedOptimizers.made.append(self)


def subnormal_fit(dataset, flush: bool) -> dict:
    """original_config(epochs=200) fitted with or without the flush (the fit's own flush replaced by `flush`)."""
    import sharedlatent.fitting

    fitting_flush = sharedlatent.fitting.flushing_subnormals
    sharedlatent.fitting.flushing_subnormals = flushing_subnormals if flush else nullcontext
    loop.PhaseOptimizers, RecordedOptimizers.made = RecordedOptimizers, []
    try:
        config = original_config(epochs=200)
        config.train = dataclasses.replace(config.train, progress=False)
        model = SharedLatentVAE(dataset.input_sizes, config)
        history = model.fit(dataset.train.domains)
    finally:
        sharedlatent.fitting.flushing_subnormals, loop.PhaseOptimizers = fitting_flush, PhaseOptimizers
    (optimizers,) = RecordedOptimizers.made
    adams = [optimizers.single] if optimizers.single is not None else list(optimizers.by_phase.values())
    moments = torch.cat([state["exp_avg"].flatten() for adam in adams for state in adam.state.values()])
    tiny = torch.finfo(torch.float32).tiny
    return {
        "flushed": flush,
        "seconds": history.seconds,
        "passes_per_second": dataset.train.n_samples * len(history.records) / history.seconds,
        "first_moments": moments.numel(),
        "subnormal": int(((moments != 0) & (moments.abs() < tiny)).sum()),
        "zero": int((moments == 0).sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "step_costs.json")
    args = parser.parse_args()
    dataset = load_dataset("digits")
    steps = {batch: step_microseconds(dataset, batch, args.repeats) for batch in (256, 4)}
    print(f"{'phase':<8} {'us/step, batch 256':>19} {'us/step, batch 4':>17}")
    for phase in steps[256]:
        print(f"{phase:<8} {steps[256][phase]:>19.0f} {steps[4][phase]:>17.0f}")
    fits = [subnormal_fit(dataset, flush) for flush in (True, False)]
    print(f"\n{'original_config(epochs=200)':<28} {'seconds':>8} {'passes/s':>9} {'subnormal 1st moments':>22}")
    for fit in fits:
        label = "subnormals flushed" if fit["flushed"] else "not flushed"
        print(
            f"{label:<28} {fit['seconds']:>8.2f} {fit['passes_per_second']:>9.0f} "
            f"{fit['subnormal']:>10} of {fit['first_moments']} (0: {fit['zero']})"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"torch": torch.__version__, "python": platform.python_version(), "cpu": cpu_model()}
    args.out.write_text(json.dumps({"machine": machine, "steps": steps, "fits": fits}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
