"""The CPU thread policy (one thread unless a batch through the widest layer is large enough to share) and the
subnormal-number mode training runs in."""

import numpy as np
import pytest
import torch

import sharedlatent.fitting
from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import RunConfig
from sharedlatent.nn.model import SharedLatentModule
from sharedlatent.training.runtime import denormals_flushed, flushed_denormals, thread_count


def test_small_steps_train_on_one_thread_and_large_ones_on_the_default():
    wide = SharedLatentModule({"rna": 2000, "protein": 30}, {"rna": [96], "protein": [96]}, [32], 16, {})
    narrow = SharedLatentModule({"left": 64, "right": 64}, {"left": [96], "right": [96]}, [32], 16, {})
    assert thread_count(wide, 0, batch_size=64) == 1  # 128k values per op: threads only add synchronisation
    assert thread_count(wide, 0, batch_size=1024) == torch.get_num_threads()
    assert thread_count(narrow, 0, batch_size=100_000) == 1
    assert thread_count(wide, 3, batch_size=64) == 3  # a configured count always wins


@pytest.mark.parametrize("before", [False, True])
def test_subnormals_are_flushed_inside_the_block_and_the_callers_mode_comes_back(before):
    torch.set_flush_denormal(before)
    try:
        assert denormals_flushed() is before
        with flushed_denormals():
            assert denormals_flushed()
            assert (torch.tensor([1e-37]) / 1000).item() == 0.0
        assert denormals_flushed() is before
        with pytest.raises(RuntimeError), flushed_denormals():
            raise RuntimeError("a failing fit")
        assert denormals_flushed() is before
    finally:
        torch.set_flush_denormal(False)


def test_a_fit_trains_with_subnormals_flushed_and_leaves_the_mode_as_it_found_it(monkeypatch):
    seen = []
    fit_module = sharedlatent.fitting.fit_module

    def recording(*args, **kwargs):
        seen.append(denormals_flushed())
        return fit_module(*args, **kwargs)

    monkeypatch.setattr(sharedlatent.fitting, "fit_module", recording)
    config = RunConfig()
    config.train.epochs, config.train.progress = 2, False
    data = {name: np.random.default_rng(0).random((40, 5), dtype=np.float32) for name in ("left", "right")}
    assert not denormals_flushed()
    SharedLatentVAE({"left": 5, "right": 5}, config).fit(data)
    assert seen and all(seen)  # the final fit and, on 40 rows, the epoch search's fold fits
    assert not denormals_flushed()
