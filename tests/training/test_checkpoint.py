"""Checkpoints: a fit stopped after any epoch and resumed ends with the weights of an uninterrupted fit."""

from __future__ import annotations

import json

import pytest
import torch

from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import ModelConfig, RunConfig, TrainConfig
from sharedlatent.errors import SharedLatentError
from sharedlatent.training import loop
from sharedlatent.training.checkpoint import Checkpoint, as_checkpoint

# Scripted validation losses: improve, stall (the learning rate decays), stall again (early stopping fires).
LOSSES = [5.0, 4.0, 4.5, 4.4, 3.0, 3.5, 3.6, 3.7, 3.8, 3.9, 4.0, 4.1]


class SimulatedKillError(Exception):
    pass


class StopAfter(Checkpoint):
    """A checkpoint that interrupts the fit right after its `saves`-th save, like a kill between epochs."""

    def __init__(self, folder, saves: int, identity: dict) -> None:
        super().__init__(folder, identity=identity)
        self.left = saves

    def save(self, state: dict) -> None:
        super().save(state)
        self.left -= 1
        if self.left == 0:
            raise SimulatedKillError


def tiny_config(**train) -> RunConfig:
    settings = dict(epochs=len(LOSSES), batch_size=32, progress=False, patience=3, lr_decay_patience=1, seed=3)
    settings["validation_fraction"] = 0.25  # 30+ samples, so the hold-out (and the scripted loss) is used
    settings.update(train)
    model = ModelConfig(private_widths=[12], shared_widths=[8], latent_size=3)
    return RunConfig(model=model, train=TrainConfig(**settings))


@pytest.fixture
def scripted_validation(monkeypatch):
    """Validation losses from LOSSES in call order; returns a function that restarts the script."""
    calls = []

    def validation_loss(module, data, phase, config, setup=None):
        calls.append(1)
        return LOSSES[len(calls) - 1]

    monkeypatch.setattr(loop, "evaluate_loss", validation_loss)
    return calls.clear


@pytest.fixture(scope="module")
def pairs(digits):
    return {name: values[:200] for name, values in digits.train.domains.items()}


def fitted(config: RunConfig, pairs, **fit) -> SharedLatentVAE:
    model = SharedLatentVAE({name: v.shape[1] for name, v in pairs.items()}, config)
    model.fit(pairs, **fit)
    return model


def assert_same_weights(a: SharedLatentVAE, b: SharedLatentVAE) -> None:
    first, second = a.module.state_dict(), b.module.state_dict()
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key


def interrupted_then_resumed(config: RunConfig, pairs, folder, saves: int) -> SharedLatentVAE:
    identity = as_checkpoint(folder, config).identity
    with pytest.raises(SimulatedKillError):
        fitted(config, pairs, checkpoint=StopAfter(folder, saves, identity))
    return fitted(config, pairs, checkpoint=folder, resume=True)


@pytest.mark.parametrize("saves", [1, 2, 5, 6])
def test_joint_schedule_resumes_to_the_same_weights(tmp_path, pairs, scripted_validation, saves):
    config = tiny_config()
    reference = fitted(config, pairs)
    assert reference.history.stopped_early and len(reference.history.records) == 8
    scripted_validation()
    resumed = interrupted_then_resumed(config, pairs, tmp_path / "checkpoint", saves)
    assert_same_weights(reference, resumed)
    assert resumed.history.stopped_early == reference.history.stopped_early
    assert [r.train_loss for r in resumed.history.records] == [r.train_loss for r in reference.history.records]


@pytest.mark.parametrize(("saves", "moments_per_phase"), [(1, False), (3, True), (4, False), (6, True)])
def test_original_schedule_resumes_to_the_same_weights(tmp_path, pairs, saves, moments_per_phase):
    config = tiny_config(
        schedule="original",
        epochs=4,
        validation_fraction=0.0,
        noise_level=0.1,
        freeze_phases=True,
        moments_per_phase=moments_per_phase,
    )
    reference = fitted(config, pairs)
    assert reference.history.phases() == ["joint", "center", "left", "right"]
    resumed = interrupted_then_resumed(config, pairs, tmp_path / "checkpoint", saves)
    assert_same_weights(reference, resumed)
    assert len(resumed.history.records) == len(reference.history.records)


