"""Early stopping and learning-rate decay, driven by a scripted validation loss."""

import pytest
import torch

from sharedlatent.config import TrainConfig
from sharedlatent.nn.model import SharedLatentModule
from sharedlatent.training import loop
from sharedlatent.training.loop import TensorData, fit_module
from sharedlatent.training.schedules import build_schedule


def scripted_fit(monkeypatch, losses: list[float], **settings) -> tuple[SharedLatentModule, list[dict], list[float]]:
    """Fit a tiny joint model whose validation loss is `losses`, in order; returns the module, the weights
    at each validation and the learning rate each epoch trained with."""
    torch.manual_seed(0)
    module = SharedLatentModule({"a": 5, "b": 4}, {"a": [6], "b": [6]}, [4], 2, {})
    data = TensorData({"a": torch.rand(16, 5), "b": torch.rand(16, 4)})
    snapshots, rates, script = [], [], iter(losses)

    def validation_loss(module, data, phase, config, setup=None):
        snapshots.append({key: value.clone() for key, value in module.state_dict().items()})
        return next(script)

    real_run_epoch = loop.run_epoch

    def recording_run_epoch(module, optimizer, *args, **kwargs):
        rates.append(optimizer.lr)
        return real_run_epoch(module, optimizer, *args, **kwargs)

    monkeypatch.setattr(loop, "evaluate_loss", validation_loss)
    monkeypatch.setattr(loop, "run_epoch", recording_run_epoch)
    config = TrainConfig(epochs=len(losses), batch_size=8, progress=False, **settings)
    history = fit_module(module, build_schedule("joint", ["a", "b"], config.epochs), data, data, config)
    assert [r.validation_loss for r in history.records] == losses[: len(history.records)]
    return module, snapshots, rates


def test_early_stopping_restores_the_best_epochs_weights(monkeypatch):
    losses = [5.0, 3.0, 4.0, 4.5, 4.2, 9.0, 9.0]
    module, snapshots, _ = scripted_fit(monkeypatch, losses, patience=3, lr_decay=1.0)
    assert len(snapshots) == 5  # the best epoch (2nd) and three stalled ones after it
    for key, value in module.state_dict().items():
        assert torch.equal(value, snapshots[1][key]), key
    assert not torch.equal(module.state_dict()["z_mean.weight"], snapshots[-1]["z_mean.weight"])


def test_learning_rate_falls_after_patience_stalled_epochs(monkeypatch):
    losses = [5.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    _, _, rates = scripted_fit(monkeypatch, losses, patience=100, lr_decay=0.5, lr_decay_patience=2, learning_rate=0.01)
    # epochs 3 and 4 stall within patience; after the third stalled epoch (the 5th) the rate halves, and again 3 later
    assert rates == pytest.approx([0.01] * 5 + [0.005] * 3 + [0.0025])
