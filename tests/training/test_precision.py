"""bfloat16 autocast: runs on CPU (as on CUDA) and trains to about the float32 loss."""

import pytest
import torch

from conftest import small_config
from sharedlatent.api import SharedLatentVAE


def test_bf16_autocast_trains_close_to_float32(digits):
    losses = {}
    for precision in ("float32", "bf16"):
        model = SharedLatentVAE(digits.input_sizes, small_config(precision=precision, epochs=4))
        losses[precision] = model.fit(digits.train).records[-1].train_loss
    assert losses["bf16"] != losses["float32"]  # autocast really ran
    assert losses["bf16"] == pytest.approx(losses["float32"], rel=0.05)


def test_bf16_keeps_weights_in_float32(digits):
    model = SharedLatentVAE(digits.input_sizes, small_config(precision="bf16", epochs=1))
    model.fit(digits.train)
    assert {p.dtype for p in model.module.parameters()} == {torch.float32}
