"""Random draws per batch row that do not depend on how a global batch is split over processes.

Training passes a torch.Generator (one process) or a RowDraws (one rank of several) wherever noise is drawn. A
RowDraws draws the values of the whole global batch from a generator in the same state on every rank and keeps
this rank's rows, so every rank and a single process use the same noise for the same sample and leave their
generators in the same state."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class RowDraws:
    """This process's `rows` of a global batch of `total` rows, drawn from `generator`."""

    generator: torch.Generator
    rows: slice
    total: int

    def take(self, shape: tuple[int, ...], fill: str, like: torch.Tensor) -> torch.Tensor:
        """`shape` values whose rows stack blocks of this rank's rows (e.g. one block per route)."""
        local = self.rows.stop - self.rows.start
        blocks = shape[0] // local
        full = (torch.randn if fill == "normal" else torch.rand)(
            (blocks, self.total, *shape[1:]), generator=self.generator, device=like.device, dtype=like.dtype
        )
        return full[:, self.rows].reshape(shape)


Draws = torch.Generator | RowDraws | None


def normal(shape: tuple[int, ...], draws: Draws, like: torch.Tensor) -> torch.Tensor:
    """Standard normal values of `shape` (dtype and device of `like`), from `draws`."""
    if isinstance(draws, RowDraws):
        return draws.take(tuple(shape), "normal", like)
    return torch.randn(shape, generator=draws, device=like.device, dtype=like.dtype)


def uniform(shape: tuple[int, ...], draws: Draws, like: torch.Tensor) -> torch.Tensor:
    """Uniform [0, 1) values of `shape` (dtype and device of `like`), from `draws`."""
    if isinstance(draws, RowDraws):
        return draws.take(tuple(shape), "uniform", like)
    return torch.rand(shape, generator=draws, device=like.device, dtype=like.dtype)
