"""Weight averaging: the running average's arithmetic, the swap in and out, and what a fit validates and keeps."""

from __future__ import annotations

import pytest
import torch

from sharedlatent.config import TrainConfig
from sharedlatent.errors import SharedLatentError
from sharedlatent.nn.model import SharedLatentModule
from sharedlatent.training import loop
from sharedlatent.training.averaging import WARMUP_STEPS, WeightAverage, averaging_decay
from sharedlatent.training.loop import TensorData, evaluate_loss, fit_module
from sharedlatent.training.schedules import build_schedule


def tiny_module() -> SharedLatentModule:
    torch.manual_seed(0)
    return SharedLatentModule({"a": 5, "b": 4}, {"a": [6], "b": [6]}, [4], 2, {})


def test_an_unset_decay_spans_two_epochs_of_steps_and_at_most_200_steps():
    assert averaging_decay(None, 1) == 0.5
    assert averaging_decay(None, 21) == pytest.approx(1 - 1 / 42)
    assert averaging_decay(None, 10_000) == 0.995
    assert averaging_decay(0.9, 10_000) == 0.9
    assert averaging_decay(0.0, 21) == 0.0


def test_the_average_follows_the_warmed_up_recursion():
    module = tiny_module()
    average = WeightAverage(module, decay=0.9)
    expected = [parameter.detach().clone() for parameter in module.parameters()]
    for step in range(30):
        with torch.no_grad():
            for parameter in module.parameters():
                parameter.add_(torch.randn_like(parameter))
        average.update()
        decay = min(0.9, (1 + step) / (WARMUP_STEPS + step))
        expected = [decay * e + (1 - decay) * p.detach() for e, p in zip(expected, module.parameters(), strict=True)]
    for kept, wanted in zip(average.averages, expected, strict=True):
        torch.testing.assert_close(kept, wanted)
    assert average.steps == 30


def test_applied_swaps_the_average_in_and_the_trained_weights_back():
    module = tiny_module()
    average = WeightAverage(module, decay=0.5)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(1.0)
    trained = {key: value.clone() for key, value in module.state_dict().items()}
    average.update()
    with average.applied():
        for parameter, kept in zip(module.parameters(), average.averages, strict=True):
            assert torch.equal(parameter, kept)
    for key, value in module.state_dict().items():
        assert torch.equal(value, trained[key]), key


@pytest.mark.parametrize(
    "saved",
    [
        {"steps": -1, "averages": []},
        {"steps": 3, "averages": [torch.zeros(1)]},
        "not a state",
    ],
)
def test_a_saved_average_that_does_not_fit_is_refused(saved):
    module = tiny_module()
    with pytest.raises(SharedLatentError, match="weight average"):
        WeightAverage(module, 0.9).load_state_dict(saved)
    state = WeightAverage(module, 0.9).state_dict()
    first = next(iter(state["averages"]))  # averages by parameter name
    state["averages"][first] = torch.full_like(state["averages"][first], float("nan"))
    with pytest.raises(SharedLatentError, match="not a finite"):
        WeightAverage(module, 0.9).load_state_dict(state)


def averaged_fit(monkeypatch, ema_decay: float, epochs: int = 6) -> tuple[SharedLatentModule, TensorData, list]:
    """A tiny joint fit; returns the module, its data and its history's records (validation on the training rows)."""
    module = tiny_module()
    generator = torch.Generator().manual_seed(1)
    data = TensorData({"a": torch.rand(40, 5, generator=generator), "b": torch.rand(40, 4, generator=generator)})
    config = TrainConfig(epochs=epochs, batch_size=8, progress=False, ema_decay=ema_decay, patience=100)
    history = fit_module(module, build_schedule("joint", ["a", "b"], config.epochs), data, data, config)
    return module, data, history.records


def test_a_fit_keeps_the_average_it_validated_best(monkeypatch):
    module, data, records = averaged_fit(monkeypatch, ema_decay=0.9)
    best = min(record.validation_loss for record in records)
    phase = build_schedule("joint", ["a", "b"], 1)[0].phases[0]
    config = TrainConfig(batch_size=8)
    assert evaluate_loss(module, data, phase, config) == pytest.approx(best, rel=1e-6)


def test_a_fit_without_averaging_steps_no_average(monkeypatch):
    made = []
    monkeypatch.setattr(loop, "WeightAverage", lambda *args: made.append(args))
    averaged_fit(monkeypatch, ema_decay=0.0, epochs=2)
    assert made == []


def test_without_a_validation_split_a_fit_ends_with_the_last_average(monkeypatch):
    """The monitored loss is then the raw weights' training loss, which cannot pick among averages."""
    made: list[WeightAverage] = []

    class Recorded(WeightAverage):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(loop, "WeightAverage", Recorded)
    # training losses scripted to be lowest in the second epoch: it must not pick the average kept
    script = iter([1.0, 0.5, 2.0, 3.0, 4.0])
    real_run_epoch = loop.run_epoch

    def scripted_run_epoch(*args, **kwargs):
        _, terms = real_run_epoch(*args, **kwargs)
        return next(script), terms

    monkeypatch.setattr(loop, "run_epoch", scripted_run_epoch)
    module = tiny_module()
    generator = torch.Generator().manual_seed(2)
    data = TensorData({"a": torch.rand(40, 5, generator=generator), "b": torch.rand(40, 4, generator=generator)})
    config = TrainConfig(epochs=5, batch_size=8, progress=False, ema_decay=0.9, patience=10)
    history = fit_module(module, build_schedule("joint", ["a", "b"], config.epochs), data, None, config)
    assert [record.train_loss for record in history.records] == [1.0, 0.5, 2.0, 3.0, 4.0]
    assert len(made) == 1 and made[0].steps == 25
    for parameter, kept in zip(module.parameters(), made[0].averages, strict=True):
        assert torch.equal(parameter, kept)


def test_a_module_without_parameters_averages_nothing():
    average = WeightAverage(torch.nn.Sequential(), 0.9)
    average.update()
    with average.applied():
        pass
    average.apply()
    assert average.steps == 1
