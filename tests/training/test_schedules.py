import numpy as np
import pytest
import torch

from sharedlatent.config import TrainConfig
from sharedlatent.names import SHARED_GROUP
from sharedlatent.nn.model import SharedLatentModule
from sharedlatent.training.loop import EpochSetup, TensorData, make_optimizer, run_epoch
from sharedlatent.training.schedules import build_schedule, set_trainable


def make_module():
    torch.manual_seed(0)
    return SharedLatentModule({"left": 16, "right": 16}, {"left": [12, 8], "right": [12, 8]}, [6], 3, {})


def make_data(n=96):
    generator = torch.Generator().manual_seed(1)
    left = torch.rand(n, 16, generator=generator)
    return {"left": left, "right": 1 - left}


def snapshot(module):
    return {group: [p.detach().clone() for p in params] for group, params in module.parameter_groups().items()}


@pytest.mark.parametrize("phase_index, trained", [(0, {SHARED_GROUP}), (1, {"left"}), (2, {"right"})])
def test_frozen_parameters_are_bit_identical_after_a_phase(phase_index, trained):
    module = make_module()
    stages = build_schedule("original", ["left", "right"], epochs=1)
    phase = stages[1].phases[phase_index]
    optimizer = make_optimizer(module, 1e-2)  # the optimiser training really uses (fused Adam where available)
    # A joint epoch first, so the optimiser holds momentum for every parameter, as in the real schedule.
    run_epoch(
        module,
        optimizer,
        TensorData(make_data()),
        stages[0].phases[0],
        TrainConfig(batch_size=32),
        torch.Generator().manual_seed(0),
    )
    before = snapshot(module)
    run_epoch(
        module, optimizer, TensorData(make_data()), phase, TrainConfig(batch_size=32), torch.Generator().manual_seed(0)
    )
    after = snapshot(module)
    for group in before:
        same = all(torch.equal(b, a) for b, a in zip(before[group], after[group], strict=False))
        assert same == (group not in trained), f"group {group} {'changed' if not same else 'stayed the same'}"


def test_original_schedule_shape():
    stages = build_schedule("original", ["left", "right"], epochs=4)
    assert [p.name for p in stages[0].phases] == ["joint"] and stages[0].stop_on == "train"
    assert [p.name for p in stages[1].phases] == ["center", "left", "right"] and stages[1].epochs == 4
    assert stages[1].phases[0].trainable == (SHARED_GROUP,)
    assert stages[1].phases[1].routes[0].sources == ("left",) and stages[1].phases[1].routes[0].targets == ("left",)


def test_original_schedule_without_freezing_trains_everything():
    stages = build_schedule("original", ["a", "b", "c"], epochs=2, freeze_phases=False)
    assert all(set(p.trainable) == {SHARED_GROUP, "a", "b", "c"} for p in stages[1].phases)
    assert [p.name for p in stages[1].phases] == ["center", "a", "b", "c"]


def test_joint_schedule_trains_joint_and_single_domain_paths():
    (stage,) = build_schedule("joint", ["left", "right"], epochs=5)
    sources = [route.sources for route in stage.phases[0].routes]
    assert sources == [("left", "right"), ("left",), ("right",)]
    assert all(route.targets == ("left", "right") for route in stage.phases[0].routes)
    assert build_schedule("joint", ["left", "right"], epochs=5, freeze_phases=False) == [stage]  # nothing to freeze


def test_unknown_schedule_is_an_error():
    from sharedlatent.errors import SharedLatentError

    with pytest.raises(SharedLatentError, match="unknown schedule 'grid'; choose one of joint, original"):
        build_schedule("grid", ["a", "b"], epochs=1)


def test_set_trainable_rejects_unknown_groups():
    from sharedlatent.errors import SharedLatentError

    with pytest.raises(SharedLatentError, match="unknown parameter groups"):
        set_trainable(make_module(), ("middle",))


def test_noise_reaches_inputs_not_targets():
    from sharedlatent.nn.objective import add_noise

    module = make_module()
    batch = make_data(8)
    noisy = add_noise(batch, module, {"left": 0.3, "right": 0.3}, torch.Generator().manual_seed(0))
    for name in batch:
        assert not torch.equal(noisy[name], batch[name])  # both domains get noise (the original dropped the left's)
        assert noisy[name].min() >= 0 and noisy[name].max() <= 1
    unchanged = add_noise(batch, module, {"left": 0.0}, torch.Generator())
    assert all(unchanged[name] is batch[name] for name in batch)
    one = add_noise(batch, module, {"right": 0.3}, torch.Generator().manual_seed(0))
    assert one["left"] is batch["left"] and not torch.equal(one["right"], batch["right"])  # per domain
    np.testing.assert_array_equal(batch["right"].numpy(), (1 - batch["left"]).numpy())


def test_an_epoch_setup_made_for_another_module_is_refused():
    module, other = make_module(), make_module()
    phase = build_schedule("joint", ["left", "right"], epochs=1)[0].phases[0]
    with pytest.raises(ValueError, match="another module"):
        run_epoch(
            module,
            make_optimizer(module, 1e-2),
            TensorData(make_data()),
            phase,
            TrainConfig(batch_size=32),
            torch.Generator().manual_seed(0),
            setup=EpochSetup(other),
        )
