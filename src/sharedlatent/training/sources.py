"""Training data the loop reads batch by batch from disk (a StreamedSplit), preprocessed per batch.

It offers what the loop asks of in-memory TensorData (n_samples, device, shuffled, rows), so the loop has one code
path; in-memory arrays stay TensorData and keep their one-gather-per-epoch fast path."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from sharedlatent.datasets.streaming import StreamedSplit
from sharedlatent.preprocessing import Preprocessor, transform_all
from sharedlatent.training.loop import TensorData


class StreamedData:
    """Samples of a StreamedSplit in a given order; `rows` reads, preprocesses and moves one batch."""

    def __init__(
        self,
        split: StreamedSplit,
        preprocessors: Mapping[str, Preprocessor],
        device: torch.device,
        order: np.ndarray | None = None,
    ) -> None:
        self.split, self.preprocessors, self.device = split, preprocessors, device
        self.order = np.arange(split.n_samples) if order is None else order

    @property
    def n_samples(self) -> int:
        return len(self.order)

    def shuffled(self, order: torch.Tensor) -> StreamedData:
        """The same samples in `order` (kept local to a few row groups for Parquet readers); checks first that no
        file changed since training started."""
        self.split.check_unchanged()
        local = self.split.subset(self.order).local_order(order.cpu().numpy())
        return StreamedData(self.split, self.preprocessors, self.device, self.order[local])

    def rows(self, index: slice | torch.Tensor) -> TensorData:
        samples = self.order[index if isinstance(index, slice) else index.cpu().numpy()]
        arrays = transform_all(self.preprocessors, self.split.read(samples))
        return TensorData({name: self._to_device(values) for name, values in arrays.items()})

    def _to_device(self, values: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(values)
        if self.device.type == "cuda":  # pinned host memory lets the copy overlap the previous batch's compute
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor.to(self.device)
