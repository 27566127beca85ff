"""A training step's loss and gradients computed by hand, without autograd, for the layouts most runs use.

On a small model autograd's bookkeeping costs more than the arithmetic: recording the graph, running about a hundred
backward nodes and the nn.Module calls around fifteen small matmuls. For plain layouts (dense ReLU stacks, the "mean"
joint posterior, sigmoid_mse / gaussian / gaussian_fixed likelihoods, no covariates, no missing samples, no cycle
terms, float32 on the CPU) this module computes the same loss terms as nn/objective.py's `route_losses` and the same
gradients, with the same random draws in the same order. A default digits step took 2.9-3.1 ms against 4.3-4.6 ms
through autograd (one-off, same machine state). Everything else goes through autograd, and
tests/nn/test_direct_gradients.py checks both give the same loss, terms and gradients."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from sharedlatent.nn.draws import Draws, normal
from sharedlatent.nn.likelihoods import MIN_VARIANCE, Gaussian, GaussianFixed, Likelihood, SigmoidSquaredError
from sharedlatent.nn.model import SharedLatentModule
from sharedlatent.nn.objective import LossTerms, LossWeights, Route
from sharedlatent.nn.posteriors import MeanOfBranches

__all__ = ["DirectStep"]

Batch = Mapping[str, torch.Tensor]
# The likelihood classes whose losses are written out below (exactly these: a subclass may change the loss), with
# their decoders' output activations.
OUTPUT_ACTIVATIONS: dict[type[Likelihood], type[nn.Module]] = {
    SigmoidSquaredError: nn.Sigmoid,
    Gaussian: nn.Identity,
    GaussianFixed: nn.Identity,
}
threshold_backward = torch.ops.aten.threshold_backward  # ReLU's backward: the gradient where the output is above 0


@dataclass(frozen=True)
class Dense:
    """One nn.Linear's tensors (the transposed weight as a view, for addmm), followed by a ReLU or not."""

    weight: nn.Parameter
    bias: nn.Parameter
    weight_t: torch.Tensor
    relu: bool

    @classmethod
    def of(cls, linear: nn.Linear, relu: bool = False) -> Dense:
        with torch.no_grad():
            return cls(linear.weight, linear.bias, linear.weight.t(), relu)


def _dense_layers(stack: nn.Sequential, output_activation: type[nn.Module] | None = None) -> list[Dense] | None:
    """`stack` as Dense layers, or None when it holds anything but Linear and ReLU (and, last, `output_activation`)."""
    children = list(stack)
    if output_activation is not None:
        if not children or not isinstance(children[-1], output_activation):
            return None
        children = children[:-1]
    linears: list[tuple[nn.Linear, bool]] = []
    for child in children:
        if type(child) is nn.Linear and child.bias is not None:
            linears.append((child, False))
        elif type(child) is nn.ReLU and linears and not linears[-1][1]:
            linears[-1] = (linears[-1][0], True)
        else:
            return None
    return [Dense.of(linear, relu) for linear, relu in linears]


