"""Training on sparse RNA + protein .h5ad pairs too big to hold dense: peak memory, seconds per epoch, samples/s.

For each size it writes (once, in chunks, so generation stays in bounded memory) an RNA file of `--genes` genes at
about 90% zeros (CSR) and a protein file of 30 dense columns, then runs `sharedlatent train h5ad ... backed=true
--epochs 1 --no-evaluate` in a child process and reads that process's peak RSS from os.wait4. On the first size it
also runs 2 processes under torchrun (gloo) against 1. Prints a table and writes JSON.

    .venv/bin/python benchmarks/scale.py [--cells 10000 100000 1000000] [--data /tmp/scale] [--out benchmarks/results/scale.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

GENES, PROTEINS, DENSITY, CHUNK = 2000, 30, 0.1, 5000


def write_h5ad(path: Path, n: int, features: int, sparse: bool, seed: int) -> None:
    """An .h5ad written chunk by chunk: anndata writes obs and var, h5py appends X (CSR or dense)."""
    import anndata
    import h5py
    import pandas as pd

    obs = pd.DataFrame(index=pd.Index([f"cell{i}" for i in range(n)]))
    var = pd.DataFrame(index=pd.Index([f"{'gene' if sparse else 'protein'}{j}" for j in range(features)]))
    anndata.AnnData(obs=obs, var=var).write_h5ad(path)
    rng = np.random.default_rng(seed)
    with h5py.File(path, "a") as file:
        if sparse:
            group = file.create_group("X")
            group.attrs.update({"encoding-type": "csr_matrix", "encoding-version": "0.1.0", "shape": (n, features)})
            data = group.create_dataset("data", (0,), np.float32, maxshape=(None,), chunks=(1 << 16,))
            indices = group.create_dataset("indices", (0,), np.int32, maxshape=(None,), chunks=(1 << 16,))
            indptr = [np.zeros(1, dtype=np.int64)]
        else:
            dense = file.create_dataset("X", (n, features), np.float32, chunks=(min(n, 4096), features))
            dense.attrs.update({"encoding-type": "array", "encoding-version": "0.2.0"})
        for start in range(0, n, CHUNK):
            rows = min(CHUNK, n - start)
            if not sparse:
                dense[start : start + rows] = rng.poisson(20.0, (rows, features)).astype(np.float32)
                continue
            row_index, columns = np.nonzero(rng.random((rows, features), dtype=np.float32) < DENSITY)
            values = (rng.poisson(2.0, columns.size) + 1).astype(np.float32)
            end = data.shape[0] + columns.size
            data.resize((end,)), indices.resize((end,))
            data[end - columns.size :], indices[end - columns.size :] = values, columns.astype(np.int32)
            counts = np.bincount(row_index, minlength=rows)
            indptr.append(indptr[-1][-1] + np.cumsum(counts))
        if sparse:
            group.create_dataset("indptr", data=np.concatenate(indptr))


def dataset(folder: Path, n: int) -> tuple[Path, Path]:
    rna, protein = folder / f"rna_{n}.h5ad", folder / f"protein_{n}.h5ad"
    if not (rna.exists() and protein.exists()):
        folder.mkdir(parents=True, exist_ok=True)
        write_h5ad(rna, n, GENES, True, seed=n)
        write_h5ad(protein, n, PROTEINS, False, seed=n + 1)
    return rna, protein


def train(rna: Path, protein: Path, out: Path, processes: int) -> dict:
    """One epoch in a child process: its peak RSS (the largest of its processes), wall and training seconds."""
    args = ["train", "h5ad", "--data-option", f"left_path={rna}", "--data-option", f"right_path={protein}"]
    args += ["--data-option", "backed=true", "--epochs", "1", "--no-evaluate", "--overwrite", "--out", str(out)]
    launcher = [sys.executable, "-m", "sharedlatent"]
    if processes > 1:
        launcher = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc-per-node",
            str(processes),
            "-m",
            "sharedlatent",
        ]
    tick = time.perf_counter()
    child = subprocess.Popen(launcher + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - tick
    if status != 0:
        raise SystemExit(f"training failed: {child.stderr.read().decode()[-2000:]}")
    records = json.loads((out / "history.json").read_text())["records"]
    seconds = sum(record["seconds"] for record in records)
    rows = json.loads((out / "run.json").read_text()).get("input_sizes")
    return {
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "wall_seconds": wall,
        "epoch_seconds": seconds,
        "phase_epochs": len(records),
        "input_sizes": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--data", type=Path, default=Path("/tmp/sharedlatent_scale"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "scale.json")
    parser.add_argument("--no-ddp", action="store_true")
    args = parser.parse_args()
    results = []
    for n in args.cells:
        tick = time.perf_counter()
        rna, protein = dataset(args.data, n)
        made = time.perf_counter() - tick
        runs = [1] if args.no_ddp or n != args.cells[0] else [1, 2]
        for processes in runs:
            run = train(rna, protein, args.data / f"run_{n}_{processes}", processes)
            trained = int(n * 0.8 * 0.9)  # test_fraction 0.2, then the validation hold-out of 0.1
            run.update(
                cells=n,
                processes=processes,
                generate_seconds=made,
                train_rows=trained,
                samples_per_second=trained * run["phase_epochs"] / run["epoch_seconds"],
            )
            results.append(run)
            print(
                f"{n:>9} cells  {processes} proc  peak RSS {run['peak_rss_mib']:7.0f} MiB  "
                f"epoch {run['epoch_seconds']:7.1f} s  {run['samples_per_second']:8.0f} samples/s  "
                f"wall {run['wall_seconds']:6.1f} s",
                flush=True,
            )
            shutil.rmtree(args.data / f"run_{n}_{processes}", ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "genes": GENES,
        "proteins": PROTEINS,
        "density": DENSITY,
    }
    args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
