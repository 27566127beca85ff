"""The CPU thread policy (one thread unless a batch through the widest layer is large enough to share) and the
subnormal-number mode training runs in."""

import numpy as np
import pytest
import torch

import sharedlatent.fitting
from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import RunConfig
from sharedlatent.nn.model import SharedLatentModule
from sharedlatent.training.runtime import flushing_subnormals, subnormals_flushed, thread_count


def test_small_steps_train_on_one_thread_and_large_ones_on_the_default():
    wide = SharedLatentModule({"rna": 2000, "protein": 30}, {"rna": [96], "protein": [96]}, [32], 16, {})
    narrow = SharedLatentModule({"left": 64, "right": 64}, {"left": [96], "right": [96]}, [32], 16, {})
    assert thread_count(wide, 0, batch_size=64) == 1  # 128k values per op: threads only add synchronisation
    assert thread_count(wide, 0, batch_size=1024) == torch.get_num_threads()
    assert thread_count(narrow, 0, batch_size=100_000) == 1
    assert thread_count(wide, 3, batch_size=64) == 3  # a configured count always wins


FLUSH_MODE = torch.set_flush_denormal(False)  # whether this CPU has the mode (False is also torch's default)
needs_flush_mode = pytest.mark.skipif(not FLUSH_MODE, reason="this CPU cannot flush subnormal floats")


@needs_flush_mode
@pytest.mark.parametrize("before", [False, True])
def test_subnormals_are_flushed_inside_the_block_and_the_callers_mode_comes_back(before):
    torch.set_flush_denormal(before)
    try:
        assert subnormals_flushed() is before
        with flushing_subnormals():
            assert subnormals_flushed()
            assert (torch.tensor([1e-37]) / 1000).item() == 0.0
        assert subnormals_flushed() is before
        with pytest.raises(RuntimeError), flushing_subnormals():
            raise RuntimeError("a failing fit")
        assert subnormals_flushed() is before
    finally:
        torch.set_flush_denormal(False)


@needs_flush_mode
def test_the_mode_is_read_in_float32_on_the_cpu_whatever_torchs_defaults():
    torch.set_flush_denormal(True)
    try:
        with torch.device("meta"):
            assert subnormals_flushed()
        torch.set_default_dtype(torch.float64)  # 1e-40 is a normal float64: a test in the default dtype says "off"
        assert subnormals_flushed()
        with flushing_subnormals():
            pass
        assert subnormals_flushed()
    finally:
        torch.set_default_dtype(torch.float32)
        torch.set_flush_denormal(False)


def fit_recording_the_mode(monkeypatch, threads: int) -> list[bool]:
    """Fit a small table with `threads` training threads; the mode seen by each training loop it runs."""
    seen = []
    fit_module = sharedlatent.fitting.fit_module

    def recording(*args, **kwargs):
        seen.append(subnormals_flushed())
        return fit_module(*args, **kwargs)

    monkeypatch.setattr(sharedlatent.fitting, "fit_module", recording)
    config = RunConfig()
    config.train.epochs, config.train.progress, config.train.threads = 2, False, threads
    data = {name: np.random.default_rng(0).random((40, 5), dtype=np.float32) for name in ("left", "right")}
    SharedLatentVAE({"left": 5, "right": 5}, config).fit(data)
    return seen


@needs_flush_mode
def test_a_fit_on_one_thread_flushes_subnormals_and_leaves_the_mode_as_it_found_it(monkeypatch):
    assert not subnormals_flushed()
    seen = fit_recording_the_mode(monkeypatch, threads=1)
    assert seen and all(seen)  # the final fit and, on 40 rows, the epoch search's fold fits
    assert not subnormals_flushed()


def test_a_fit_on_several_threads_leaves_the_mode_alone(monkeypatch):
    # Its worker threads would copy a flushing mode and keep it after the fit
    seen = fit_recording_the_mode(monkeypatch, threads=2)
    assert seen and not any(seen)
