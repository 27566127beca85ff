"""The training objective: reconstruction, cross-reconstruction, cycle and KL terms of a set of routes, typed.

`SharedLatentModule.loss` calls `route_losses` here; the training loop only reads `LossTerms.total`, and history
reads the typed term dicts. This module sees the model through the small `Autoencoder` protocol, so it imports
nothing from model.py (model.py imports this). nn/direct_gradients.py writes the same objective and its gradients
out by hand for plain layouts, which train without autograd: a change here must be made there too, and
tests/nn/test_direct_gradients.py compares the two."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import torch

from sharedlatent import names
from sharedlatent.nn.draws import Draws, normal

if TYPE_CHECKING:
    from sharedlatent.config import TrainConfig
    from sharedlatent.nn.likelihoods import Likelihood
    from sharedlatent.nn.posteriors import JointPosterior, LatentBatch

Batch = Mapping[str, torch.Tensor]
Sources = tuple[str, ...]


@dataclass(frozen=True)
class Route:
    """Encode from `sources` (combined when several), decode and score `targets`."""

    sources: Sources
    targets: Sources


@dataclass(frozen=True)
class LossWeights:
    """How the terms add up: KL weight `beta`, cross-reconstruction and cycle weights, and the KL formula."""

    beta: float = 1.0
    cross_weight: float = 1.0
    cycle_weight: float = 0.0
    kl_formula: str = "exact"  # canonical name: "exact" or "original"
    kl_summed: bool = False  # the KL summed over the batch like the errors (the ELBO), not averaged

    @classmethod
    def from_config(cls, config: TrainConfig, beta: float | None = None) -> LossWeights:
        """The weights of `config` (train section), with `beta` overriding train.beta during a KL warm-up."""
        return cls(
            beta=config.beta if beta is None else beta,
            cross_weight=config.cross_weight,
            cycle_weight=config.cycle_weight,
            kl_formula=names.canonical(config.kl_formula),
            kl_summed=config.kl_reduction == "sum",  # "auto" that fit did not settle is "mean"
        )

    @property
    def original_kl(self) -> bool:
        return self.kl_formula == "original"


@dataclass
class LossTerms:
    """The weighted total and each unweighted term, keyed by structure (domain-name tuples), never by strings.

    reconstruction[(sources, target)] and cycle[(source, other)] are summed over the batch's samples;
    kl[sources] is the batch mean (the original's weighting). Reconstruction and KL terms are detached records
    (the total is built as one weighted sum over the stacked routes); only `total` carries gradients."""

    total: torch.Tensor
    reconstruction: dict[tuple[Sources, str], torch.Tensor] = field(default_factory=dict)
    kl: dict[Sources, torch.Tensor] = field(default_factory=dict)
    cycle: dict[tuple[str, str], torch.Tensor] = field(default_factory=dict)


class Autoencoder(Protocol):
    """What the objective needs of the model."""

    domain_names: list[str]
    likelihoods: Mapping[str, Likelihood]
    joint_posterior: JointPosterior

    def branch(self, domain: str, x: torch.Tensor, covariates: torch.Tensor | None = None) -> torch.Tensor: ...

    def heads(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def decode(
        self, z: torch.Tensor, domains: list[str] | None = None, covariates: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]: ...

    def reconstruction(self, domain: str, output: torch.Tensor) -> torch.Tensor: ...

    def latent(
        self, inputs: Batch, present: Batch | None = None, covariates: torch.Tensor | None = None
    ) -> LatentBatch: ...


@dataclass
class _Pass:
    """One stacked forward pass over all routes: latent draws, decoder outputs, per-sample errors and KLs."""

    z: torch.Tensor
    outputs: dict[str, torch.Tensor]
    errors: dict[str, torch.Tensor]
    kl: torch.Tensor
    batch: int


def route_losses(
    module: Autoencoder,
    targets: Batch,
    routes: tuple[Route, ...],
    weights: LossWeights,
    *,
    inputs: Batch | None = None,
    present: Batch | None = None,
    generator: Draws = None,
    covariates: torch.Tensor | None = None,
) -> LossTerms:
    """Summed loss of all routes on one batch, with its unweighted terms; all routes share one stacked decoder pass.

    Reconstruction is each target's negative log-likelihood (squared error for sigmoid_mse) summed over samples
    and features; the KL is averaged over the batch (summed with weights.kl_summed). `inputs` (default `targets`) are what the encoders see, e.g.
    noisy. With generator None the posterior mean is decoded (validation). `present` (domain -> 0/1 per row)
    drops absent samples: a route uses a sample only when all its sources are present, and scores a target only
    where the target is present. `covariates`: the covariate rows (batch one-hot, then standardised continuous
    covariates), for a module with covariates."""
    inputs = targets if inputs is None else inputs
    if present is not None:
        # An absent sample's values must not matter at all, not even as NaN or overflow times a zero weight.
        inputs, targets = _zero_absent(inputs, present), _zero_absent(targets, present)
    stacked = _forward(module, inputs, targets, routes, weights, present, generator, covariates)
    # used[r]: route r's rows whose sources are all present (None: every row).
    used = None if present is None else torch.stack([_all_present(route, present) for route in routes])
    terms = LossTerms(torch.zeros((), device=stacked.z.device))
    _add_reconstruction(terms, stacked, routes, used, present, weights)
    _add_kl(terms, stacked, routes, used, weights)
    if weights.cycle_weight > 0:
        for index, route in enumerate(routes):
            if len(route.sources) == 1:
                rows = slice(index * stacked.batch, (index + 1) * stacked.batch)
                route_used = None if used is None else used[index]
                _add_cycle(module, terms, stacked, route, rows, route_used, targets, weights, covariates)
    return terms


def _all_present(route: Route, present: Batch) -> torch.Tensor:
    """1 for the rows where every source of `route` is present, else 0."""
    return torch.stack([present[s] for s in route.sources]).prod(0)


def _forward(
    module: Autoencoder,
    inputs: Batch,
    targets: Batch,
    routes: tuple[Route, ...],
    weights: LossWeights,
    present: Batch | None,
    generator: Draws,
    covariates: torch.Tensor | None,
) -> _Pass:
    """Encode each source once, combine per route, decode every target once for all routes' rows stacked."""
    sources = dict.fromkeys(s for route in routes for s in route.sources)
    branches = {name: module.branch(name, inputs[name], covariates) for name in sources}
    groups = [[branches[s] for s in route.sources] for route in routes]
    masks = None if present is None else [[present[s] for s in route.sources] for route in routes]
    latent = module.joint_posterior.combine(module.heads, groups, masks)
    z = latent.mean if generator is None else latent.sample(generator)
    decoded = list(dict.fromkeys(t for route in routes for t in route.targets))
    outputs = module.decode(z, decoded, covariates)
    # Score all stacked rows at once: slicing each route's rows out of a decoder output would make autograd
    # zero-fill a full-size gradient for every slice and add them up.
    repeated = {t: targets[t] if len(routes) == 1 else targets[t].repeat(len(routes), 1) for t in decoded}
    errors = {t: module.likelihoods[t].loss(repeated[t], outputs[t]) for t in decoded}
    batch = next(iter(inputs.values())).shape[0]
    return _Pass(z, outputs, errors, latent.kl(weights.kl_formula), batch)


def _add_reconstruction(
    terms: LossTerms,
    stacked: _Pass,
    routes: tuple[Route, ...],
    used: torch.Tensor | None,
    present: Batch | None,
    weights: LossWeights,
) -> None:
    """Add each route's reconstruction errors to the total as one weighted sum per target (few autograd nodes per
    step: this is most of a small model's step time), and record each (sources, target) term unweighted."""
    values: dict[tuple[Sources, str], torch.Tensor] = {}
    for target, errors in stacked.errors.items():
        per_route = errors.view(len(routes), stacked.batch)
        mask = _target_mask(routes, target, used, present)  # which rows count, per route
        scale = [
            0.0 if target not in route.targets else weights.cross_weight if target not in route.sources else 1.0
            for route in routes
        ]
        weight = mask if all(w == 1.0 for w in scale) else _times_route_weights(mask, scale, errors)
        terms.total = terms.total + (per_route.sum() if weight is None else (per_route * weight).sum())
        with torch.no_grad():
            sums = (per_route if mask is None else per_route * mask).sum(1)
        for index, route in enumerate(routes):
            if target in route.targets:
                values[(route.sources, target)] = sums[index]
    for route in routes:  # in route order, then target order, as history lists them
        for target in route.targets:
            terms.reconstruction[(route.sources, target)] = values[(route.sources, target)]


def _target_mask(
    routes: tuple[Route, ...], target: str, used: torch.Tensor | None, present: Batch | None
) -> torch.Tensor | None:
    """0/1 per route and row: the route's sources and `target` are present (None when all are)."""
    if present is None:
        return None
    assert used is not None
    return used * present[target] if target in present else used


def _times_route_weights(mask: torch.Tensor | None, scale: list[float], like: torch.Tensor) -> torch.Tensor:
    """Per-route weights (a column) times the row mask, if any."""
    column = torch.tensor(scale, dtype=like.dtype, device=like.device)[:, None]
    return column if mask is None else column * mask


def _add_kl(
    terms: LossTerms, stacked: _Pass, routes: tuple[Route, ...], used: torch.Tensor | None, weights: LossWeights
) -> None:
    """Add every route's KL term to the total in one weighted sum; each route's term is its batch mean."""
    per_route = stacked.kl.view(len(routes), stacked.batch)
    counted = per_route if used is None else per_route * used
    # The original's Keras models added the KL once per decoded output; kl_summed makes the batch mean a sum.
    route_weights = [
        weights.beta * (len(route.targets) if weights.original_kl else 1) * (stacked.batch if weights.kl_summed else 1)
        for route in routes
    ]
    if len(set(route_weights)) == 1:
        total = counted.sum() * (route_weights[0] / stacked.batch)
    else:
        total = (counted * _times_route_weights(None, route_weights, counted)).sum() / stacked.batch
    terms.total = terms.total + total
    with torch.no_grad():
        means = counted.sum(1) / stacked.batch
    for index, route in enumerate(routes):
        terms.kl[route.sources] = means[index]


def _add_cycle(
    module: Autoencoder,
    terms: LossTerms,
    stacked: _Pass,
    route: Route,
    rows: slice,
    used: torch.Tensor | None,
    targets: Batch,
    weights: LossWeights,
    covariates: torch.Tensor | None,
) -> None:
    """Add a single-source route's cycle terms (source -> other -> source) to `terms`."""
    decoded = {t: stacked.outputs[t][rows] for t in route.targets}
    cycles = cycle_terms(module, stacked.z[rows], decoded, route.sources[0], targets, used, covariates)
    terms.cycle.update(cycles)
    terms.total = terms.total + weights.cycle_weight * sum(cycles.values(), torch.zeros((), device=terms.total.device))


def cycle_terms(
    module: Autoencoder,
    z: torch.Tensor,
    decoded: Batch,
    source: str,
    targets: Batch,
    used: torch.Tensor | None,
    covariates: torch.Tensor | None = None,
) -> dict[tuple[str, str], torch.Tensor]:
    """For each other domain B, the loss of source -> B -> source against the source data, keyed (source, B).

    `decoded` holds the decoder outputs the route already made from `z`; other domains are decoded here."""
    terms = {}
    for other in module.domain_names:
        if other == source:
            continue
        output = decoded[other] if other in decoded else module.decode(z, [other], covariates)[other]
        there = module.reconstruction(other, output)
        back = module.latent({other: there}, covariates=covariates).mean
        decoded_back = module.decode(back, [source], covariates)[source]
        per_sample = module.likelihoods[source].loss(targets[source], decoded_back)
        terms[(source, other)] = per_sample.sum() if used is None else (per_sample * used).sum()
    return terms


def _zero_absent(batch: Batch, present: Batch) -> dict[str, torch.Tensor]:
    """The batch with every absent sample's row set to zero."""
    return {
        name: torch.where(present[name][:, None] > 0, x, torch.zeros_like(x)) if name in present else x
        for name, x in batch.items()
    }


def add_noise(batch: Batch, module: Autoencoder, noise_levels: Mapping[str, float], generator: Draws) -> Batch:
    """Inputs with Gaussian noise of each domain's std (none where it is 0), clipped into each likelihood's support
    (e.g. [0, 1], counts >= 0); targets stay clean."""
    noisy = {}
    for name, x in batch.items():
        level = noise_levels.get(name, 0.0)
        if level > 0:
            x = x + level * normal(x.shape, generator, x)
            low, high = module.likelihoods[name].support
            x = x if low is None and high is None else x.clamp(low, high)
        noisy[name] = x
    return noisy


def kl_weight_at(config: TrainConfig, epoch: int) -> float:
    """The KL weight in the `epoch`-th epoch (0-based, counted over all stages): linear warm-up, then train.beta."""
    if config.beta_warmup_epochs <= 0:
        return config.beta
    return config.beta * min(1.0, (epoch + 1) / config.beta_warmup_epochs)
