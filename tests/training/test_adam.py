"""The training loop's Adam and learning-rate decay against torch.optim's, step for step."""

import math

import pytest
import torch

from conftest import modules_imported_after
from sharedlatent.errors import SharedLatentError
from sharedlatent.training.adam import Adam, PhaseOptimizers, PlateauDecay


def twin_parameters() -> tuple[list[torch.nn.Parameter], list[torch.nn.Parameter]]:
    torch.manual_seed(0)
    first = [
        torch.nn.Parameter(torch.randn(5, 3)),
        torch.nn.Parameter(torch.randn(3)),
        torch.nn.Parameter(torch.randn(2, 2)),
    ]
    return first, [torch.nn.Parameter(p.detach().clone()) for p in first]


@pytest.mark.parametrize("weight_decay", [0.0, 0.3])
@pytest.mark.parametrize("fused", [True, False])
def test_steps_equal_torch_adams_bit_for_bit_with_frozen_parameters(fused, weight_decay):
    """Without decay torch.optim.Adam's steps, with decay torch.optim.AdamW's; a frozen parameter is not decayed."""
    ours_parameters, theirs_parameters = twin_parameters()
    ours = Adam(ours_parameters, 0.01, weight_decay)
    ours.fused = fused  # the single-tensor path, as on a device without the fused kernel
    if weight_decay:
        theirs = torch.optim.AdamW(theirs_parameters, lr=0.01, weight_decay=weight_decay, fused=fused or None)
    else:
        theirs = torch.optim.Adam(theirs_parameters, lr=0.01, fused=fused or None)
    generator = torch.Generator().manual_seed(1)
    for step in range(12):
        trained = [0, 1] if step < 6 else [1, 2]  # parameter 2 starts late, parameter 0 freezes
        gradients = {i: torch.randn(ours_parameters[i].shape, generator=generator) for i in trained}
        for optimizer, parameters in ((ours, ours_parameters), (theirs, theirs_parameters)):
            optimizer.zero_grad()
            for i, gradient in gradients.items():
                parameters[i].grad = gradient.clone()
            optimizer.step()
        if step == 8:
            ours.lr = theirs.param_groups[0]["lr"] = 0.003
    for mine, reference in zip(ours_parameters, theirs_parameters, strict=True):
        assert torch.equal(mine, reference)
    assert ours.state_dict()["param_groups"][0]["weight_decay"] == weight_decay
    assert sorted(ours.state) == [0, 1, 2]
    assert float(ours.state[0]["step"]) == 6 and float(ours.state[2]["step"]) == 6


