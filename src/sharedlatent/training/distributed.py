"""Data-parallel training over processes with torch.distributed, as `torchrun` launches it.

Every rank draws the same epoch order from the shared generator and trains on its contiguous share of each global
batch (train.batch_size rows, split as evenly as possible: ranks differ by at most one row); DDP averages the
gradients. Noise (latent samples, input noise) is drawn for the whole global batch on every rank and sliced
(nn/draws.py), so each sample gets the noise a single process would give it. The objective sums errors over samples but averages the KL over the batch, so each rank's KL weight is
scaled by its share of the global batch and its loss by the world size: the averaged gradient is then the gradient
of one process's loss on the whole global batch. Everything here is a no-op when WORLD_SIZE is unset or 1."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import torch

from sharedlatent.errors import SharedLatentError, first_line
from sharedlatent.nn.draws import Draws, RowDraws
from sharedlatent.nn.objective import LossTerms, LossWeights

TIMEOUT_SECONDS = 60  # a rank that waits this long on the others stops with an error instead of hanging

__all__ = [
    "TIMEOUT_SECONDS",
    "Shard",
    "backend_for",
    "description",
    "draws",
    "is_main",
    "objective",
    "process_group",
    "rank",
    "shard",
    "sum_floats",
]


def _initialized() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def world_size() -> int:
    """Processes training together: the process group's size, else torchrun's WORLD_SIZE, else 1."""
    return torch.distributed.get_world_size() if _initialized() else int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's rank: 0 alone, and the one that writes the run folder."""
    return torch.distributed.get_rank() if _initialized() else int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    return rank() == 0


def local_device(device: torch.device) -> torch.device:
    """The CUDA device of this rank on its node (LOCAL_RANK) when several ranks share CUDA; else `device`."""
    if device.type == "cuda" and device.index is None and world_size() > 1:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


@contextmanager
def process_group(device: torch.device) -> Iterator[None]:
    """Join the process group torchrun describes for the length of a fit: gloo on CPU, nccl on CUDA.

    A rank that cannot reach the others, or loses one of them, raises a one-line SharedLatentError."""
    if world_size() <= 1 or _initialized():
        yield
        return
    backend = backend_for(device)
    address = f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
    try:
        torch.distributed.init_process_group(backend, timeout=timedelta(seconds=TIMEOUT_SECONDS))
    except (RuntimeError, ValueError) as error:
        raise SharedLatentError(
            f"rank {rank()} could not join the {backend} process group at {address}: {first_line(error)}"
        ) from None
    try:
        yield
    except RuntimeError as error:  # DistError is one; gloo reports a dead peer as a plain RuntimeError
        if not _lost_peer(error):
            raise
        raise SharedLatentError(
            f"rank {rank()} lost the other training processes ({first_line(error)}); no run folder was written"
        ) from None
    finally:
        torch.distributed.destroy_process_group()


def backend_for(device: torch.device) -> str:
    """The torch.distributed backend for training on `device`: nccl for CUDA, gloo otherwise."""
    return "nccl" if device.type == "cuda" else "gloo"


def description(device: torch.device) -> dict[str, Any]:
    """The processes that train together, as run.json records them: world size and backend (None alone)."""
    size = world_size()
    return {"world_size": size, "backend": backend_for(device) if size > 1 else None}


def _lost_peer(error: RuntimeError) -> bool:
    """Whether `error` says another rank stopped answering (crashed, killed, timed out), not a bug of this one."""
    words = ("Connection closed by peer", "Connection reset by peer", "gloo/transport", "Timed out", "NCCL")
    return isinstance(error, torch.distributed.DistError) or any(word in str(error) for word in words)


@dataclasses.dataclass
class Shard:
    """This rank's rows of one global batch and the factors that make its gradient share exact."""

    rows: slice
    kl_share: float  # this rank's rows / the global batch's rows: scales the batch-mean KL
    loss_scale: float  # multiplies the loss before backward: the world size (DDP averages), 0 for a stand-in row


def shard(start: int, stop: int) -> Shard:
    """This rank's contiguous part of global batch rows [start, stop); a rank left without rows trains a stand-in
    row with weight 0 (DDP needs every rank in every step)."""
    size = world_size()
    if size == 1:
        return Shard(slice(start, stop), 1.0, 1.0)
    base, extra = divmod(stop - start, size)
    first = start + rank() * base + min(rank(), extra)
    count = base + (rank() < extra)
    if count == 0:
        return Shard(slice(start, start + 1), 0.0, 0.0)
    return Shard(slice(first, first + count), count / (stop - start), float(size))


def draws(generator: torch.Generator, part: Shard, start: int, stop: int) -> Draws:
    """The noise source for this rank's rows `part` of global batch rows [start, stop): `generator` in one process."""
    if world_size() == 1:
        return generator
    return RowDraws(generator, slice(part.rows.start - start, part.rows.stop - start), stop - start)


class _Objective(torch.nn.Module):
    """The module's loss as a forward pass, which is what DDP hooks into."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, *args: Any, **kwargs: Any) -> LossTerms:
        return self.module.loss(*args, **kwargs)


def objective(module: torch.nn.Module) -> Any:
    """`module.loss`, behind DistributedDataParallel in a process group.

    Built once per phase epoch, after the phase's freezing, because DDP fixes which parameters it reduces when it
    is built; unused parameters (routes that skip a branch) are allowed."""
    if world_size() <= 1:
        return module.loss
    return torch.nn.parallel.DistributedDataParallel(_Objective(module), find_unused_parameters=True)


def shard_weights(weights: LossWeights, part: Shard) -> LossWeights:
    """`weights` with the batch-mean KL's weight scaled by this rank's share of the global batch (unchanged in one
    process, and for a summed KL, which adds up over the ranks like the errors)."""
    if world_size() == 1 or weights.kl_summed:
        return weights
    return dataclasses.replace(weights, beta=weights.beta * part.kl_share)


def sum_floats(values: list[float], device: torch.device) -> list[float]:
    """`values` summed over the ranks (the same list on every rank); unchanged in one process."""
    if world_size() <= 1:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    torch.distributed.all_reduce(tensor)
    return tensor.tolist()