def test_resume_refuses_a_missing_checkpoint_or_a_different_config(tmp_path, pairs):
    config = tiny_config(epochs=2, validation_fraction=0.0)
    with pytest.raises(SharedLatentError, match="no checkpoint to resume from"):
        fitted(config, pairs, checkpoint=tmp_path / "none", resume=True)
    with pytest.raises(SimulatedKillError):
        fitted(config, pairs, checkpoint=StopAfter(tmp_path / "c", 1, as_checkpoint(tmp_path, config).identity))
    with pytest.raises(SharedLatentError, match=r"different run \(config.train.seed: 3 in the checkpoint, 4 now\)"):
        fitted(tiny_config(epochs=2, validation_fraction=0.0, seed=4), pairs, checkpoint=tmp_path / "c", resume=True)
    resumed = fitted(
        tiny_config(epochs=2, validation_fraction=0.0, checkpoint_every=5),
        pairs,
        checkpoint=tmp_path / "c",
        resume=True,
    )
    assert len(resumed.history.records) == 2


def test_a_checkpoint_from_before_the_weight_decay_rule_is_refused(tmp_path, pairs):
    """Its config leaves train.weight_decay unset as today's does, but it trained without decay: resuming it under
    the rule would not give the run it started."""
    config = tiny_config(epochs=2, validation_fraction=0.0)
    older = {key: value for key, value in as_checkpoint(tmp_path, config).identity.items() if key == "config"}
    with pytest.raises(SimulatedKillError):
        fitted(config, pairs, checkpoint=StopAfter(tmp_path / "c", 1, older))
    with pytest.raises(SharedLatentError, match=r"different run \(unset_weight_decay_rule: None in the checkpoint"):
        fitted(config, pairs, checkpoint=tmp_path / "c", resume=True)


def test_a_checkpoint_from_before_moments_per_phase_resumes_unless_they_are_asked_for(tmp_path, pairs):
    """Before version 0.8.1 a config had no train.moments_per_phase, and trained as false does."""
    config = tiny_config(epochs=2, validation_fraction=0.0)
    current = as_checkpoint(tmp_path, config).identity
    older = {**current, "config": {k: v for k, v in current["config"].items() if k != "train.moments_per_phase"}}
    assert older == current  # false, the default, is left out of the identity as the key's absence
    with pytest.raises(SimulatedKillError):
        fitted(config, pairs, checkpoint=StopAfter(tmp_path / "c", 1, older))
    per_phase = tiny_config(epochs=2, validation_fraction=0.0, moments_per_phase=True)
    with pytest.raises(SharedLatentError, match=r"config.train.moments_per_phase: None in the checkpoint, True now"):
        fitted(per_phase, pairs, checkpoint=tmp_path / "c", resume=True)
    assert len(fitted(config, pairs, checkpoint=tmp_path / "c", resume=True).history.records) == 2


def test_a_corrupt_checkpoint_is_refused_with_one_sentence(tmp_path, pairs):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "state.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(SharedLatentError, match="cannot be read"):
        fitted(tiny_config(epochs=2), pairs, checkpoint=tmp_path / "c", resume=True)


def _set(mapping: dict, key: str, value) -> None:
    mapping[key] = value


