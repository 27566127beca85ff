"""Where and how training runs: the torch device for a config value, the CPU thread policy and the CPU's
subnormal-number mode."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext

import numpy as np
import torch

from sharedlatent.errors import SharedLatentError
from sharedlatent.training.distributed import local_device

INFERENCE_CHUNK = 8192  # rows per forward pass at inference: bounded memory, few kernel launches
# Layouts narrower than this train on one thread. On 2 quiet cores, 2 threads were 1.1-1.4x faster for the digits
# layout at batch 256 (benchmarks/train_throughput.py) and about even at batch 64 (`sharedlatent train digits --set
# train.threads=1|2`); on shared cores they were far slower (benchmarks/README.md).
NARROW_LAYOUT_WIDTH = 256
# Below this many values per batch in the widest layer, each op is too small for a second thread to pay for its
# synchronisation: 2,000 genes at batch 64 trained 3-7x slower on 2 threads than on 1 on a shared 2-core machine.
SMALL_STEP_VALUES = 1 << 20


def resolve_device(name: str) -> torch.device:
    """The torch device for a config value; "auto" prefers CUDA, then Apple MPS, then CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return local_device(torch.device("cuda"))
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SharedLatentError("train.device is 'cuda' but no CUDA GPU is available")
    return local_device(torch.device(name))  # under torchrun, each rank on a node takes its own GPU


def thread_count(module: torch.nn.Module, configured: int, batch_size: int = 1) -> int:
    """`configured` CPU threads, or (0) 1 when every layer is narrower than NARROW_LAYOUT_WIDTH or a batch through the
    widest layer holds under SMALL_STEP_VALUES values, else torch's default."""
    if configured:
        return configured
    widest = max(p.shape[0] for p in module.parameters() if p.ndim == 2)
    small = widest < NARROW_LAYOUT_WIDTH or widest * batch_size < SMALL_STEP_VALUES
    return 1 if small else torch.get_num_threads()


def autocast(device: torch.device, precision: str) -> AbstractContextManager:
    """bfloat16 autocast on `device` for "bf16", else nothing (float32 runs exactly as without autocast)."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return nullcontext()


@contextmanager
def cpu_threads(count: int) -> Iterator[None]:
    """Run a block with `count` torch CPU threads, restoring the previous setting after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def subnormals_flushed() -> bool:
    """Whether float32 arithmetic on this thread flushes subnormal results to zero now (torch has no getter): a CPU
    division whose exact result is subnormal tells."""
    return bool((torch.tensor([1e-37], dtype=torch.float32, device="cpu") / 1000).item() == 0.0)


@contextmanager
def flushing_subnormals() -> Iterator[None]:
    """Run a block with subnormal floats (below about 1.2e-38 in float32) flushed to zero on this thread, as
    TensorFlow's kernels run, and restore the mode it found after.

    Training meets them where a moment decays towards zero (Adam's first moment of a weight whose gradient stays 0
    reaches them after about 800 steps), and x86 CPUs take a slow path for each: flushing made digits' `original`
    schedule 1.12x faster (benchmarks/README.md, "Speed: subnormal numbers"); values that small are zero for a
    float32 fit. Only for one training thread: a worker thread started inside the block would copy the mode and
    keep it after. A CPU without the mode is left as it is."""
    changed = not subnormals_flushed() and torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if changed:
            torch.set_flush_denormal(False)


@torch.no_grad()
def map_chunks(
    module: torch.nn.Module,
    arrays: Mapping[str, np.ndarray],
    function: Callable[[dict[str, torch.Tensor]], torch.Tensor],
    device: torch.device,
) -> np.ndarray:
    """`function` of INFERENCE_CHUNK rows of `arrays` at a time, as tensors on `device`, in eval mode; numpy out."""
    module.eval()
    n = next(iter(arrays.values())).shape[0]
    pieces = []
    for start in range(0, max(n, 1), INFERENCE_CHUNK):  # 0 rows still run once, for the output's width
        batch = {k: torch.from_numpy(v[start : start + INFERENCE_CHUNK]).to(device) for k, v in arrays.items()}
        pieces.append(function(batch).cpu().numpy())
    return np.concatenate(pieces)
