"""The hand-written training step (nn/direct_gradients.py) against autograd: same loss, terms and gradients, same
parameters left without a gradient, for every layout and objective it claims to cover; the rest falls back."""

import numpy as np
import pytest
import torch

from sharedlatent.api import SharedLatentVAE
from sharedlatent.config import RunConfig, TrainConfig
from sharedlatent.nn.direct_gradients import DirectStep
from sharedlatent.nn.likelihoods import Gaussian
from sharedlatent.nn.model import SharedLatentModule
from sharedlatent.nn.objective import LossWeights, add_noise
from sharedlatent.training import loop
from sharedlatent.training.schedules import joint_schedule, original_schedule, set_trainable

SIZES = {"a": 7, "b": 5, "c": 4}


def make_module(likelihoods, shared_widths=(6,), domains=("a", "b"), widths=(9, 8), seed=0):
    torch.manual_seed(seed)
    sizes = {name: SIZES[name] for name in domains}
    return SharedLatentModule(
        sizes,
        {name: list(widths) for name in domains},
        list(shared_widths),
        3,
        {name: likelihoods[i % len(likelihoods)] for i, name in enumerate(domains)},
        zero_output_layers=False,
    )


def make_batch(module, rows=11, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return {name: torch.rand(rows, size, generator=generator) for name, size in module.input_sizes.items()}


def autograd_step(module, batch, routes, weights, inputs, generator):
    for parameter in module.parameters():
        parameter.grad = None
    terms = module.loss(batch, routes, weights, inputs=inputs, generator=generator)
    terms.total.backward()
    return terms, {name: p.grad for name, p in module.named_parameters()}


def direct_step(module, batch, routes, weights, inputs, generator):
    step = DirectStep.build(module, routes, weights, torch.device("cpu"))
    assert step is not None
    terms = step.loss_and_gradients(batch, inputs=inputs, generator=generator)
    return terms, {name: p.grad for name, p in module.named_parameters()}


def assert_same(module, batch, routes, weights, noise=0.0):
    inputs = batch
    if noise:
        inputs = add_noise(batch, module, dict.fromkeys(batch, noise), torch.Generator().manual_seed(5))
    generators = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    expected_terms, expected = autograd_step(module, batch, routes, weights, inputs, generators[0])
    got_terms, got = direct_step(module, batch, routes, weights, inputs, generators[1])
    assert torch.equal(generators[0].get_state(), generators[1].get_state()), "different random draws"
    assert got_terms.total.item() == pytest.approx(expected_terms.total.item(), rel=1e-5)
    assert list(got_terms.reconstruction) == list(expected_terms.reconstruction)
    for key, value in expected_terms.reconstruction.items():
        assert got_terms.reconstruction[key].item() == pytest.approx(value.item(), rel=1e-5), key
    assert list(got_terms.kl) == list(expected_terms.kl)
    for key, value in expected_terms.kl.items():
        assert got_terms.kl[key].item() == pytest.approx(value.item(), rel=1e-5, abs=1e-7), key
    assert {k for k, v in got.items() if v is None} == {k for k, v in expected.items() if v is None}
    checked = 0
    for name, grad in expected.items():
        if grad is not None:
            torch.testing.assert_close(got[name], grad, rtol=1e-4, atol=1e-6, msg=name)
            checked += 1
    assert checked > 0


@pytest.mark.parametrize(
    "likelihoods", [["sigmoid_mse"], ["gaussian"], ["gaussian_fixed"], ["sigmoid_mse", "gaussian"]]
)
def test_joint_schedule_step_matches_autograd(likelihoods):
    module = make_module(likelihoods)
    batch = make_batch(module)
    routes = joint_schedule(module.domain_names, 1)[0].phases[0].routes
    assert_same(module, batch, routes, LossWeights.from_config(TrainConfig()))


@pytest.mark.parametrize(
    "train",
    [
        TrainConfig(cross_weight=0.3, beta=0.7),
        TrainConfig(kl_formula="original"),
        TrainConfig(kl_reduction="sum", beta=0.2),
    ],
    ids=["weights", "original_kl", "summed_kl"],
)
def test_weights_and_kl_variants_match_autograd(train):
    module = make_module(["gaussian", "sigmoid_mse"])
    routes = joint_schedule(module.domain_names, 1)[0].phases[0].routes
    assert_same(module, make_batch(module), routes, LossWeights.from_config(train), noise=0.2)


@pytest.mark.parametrize("shared_widths", [(), (6, 5)])
def test_three_domains_and_other_shared_stacks_match_autograd(shared_widths):
    module = make_module(["sigmoid_mse", "gaussian"], shared_widths=shared_widths, domains=("a", "b", "c"))
    routes = joint_schedule(module.domain_names, 1)[0].phases[0].routes
    assert_same(module, make_batch(module), routes, LossWeights.from_config(TrainConfig()))


def test_original_schedule_phases_with_freezing_match_autograd():
    """Frozen groups get no gradient, and a domain a phase does not use gets none either, as after a backward."""
    module = make_module(["gaussian"])
    batch = make_batch(module)
    weights = LossWeights.from_config(TrainConfig(kl_formula="original"))
    for stage in original_schedule(module.domain_names, 1, freeze_phases=True):
        for phase in stage.phases:
            set_trainable(module, phase.trainable)
            assert_same(module, batch, phase.routes, weights)


def test_layouts_it_does_not_cover_fall_back():
    routes = joint_schedule(["a", "b"], 1)[0].phases[0].routes
    weights = LossWeights.from_config(TrainConfig())
    cpu = torch.device("cpu")
    assert DirectStep.build(make_module(["sigmoid_mse"]), routes, weights, cpu) is not None
    assert DirectStep.build(make_module(["negative_binomial"]), routes, weights, cpu) is None
    poe = SharedLatentModule({"a": 3, "b": 2}, {"a": [4], "b": [4]}, [], 2, {}, joint_posterior="poe")
    assert DirectStep.build(poe, routes, weights, cpu) is None
    cycles = LossWeights.from_config(TrainConfig(cycle_weight=1.0))
    assert DirectStep.build(make_module(["sigmoid_mse"]), routes, cycles, cpu) is None
    assert DirectStep.build(make_module(["sigmoid_mse"]), routes, weights, torch.device("meta")) is None
    assert DirectStep.build(make_module(["sigmoid_mse"]).double(), routes, weights, cpu) is None


def test_modules_changed_by_hand_fall_back():
    """A likelihood subclass, a hook or a layer without bias could make autograd compute something else."""
    routes = joint_schedule(["a", "b"], 1)[0].phases[0].routes
    weights = LossWeights.from_config(TrainConfig())
    cpu = torch.device("cpu")

    class DoubledGaussian(Gaussian):
        def loss(self, target, output):
            return 2 * super().loss(target, output)

    module = make_module(["gaussian"])
    module.likelihoods["a"] = DoubledGaussian(SIZES["a"])
    assert DirectStep.build(module, routes, weights, cpu) is None
    module = make_module(["gaussian"])
    handle = module.z_mean.weight.register_hook(lambda grad: grad.clamp(-1e-3, 1e-3))
    assert DirectStep.build(module, routes, weights, cpu) is None
    handle.remove()
    assert DirectStep.build(module, routes, weights, cpu) is not None
    module.shared_encoder[0].register_forward_hook(lambda *args: None)
    assert DirectStep.build(module, routes, weights, cpu) is None
    module = make_module(["gaussian"])
    module.encoders["a"][0] = torch.nn.Linear(SIZES["a"], 9, bias=False)
    assert DirectStep.build(module, routes, weights, cpu) is None
    module = make_module(["gaussian"])
    module.requires_grad_(False)  # nothing to train: autograd's own error, not a silent step without updates
    assert DirectStep.build(module, routes, weights, cpu) is None


def test_a_fit_trains_the_same_weights_either_way(monkeypatch):
    """A whole (short) fit with and without the direct step ends at the same weights, within float tolerance."""
    rng = np.random.default_rng(0)
    base = rng.random((120, 6)).astype(np.float32)
    data = {"x": base, "y": (base[:, :4] * 2 - 1 + 0.1 * rng.standard_normal((120, 4))).astype(np.float32)}

    def fitted():
        config = RunConfig()
        config.train.epochs, config.train.progress, config.train.batch_size = 6, False, 32
        # Zero-started output layers give gradients near 1e-7 whose sign is float noise on either path, and Adam
        # turns a sign into a whole step: the two paths would differ by rounding made large, not by their math
        config.model.zero_output_layers = False
        model = SharedLatentVAE({"x": 6, "y": 4}, config)
        model.fit(data)
        return model.module.state_dict()

    calls = []
    real = DirectStep.loss_and_gradients
    monkeypatch.setattr(DirectStep, "loss_and_gradients", lambda *a, **k: calls.append(1) or real(*a, **k))
    direct = fitted()
    assert calls, "the direct step was not used"
    monkeypatch.setattr(loop.DirectStep, "build", lambda *a, **k: None)
    through_autograd = fitted()
    for key, value in through_autograd.items():
        torch.testing.assert_close(direct[key], value, rtol=1e-3, atol=1e-4, msg=key)


@pytest.mark.parametrize("likelihoods", [["sigmoid_mse"], ["gaussian", "gaussian_fixed"]])
def test_validation_loss_without_gradients_matches_autograd(likelihoods):
    """generator None decodes the posterior mean, as validation does; no gradient is touched."""
    module = make_module(likelihoods)
    batch = make_batch(module)
    routes = joint_schedule(module.domain_names, 1)[0].phases[0].routes
    weights = LossWeights.from_config(TrainConfig())
    with torch.no_grad():
        expected = module.loss(batch, routes, weights)
    step = DirectStep.build(module, routes, weights, torch.device("cpu"))
    got = step.loss_and_gradients(batch, inputs=batch, generator=None, gradients=False)
    assert got.total.item() == pytest.approx(expected.total.item(), rel=1e-5)
    assert all(parameter.grad is None for parameter in module.parameters())


def test_a_fit_builds_each_step_once_and_gets_the_weights_of_one_built_every_epoch(monkeypatch):
    """training/loop.py's EpochSetup reuses a step per objective and set of trainable parameters; a step built afresh
    every epoch gives bit-identical weights, so reusing one changes nothing but the time."""
    rng = np.random.default_rng(0)
    base = rng.random((90, 6)).astype(np.float32)
    data = {"x": base, "y": base[:, :4] * 0.5 + 0.25}

    def fitted():
        config = RunConfig()
        config.train.schedule, config.train.epochs, config.train.progress, config.train.batch_size = (
            "original",
            3,
            False,
            32,
        )
        model = SharedLatentVAE({"x": 6, "y": 4}, config)
        model.fit(data)
        return model.module.state_dict()

    builds = []
    real_build = DirectStep.build.__func__
    monkeypatch.setattr(DirectStep, "build", classmethod(lambda *a, **k: builds.append(1) or real_build(*a, **k)))
    reused = fitted()
    # original, frozen phases: joint, center, x alone, y alone: four objectives with their own trainable groups
    assert len(builds) == 4
    real_direct_step = loop.EpochSetup.direct_step
    monkeypatch.setattr(
        loop.EpochSetup, "direct_step", lambda self, *a: (self._steps.clear(), real_direct_step(self, *a))[1]
    )
    builds.clear()
    fresh = fitted()
    assert len(builds) == 3 + 3 * 3  # one per phase epoch: 3 joint epochs, 3 rounds of 3 phases
    for key, value in fresh.items():
        assert torch.equal(reused[key], value), key


def test_after_a_fit_no_gradient_is_left_and_a_backward_pass_works():
    """The hand-written step's gradients are inference tensors, which a backward pass could not add to in place: a
    fit leaves every .grad None, as a fresh module has it."""
    config = RunConfig()
    config.train.epochs, config.train.progress = 2, False
    data = {name: np.random.default_rng(0).random((300, 5), dtype=np.float32) for name in ("left", "right")}
    model = SharedLatentVAE({"left": 5, "right": 5}, config)
    model.fit(data)
    assert all(parameter.grad is None for parameter in model.module.parameters())
    batch = {name: torch.from_numpy(values[:8]) for name, values in data.items()}
    routes = joint_schedule(["left", "right"], 1)[0].phases[0].routes
    model.module.train()
    model.module.loss(batch, routes, LossWeights(), inputs=batch, generator=torch.Generator()).total.backward()
    model.module.loss(batch, routes, LossWeights(), inputs=batch, generator=torch.Generator()).total.backward()
    assert all(parameter.grad is not None for parameter in model.module.parameters())


def test_an_epoch_leaves_no_gradient_and_a_saved_optimiser_state_is_plain_tensors():
    """run_epoch (public in training/loop.py) drops the step's inference-tensor gradients itself, and Adam's saved
    state can be edited in place, though its moments were made in inference mode."""
    module = make_module(["sigmoid_mse"])
    data = loop.TensorData({name: values for name, values in make_batch(module, rows=20).items()})
    optimizer = loop.make_optimizer(module, 1e-2)
    phase = joint_schedule(["a", "b"], 1)[0].phases[0]
    loop.run_epoch(module, optimizer, data, phase, TrainConfig(batch_size=8), torch.Generator().manual_seed(0))
    assert all(parameter.grad is None for parameter in module.parameters())
    state = optimizer.state_dict()["state"][0]
    assert not any(value.is_inference() for value in state.values())
    state["exp_avg"].mul_(0.5)  # an in-place edit of a saved moment works