class DirectStep:
    """Hand-written training steps for `module` on `routes` weighted by `weights`.

    Built after the phase set which parameters train. It holds the module's parameter tensors, which training
    updates in place, so a fit reuses it for every epoch of the same objective and trainable parameters
    (training/loop.py's EpochSetup); anything that replaces a parameter tensor needs a new one."""

    def __init__(
        self,
        module: SharedLatentModule,
        routes: tuple[Route, ...],
        weights: LossWeights,
        encoders: dict[str, list[Dense]],
        shared: tuple[list[Dense], list[Dense]],
        decoders: dict[str, list[Dense]],
    ) -> None:
        self.module, self.routes, self.weights = module, routes, weights
        self.encoders, self.decoders = encoders, decoders
        self.shared_encoder, self.shared_decoder = shared
        self.z_mean, self.z_log_sigma = Dense.of(module.z_mean), Dense.of(module.z_log_sigma)
        self.sources = list(dict.fromkeys(s for route in routes for s in route.sources))
        self.decoded = list(dict.fromkeys(t for route in routes for t in route.targets))
        self.parameters = list(module.parameters())
        # Each route's weight on each target's error (routes x 1 x 1), as nn/objective.py's _add_reconstruction
        self.scales = {target: _route_scales(routes, target, weights.cross_weight) for target in self.decoded}
        self.doubled_scales = {target: 2 * scale for target, scale in self.scales.items()}  # the squared error's
        # Each route's KL weight times the batch, as nn/objective.py's _add_kl
        self.kl_weights = torch.tensor(
            [weights.beta * (len(r.targets) if weights.original_kl else 1) for r in routes], dtype=torch.float32
        )
        self.encoders_train = {name: _trainable(encoders[name]) for name in self.sources}

    @classmethod
    def build(
        cls,
        module: nn.Module,
        routes: tuple[Route, ...],
        weights: LossWeights,
        device: torch.device,
    ) -> DirectStep | None:
        """The hand-written step for this module and objective, or None when it is not covered (autograd's turn).
        It covers batches without presence masks or covariates; the caller sends the others through autograd."""
        if not (
            type(module) is SharedLatentModule
            and device.type == "cpu"
            and isinstance(module.joint_posterior, MeanOfBranches)
            and module.covariate_width == 0
            and weights.cycle_weight == 0
            and all(parameter.dtype == torch.float32 for parameter in module.parameters())
            and any(parameter.requires_grad for parameter in module.parameters())  # else autograd's error
            and all(type(module.likelihoods[name]) in OUTPUT_ACTIVATIONS for name in module.domain_names)
            and not _has_hooks(module)
        ):
            return None
        encoders = {name: _dense_layers(module.encoders[name]) for name in module.domain_names}
        decoders = {
            name: _dense_layers(module.decoders[name], OUTPUT_ACTIVATIONS[type(module.likelihoods[name])])
            for name in module.domain_names
        }
        shared = (_dense_layers(module.shared_encoder), _dense_layers(module.shared_decoder))
        private = [*encoders.values(), *decoders.values()]
        if any(layers is None for layers in (*private, *shared)) or not all(private):
            return None
        return cls(module, routes, weights, encoders, shared, decoders)  # type: ignore[arg-type]

    @torch.inference_mode()  # ops skip autograd's dispatch (with Adam.step: 1.07x, benchmarks/README.md)
    def loss_and_gradients(
        self, targets: Batch, *, inputs: Batch, generator: Draws, gradients: bool = True
    ) -> LossTerms:
        """`module.loss(targets, routes, weights, inputs=inputs, generator=generator)` without autograd: the same
        terms (generator None decodes the posterior mean, as for validation) and, with `gradients`, the same
        gradients written to `.grad` of every trainable parameter the routes use (None elsewhere, as a backward pass
        leaves them). Terms and gradients are inference tensors: read them, or set the gradients to None before a
        backward pass, which could not add to them in place (run_epoch does after its last step)."""
        module, routes, weights = self.module, self.routes, self.weights
        if gradients:  # every gradient below is written to .grad; the rest stay None, as after a backward pass
            for parameter in self.parameters:
                parameter.grad = None
        batch = next(iter(targets.values())).shape[0]
        sources = self.sources

        # Forward: each source's encoder, the shared encoder over all sources' rows, each route's mean of branches.
        encoder_acts = {name: _forward(self.encoders[name], inputs[name]) for name in sources}
        shared_acts = _forward(self.shared_encoder, _stacked([encoder_acts[name][-1] for name in sources]))
        branches = dict(zip(sources, shared_acts[-1].chunk(len(sources)), strict=True))  # batch rows each
        pieces = [_mean_of([branches[s] for s in r.sources]) for r in routes]
        hidden = _stacked(pieces)
        mean = torch.addmm(self.z_mean.bias, hidden, self.z_mean.weight_t)
        log_sigma = torch.addmm(self.z_log_sigma.bias, hidden, self.z_log_sigma.weight_t)
        sigma = log_sigma.exp()
        noise = None if generator is None else normal(mean.shape, generator, mean)
        z = mean if noise is None else torch.addcmul(mean, sigma, noise)
        decoder_in = _forward(self.shared_decoder, z)

        # Reconstruction: per target, all routes' rows at once; the output gradient carries each route's weight.
        total: torch.Tensor | None = None
        grad_decoder_in = None
        errors: dict[tuple[tuple[str, ...], str], torch.Tensor] = {}
        for target in self.decoded:
            acts = _forward(self.decoders[target], decoder_in[-1])
            scale = self.scales[target]
            likelihood = module.likelihoods[target]
            per_route, grad_output = _error_and_gradient(
                likelihood, acts[-1], targets[target], scale, self.doubled_scales[target], gradients
            )
            weighted = per_route.dot(scale.view(-1))
            total = weighted if total is None else total + weighted
            for route, error in zip(routes, per_route.unbind(), strict=True):
                if target in route.targets:
                    errors[(route.sources, target)] = error
            if grad_output is not None:
                grad = _backward(self.decoders[target], acts, grad_output, need_input=True)
                grad_decoder_in = grad if grad_decoder_in is None else grad_decoder_in.add_(grad)
        terms = LossTerms(torch.zeros((), device=z.device) if total is None else total)
        for route in routes:  # in route order, then target order, as nn/objective.py records them
            for target in route.targets:
                terms.reconstruction[(route.sources, target)] = errors[(route.sources, target)]

        # KL: the batch mean per route, weighted as nn/objective.py's _add_kl weights it.
        log_term = log_sigma if weights.original_kl else log_sigma * 2
        variance = sigma.square()
        kl_per_route = log_term.add(1).sub_(mean.square()).sub_(variance).view(len(routes), -1).sum(1).mul_(-0.5)
        kl_weights = self.kl_weights if not weights.kl_summed else self.kl_weights * batch
        terms.total = terms.total + kl_per_route.dot(kl_weights) / batch
        for route, kl in zip(routes, (kl_per_route / batch).unbind(), strict=True):
            terms.kl[route.sources] = kl
        if not gradients:
            return terms
        assert grad_decoder_in is not None and noise is not None
        grad_z = _backward(self.shared_decoder, decoder_in, grad_decoder_in, need_input=True)
        # Each route's rows of the KL's gradient carry its weight: (routes, batch, latent) views, no per-row copy
        by_route = (len(routes), batch, -1)
        row_weight = (kl_weights / batch).view(-1, 1, 1)
        grad_mean = torch.addcmul(grad_z.view(by_route), row_weight, mean.view(by_route)).view_as(mean)
        # d/d log_sigma: the draw's sigma * noise, and the KL's exp(2 log_sigma) - (1 or, for the original formula, 1/2)
        kl_part = (variance - (0.5 if weights.original_kl else 1.0)).view(by_route)
        grad_log_sigma = torch.addcmul((grad_z * sigma).mul_(noise).view(by_route), row_weight, kl_part).view_as(mean)
        _linear_gradients(self.z_mean, hidden, grad_mean)
        _linear_gradients(self.z_log_sigma, hidden, grad_log_sigma)
        grad_hidden = torch.addmm(grad_mean.mm(self.z_mean.weight), grad_log_sigma, self.z_log_sigma.weight)

        # Back through each route's mean of branches, the shared encoder and every source's encoder.
        received: dict[str, list[torch.Tensor]] = {name: [] for name in sources}
        for index, route in enumerate(routes):
            rows = grad_hidden[index * batch : (index + 1) * batch]
            share = rows if len(route.sources) == 1 else rows / len(route.sources)
            for name in route.sources:
                received[name].append(share)
        grad_branches = [_summed(received[name]) for name in sources]
        needs_encoders = any(self.encoders_train.values())
        grad_shared_in = _backward(self.shared_encoder, shared_acts, _stacked(grad_branches), need_input=needs_encoders)
        if needs_encoders:
            for name, grad in zip(sources, grad_shared_in.chunk(len(sources)), strict=True):
                if self.encoders_train[name]:
                    _backward(self.encoders[name], encoder_acts[name], grad, need_input=False)
        return terms