def test_state_round_trips_and_reads_torch_adams_state():
    parameters, reference_parameters = twin_parameters()
    reference = torch.optim.Adam(reference_parameters, lr=0.02)
    for parameter in reference_parameters[:2]:
        parameter.grad = torch.ones_like(parameter)
    reference.step()
    ours = Adam(parameters, 0.5)
    ours.load_state_dict(reference.state_dict())
    assert ours.lr == 0.02 and sorted(ours.state) == [0, 1]
    assert torch.equal(ours.state[1]["exp_avg"], reference.state[reference_parameters[1]]["exp_avg"])
    again = Adam(parameters, 0.5)
    again.load_state_dict(ours.state_dict())
    assert again.lr == 0.02 and torch.equal(again.state[0]["exp_avg_sq"], ours.state[0]["exp_avg_sq"])


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda s: s.update(param_groups=[]), "not one group"),
        (lambda s: s["param_groups"][0].update(lr=float("nan")), "learning rate nan"),
        (lambda s: s["param_groups"][0].update(params=[0, 1]), "covers 2 parameters; this model has 3"),
        (lambda s: s["state"][0].update(exp_avg=torch.zeros(2)), "parameter 0 has no exp_avg of shape (5, 3)"),
        (lambda s: s["state"][0].update(step=torch.tensor(float("inf"))), "non-finite step"),
        (lambda s: s["state"].update({7: s["state"][0]}), "entry 7 for no parameter"),
        (lambda s: s["param_groups"][0].update(lr=True), "learning rate True"),
        (lambda s: s["state"][0].update(exp_avg=torch.zeros(5, 3, dtype=torch.complex64)), "complex64, not real"),
        (lambda s: s["state"][0].update(exp_avg_sq=-torch.ones(5, 3)), "negative exp_avg_sq"),
        (lambda s: s["state"][0].update(step=torch.tensor(1.5)), "step count of 1.5, not a whole number from 1"),
    ],
)
def test_a_damaged_state_is_refused_in_one_line_and_changes_nothing(tamper, message):
    parameters, _ = twin_parameters()
    optimizer = Adam(parameters, 0.01)
    for parameter in parameters:
        parameter.grad = torch.ones_like(parameter)
    optimizer.step()
    saved = optimizer.state_dict()
    tamper(saved)
    fresh = Adam(parameters, 0.01)
    with pytest.raises(SharedLatentError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fresh.load_state_dict(saved)
    assert fresh.state == {} and fresh.lr == 0.01


def test_plateau_decay_follows_reduce_lr_on_plateau():
    losses = [5.0, 4.0, 4.0, 3.9999, 4.1, 2.0, 2.0, 2.0, 2.0, -1.0, -0.99995, -1.0, -1.0, -1.0]
    parameter = torch.nn.Parameter(torch.zeros(1))
    ours = PlateauDecay(Adam([parameter], 0.1), factor=0.5, patience=2)
    reference_optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(reference_optimizer, factor=0.5, patience=2)
    for loss in losses:
        ours.step(loss)
        reference.step(loss)
        assert math.isclose(ours.optimizer.lr, reference_optimizer.param_groups[0]["lr"])
    assert ours.optimizer.lr < 0.1
    restored = PlateauDecay(Adam([parameter], 0.1), factor=0.5, patience=2)
    restored.load_state_dict(reference.state_dict())  # a checkpoint written while torch's scheduler ran
    assert (restored.best, restored.num_bad_epochs) == (ours.best, ours.num_bad_epochs)
    with pytest.raises(SharedLatentError, match="learning-rate decay state"):
        restored.load_state_dict({"best": "low", "num_bad_epochs": 1})


def test_building_and_stepping_does_not_import_torch_dynamo():
    code = (
        "import torch\n"
        "from sharedlatent.training.adam import Adam\n"
        "p = torch.nn.Parameter(torch.ones(3)); a = Adam([p], 0.1)\n"
        "p.grad = torch.ones(3); a.step(); a.zero_grad()"
    )
    assert modules_imported_after(code, ("torch._dynamo",)) == []


def test_moments_that_no_gradients_give_are_refused_and_real_ones_pass():
    torch.manual_seed(3)
    parameter = torch.nn.Parameter(torch.zeros(200))
    optimizer = Adam([parameter], 0.01)
    for scale in torch.logspace(-3, 3, 40):  # gradients of wildly varying size and sign
        parameter.grad = torch.randn(200) * scale
        optimizer.step()
    saved = optimizer.state_dict()
    Adam([parameter], 0.01).load_state_dict(saved)  # what Adam writes always passes
    saved["state"][0]["exp_avg_sq"] = torch.zeros(200)
    with pytest.raises(SharedLatentError, match="moments no gradients can give"):
        Adam([parameter], 0.01).load_state_dict(saved)


def keras_adam_step(gradient: torch.Tensor, count: int, lr: float) -> torch.Tensor:
    """The change a fresh Adam's first step makes at step count `count` (moments from zero, bias-corrected by
    `count`), written out: what the original's Keras did for a model compiled after others had stepped."""
    first, second = 0.1 * gradient, 0.001 * gradient.square()
    return -lr * (first / (1 - 0.9**count)) / ((second / (1 - 0.999**count)).sqrt() + 1e-8)


@pytest.mark.parametrize("fused", [True, False])
def test_phases_keep_their_own_moments_and_share_one_step_count(fused):
    parameters, _ = twin_parameters()
    optimizers = PhaseOptimizers(parameters, 0.01, per_phase=True)
    generator = torch.Generator().manual_seed(1)
    for phase in ("joint", "joint", "joint", "left"):
        adam = optimizers.for_phase(phase)
        adam.fused = fused
        before = parameters[0].detach().clone()
        gradient = torch.randn(parameters[0].shape, generator=generator)
        adam.zero_grad()
        parameters[0].grad = gradient
        adam.step()
    assert optimizers.for_phase("left") is not optimizers.for_phase("joint")
    assert optimizers.shared_steps.count == 4
    # "left"'s first step: its own moments from zero, the bias correction at the shared count 4
    torch.testing.assert_close(parameters[0].detach() - before, keras_adam_step(gradient, 4, 0.01))
    optimizers.lr = 0.003
    assert (
        optimizers.for_phase("joint").lr == optimizers.for_phase("left").lr == optimizers.for_phase("new").lr == 0.003
    )


def test_per_phase_state_round_trips_and_a_malformed_one_is_refused():
    parameters, twins = twin_parameters()
    first, second = PhaseOptimizers(parameters, 0.01, per_phase=True), PhaseOptimizers(twins, 0.01, per_phase=True)
    for optimizers, tensors in ((first, parameters), (second, twins)):
        for phase in ("joint", "left", "joint"):
            adam = optimizers.for_phase(phase)
            adam.zero_grad()
            tensors[1].grad = torch.full_like(tensors[1], 0.5)
            adam.step()
    restored = PhaseOptimizers(parameters, 0.5, per_phase=True)
    restored.load_state_dict(first.state_dict())
    assert restored.shared_steps.count == 3 and restored.lr == 0.01 and sorted(restored.by_phase) == ["joint", "left"]
    for optimizers, tensors in ((restored, parameters), (second, twins)):  # one more step each: the same result
        adam = optimizers.for_phase("left")
        adam.zero_grad()
        tensors[1].grad = torch.full_like(tensors[1], -0.25)
        adam.step()
    assert torch.equal(parameters[1], twins[1])
    with pytest.raises(SharedLatentError, match="not one Adam per phase and a step count"):
        PhaseOptimizers(parameters, 0.01, per_phase=True).load_state_dict(Adam(parameters, 0.01).state_dict())
    with pytest.raises(SharedLatentError, match="not one group of Adam state"):
        PhaseOptimizers(parameters, 0.01).load_state_dict(first.state_dict())
    for steps in (1, 10**6):  # the last step of some phase is the shared count, no more and no less
        with pytest.raises(SharedLatentError, match=f"last step is 3, not their shared count {steps}"):
            PhaseOptimizers(parameters, 0.01, per_phase=True).load_state_dict({**first.state_dict(), "steps": steps})
    damaged = first.state_dict()
    damaged["per_phase"]["left"]["param_groups"][0]["lr"] = float("nan")
    with pytest.raises(SharedLatentError, match="phase 'left': the saved optimiser state has learning rate nan"):
        PhaseOptimizers(parameters, 0.01, per_phase=True).load_state_dict(damaged)