def _nan_loss(history: str) -> str:
    """A checkpoint's history (JSON text) with its first training loss NaN, as no crash writes it."""
    values = json.loads(history)
    values["records"][0]["train_loss"] = float("nan")
    return json.dumps(values)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda s: s.pop("optimizer"), "KeyError: 'optimizer'"),
        (lambda s: _set(s["optimizer"]["param_groups"][0], "lr", 1e30), "learning rate 1e\\+30 is above"),
        (lambda s: _set(s["optimizer"]["param_groups"][0], "lr", True), "learning rate True"),
        (
            lambda s: _set(s["optimizer"]["state"][0], "exp_avg_sq", -s["optimizer"]["state"][0]["exp_avg_sq"] - 1),
            "negative exp_avg_sq",
        ),
        (lambda s: _set(s["optimizer"]["state"][0], "step", torch.tensor(-1.0)), "negative step"),
        (lambda s: _set(s["stopper"], "best", float("nan")), "early-stopping state"),
        (lambda s: _set(s, "generator", torch.zeros(3, dtype=torch.uint8)), "random state .generator. does not fit"),
        (
            lambda s: _set(s["module"], "z_mean.bias", torch.zeros(99)),
            "weights' z_mean.bias is not a torch.float32 tensor of shape \\(3,\\)",
        ),
        (lambda s: _set(s["position"], "stage", 7), "not a place in this schedule of 1 stages"),
        (lambda s: _set(s, "history", '{"records": ['), "JSONDecodeError"),
        (lambda s: _set(s, "history", '{"records": [], "stopped_early": []}'), "not a sharedlatent training history"),
        (lambda s: _set(s, "history", _nan_loss(s["history"])), "not a sharedlatent training history"),
        (lambda s: _set(s["position"], "epoch", 1), "does not end where its position says"),
        (lambda s: _set(s["average"], "steps", -1), "weight average is not a step count"),
        (lambda s: s.pop("average"), "holds no weight average.*--overwrite"),
        (lambda s: _set(s["average"], "decay", 0.5), "weight average has decay 0.5, this fit's is 0.9.*--overwrite"),
    ],
)
def test_a_damaged_checkpoint_is_refused_in_one_line(tmp_path, pairs, damage, message):
    config = tiny_config(epochs=6, validation_fraction=0.25)
    with pytest.raises(SimulatedKillError):
        fitted(config, pairs, checkpoint=StopAfter(tmp_path / "c", 3, as_checkpoint(tmp_path, config).identity))
    file = tmp_path / "c" / "state.pt"
    state = torch.load(file, weights_only=True)
    damage(state)
    torch.save(state, file)
    with pytest.raises(SharedLatentError, match=f"the checkpoint cannot be resumed: .*{message}") as caught:
        fitted(config, pairs, checkpoint=tmp_path / "c", resume=True)
    assert "\n" not in str(caught.value)


def uninterrupted_and_edited_resume(tmp_path, pairs, edit) -> tuple[SharedLatentVAE, SharedLatentVAE]:
    """An uninterrupted fit, and one stopped after 3 saves whose saved state `edit` changes before it resumes."""
    config = tiny_config(epochs=6, validation_fraction=0.25)
    reference = fitted(config, pairs)
    with pytest.raises(SimulatedKillError):
        fitted(config, pairs, checkpoint=StopAfter(tmp_path / "c", 3, as_checkpoint(tmp_path, config).identity))
    file = tmp_path / "c" / "state.pt"
    state = torch.load(file, weights_only=True)
    edit(state)
    torch.save(state, file)
    return reference, fitted(config, pairs, checkpoint=tmp_path / "c", resume=True)


def test_moments_saved_in_another_memory_layout_resume_to_the_same_weights(tmp_path, pairs):
    def transpose_strides(state: dict) -> None:
        for moments in state["optimizer"]["state"].values():
            for key in ("exp_avg", "exp_avg_sq"):
                if moments[key].ndim == 2:  # same shape and values, transposed strides
                    moments[key] = moments[key].t().contiguous().t()

    assert_same_weights(*uninterrupted_and_edited_resume(tmp_path, pairs, transpose_strides))


def test_a_checkpoint_with_its_history_as_containers_still_resumes(tmp_path, pairs):
    """Checkpoints from before this change held the history as nested dicts and lists; now it is one JSON string."""

    def history_as_containers(state: dict) -> None:
        assert isinstance(state["history"], str)
        state["history"] = json.loads(state["history"])

    reference, resumed = uninterrupted_and_edited_resume(tmp_path, pairs, history_as_containers)
    assert_same_weights(reference, resumed)
    assert [r.train_loss for r in resumed.history.records] == [r.train_loss for r in reference.history.records]