def _has_hooks(module: nn.Module) -> bool:
    """Whether any module or tensor hook could change what autograd would compute (this file runs none)."""
    from torch.nn.modules import module as module_globals

    global_hooks = (
        module_globals._global_forward_hooks,
        module_globals._global_forward_pre_hooks,
        module_globals._global_backward_hooks,
        module_globals._global_backward_pre_hooks,
    )
    if any(global_hooks):
        return True
    for sub in module.modules():
        if sub._forward_hooks or sub._forward_pre_hooks or sub._backward_hooks or sub._backward_pre_hooks:
            return True
    return any(
        parameter._backward_hooks or getattr(parameter, "_post_accumulate_grad_hooks", None)
        for parameter in module.parameters()
    )


def _forward(layers: list[Dense], x: torch.Tensor) -> list[torch.Tensor]:
    """The input and every layer's output (after its ReLU, if any)."""
    acts = [x]
    for layer in layers:
        out = torch.addmm(layer.bias, acts[-1], layer.weight_t)
        acts.append(out.relu_() if layer.relu else out)
    return acts


def _stacked(pieces: list[torch.Tensor]) -> torch.Tensor:
    """The pieces' rows one after another (the piece itself when there is one: no copy)."""
    return pieces[0] if len(pieces) == 1 else torch.cat(pieces)


def _mean_of(parts: list[torch.Tensor]) -> torch.Tensor:
    """The parts' elementwise mean (the part itself when there is one: no copy)."""
    return parts[0] if len(parts) == 1 else _summed(parts).div_(len(parts))


def _summed(parts: list[torch.Tensor]) -> torch.Tensor:
    """The parts added up (the part itself when there is one: no copy)."""
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def _backward(layers: list[Dense], acts: list[torch.Tensor], grad: torch.Tensor, need_input: bool) -> torch.Tensor:
    """Back through `layers` from the gradient of their output: write weight and bias gradients, return the input's
    gradient (`need_input`) or the last one computed."""
    for index in range(len(layers) - 1, -1, -1):
        layer = layers[index]
        if layer.relu:
            grad = threshold_backward(grad, acts[index + 1], 0)
        _linear_gradients(layer, acts[index], grad)
        if index > 0 or need_input:
            grad = grad.mm(layer.weight)
    return grad


def _linear_gradients(layer: Dense, x: torch.Tensor, grad_out: torch.Tensor) -> None:
    """Write the weight and bias gradients of `layer` applied to `x`, given its output's gradient, to their .grad."""
    if layer.weight.requires_grad:
        layer.weight.grad = grad_out.t().mm(x)
    if layer.bias.requires_grad:
        layer.bias.grad = grad_out.sum(0)


def _trainable(layers: list[Dense]) -> bool:
    return any(layer.weight.requires_grad or layer.bias.requires_grad for layer in layers)


def _route_scales(routes: tuple[Route, ...], target: str, cross_weight: float) -> torch.Tensor:
    """Each route's weight on `target`'s error (routes x 1 x 1): 0 when it does not decode it, cross_weight when
    `target` is not among its sources, else 1."""
    scale = [
        0.0 if target not in route.targets else cross_weight if target not in route.sources else 1.0 for route in routes
    ]
    return torch.tensor(scale, dtype=torch.float32).view(len(routes), 1, 1)


def _error_and_gradient(
    likelihood: Likelihood,
    output: torch.Tensor,
    target: torch.Tensor,
    scale: torch.Tensor,
    doubled_scale: torch.Tensor,
    gradients: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Each route's summed error on `target` (unweighted) and, with `gradients`, the weighted loss's gradient with
    respect to the decoder's last linear output (a learned variance's gradient goes to its .grad). `doubled_scale`:
    2 * `scale`, kept by the caller."""
    routes = scale.shape[0]
    stacked = output.view(routes, *target.shape)
    if type(likelihood) is SigmoidSquaredError:  # squared error of the sigmoid output
        value = stacked.sigmoid()
        diff = value - target
        per_route = diff.square().sum(dim=(1, 2))
        if not gradients:
            return per_route, None
        # 2 * scale * diff * sigmoid'(x), with sigmoid' = value - value^2
        grad = diff.mul_(doubled_scale).mul_(torch.addcmul(value, value, value, value=-1))
        return per_route, grad.view_as(output)
    assert isinstance(likelihood, Gaussian)  # Gaussian or GaussianFixed: half the scaled squared error, plus log v
    variance = likelihood.variance()
    diff = stacked - target
    ratio = diff.square() / variance
    constant = target.shape[0] * (variance.log().sum() + variance.numel() * math.log(2 * math.pi))  # per route
    per_route = 0.5 * (ratio.sum(dim=(1, 2)) + constant)
    if not gradients:
        return per_route, None
    grad = diff * scale / variance
    log_variance = likelihood.log_variance if type(likelihood) is Gaussian else None
    if log_variance is not None and log_variance.requires_grad:
        # d/d log v of 0.5 (diff^2 / v + log v), v = exp(log v) + MIN_VARIANCE
        weighted = (scale * (1 - ratio)).sum(dim=(0, 1))
        log_variance.grad = 0.5 * weighted * log_variance.exp() / (log_variance.exp() + MIN_VARIANCE)
    return per_route, grad.view_as(output)
