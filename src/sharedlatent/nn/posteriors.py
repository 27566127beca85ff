"""Joint posteriors: how the encodings of several domains combine into one latent distribution, one class each.

Picked by name from `model.joint_posterior`. Each class's `combine(heads, groups, masks)` takes the latent heads
(a callable hidden -> (mean, log_sigma); never the module, so this file does not depend on model.py) and, for every
encoding route, the shared-branch outputs of its source domains (and optionally per-row presence masks) and
returns one LatentBatch with the paths' rows stacked in order. A single domain gives the same result under
"mean" and "moe" (its own Gaussian); "poe" always multiplies in the N(0, I) prior expert, as MVAE does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

from sharedlatent import names
from sharedlatent.errors import SharedLatentError
from sharedlatent.nn.draws import Draws, normal, uniform

Heads = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
ExpertMasks = list[list[torch.Tensor]] | None  # per route, per source domain: 0/1 presence of each row


def sample_latent(mean: torch.Tensor, log_sigma: torch.Tensor, generator: Draws) -> torch.Tensor:
    """Reparameterised draw z = mean + exp(log_sigma) * eps."""
    return mean + log_sigma.exp() * normal(mean.shape, generator, mean)


def kl_to_standard_normal(mean: torch.Tensor, log_sigma: torch.Tensor, formula: str = "exact") -> torch.Tensor:
    """Per-sample KL(q || N(0, I)); formula "original" (or "seed") is the original's expression (log-sigma where
    2 log-sigma belongs)."""
    log_term = log_sigma if names.canonical(formula) == "original" else 2 * log_sigma
    return -0.5 * (1 + log_term - mean.square() - (2 * log_sigma).exp()).sum(dim=1)


@dataclass
class LatentBatch:
    """A batch of latent distributions: the point estimate, a moment-matched log-sigma, a sampler and the KL."""

    mean: torch.Tensor
    log_sigma: torch.Tensor
    draw: Callable[[Draws], torch.Tensor]
    divergence: Callable[[str], torch.Tensor]

    def sample(self, generator: Draws) -> torch.Tensor:
        return self.draw(generator)

    def kl(self, formula: str = "exact") -> torch.Tensor:
        """Per-sample KL to the N(0, I) prior (see each posterior for its definition)."""
        return self.divergence(formula)


def gaussian_batch(mean: torch.Tensor, log_sigma: torch.Tensor) -> LatentBatch:
    """A diagonal Gaussian as a LatentBatch."""
    return LatentBatch(
        mean,
        log_sigma,
        lambda generator: sample_latent(mean, log_sigma, generator),
        lambda formula: kl_to_standard_normal(mean, log_sigma, formula),
    )


class JointPosterior(Protocol):
    """What every joint posterior offers: a name and `combine`."""

    name: str

    def combine(self, heads: Heads, groups: list[list[torch.Tensor]], masks: ExpertMasks = None) -> LatentBatch: ...


def _weights(group: list[torch.Tensor], mask: list[torch.Tensor] | None) -> torch.Tensor:
    """Presence weights (experts x rows x 1) as floats; all ones without a mask."""
    if mask is None:
        return torch.ones(len(group), group[0].shape[0], 1, device=group[0].device, dtype=group[0].dtype)
    return torch.stack([m.to(group[0].dtype) for m in mask])[..., None]


def _experts(heads: Heads, groups: list[list[torch.Tensor]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Each group's experts as stacked (experts x rows x latent) means and log-sigmas, from one pass of the heads."""
    flat = torch.cat([branch for group in groups for branch in group])
    mean, log_sigma = heads(flat)
    out, start = [], 0
    for group in groups:
        rows = group[0].shape[0]
        count = len(group)
        shape = (count, rows, mean.shape[1])
        out.append(
            (mean[start : start + count * rows].reshape(shape), log_sigma[start : start + count * rows].reshape(shape))
        )
        start += count * rows
    return out


class MeanOfBranches:
    """The original: average the shared-branch outputs of the present domains, then apply the latent heads once."""

    name = "mean"

    def combine(self, heads: Heads, groups: list[list[torch.Tensor]], masks: ExpertMasks = None) -> LatentBatch:
        pieces = []
        for index, group in enumerate(groups):
            if len(group) == 1:
                pieces.append(group[0])
            elif masks is None or masks[index] is None:
                pieces.append(torch.stack(group).mean(0))
            else:
                weights = _weights(group, masks[index])
                pieces.append((torch.stack(group) * weights).sum(0) / weights.sum(0).clamp_min(1.0))
        mean, log_sigma = heads(torch.cat(pieces))
        return gaussian_batch(mean, log_sigma)


class ProductOfExperts:
    """MVAE's product of experts: precision-weighted Gaussian of each present domain's posterior and the N(0, I) prior."""

    name = "poe"

    def combine(self, heads: Heads, groups: list[list[torch.Tensor]], masks: ExpertMasks = None) -> LatentBatch:
        means, log_sigmas = [], []
        for index, (mean, log_sigma) in enumerate(_experts(heads, groups)):
            weights = _weights(groups[index], None if masks is None else masks[index])
            mean, log_sigma = product_of_experts(mean, log_sigma, weights)
            means.append(mean)
            log_sigmas.append(log_sigma)
        return gaussian_batch(torch.cat(means), torch.cat(log_sigmas))


def product_of_experts(
    means: torch.Tensor, log_sigmas: torch.Tensor, weights: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and log-sigma of N(0, I) times the experts (experts x rows x latent) whose weight is 1."""
    precisions = (-2 * log_sigmas).exp() * weights
    total = 1.0 + precisions.sum(0)  # the prior expert contributes precision 1 and mean 0
    return (precisions * means).sum(0) / total, -0.5 * total.log()


class MixtureOfExperts:
    """MMVAE's mixture of experts: each sample's z comes from one present domain's posterior, chosen uniformly.

    The point estimate is the mixture mean; the KL is the average of the present experts' KLs to the prior
    (an upper bound on the mixture's KL, by convexity); log_sigma is moment-matched to the mixture's variance."""

    name = "moe"

    def combine(self, heads: Heads, groups: list[list[torch.Tensor]], masks: ExpertMasks = None) -> LatentBatch:
        experts = _experts(heads, groups)
        weights = [_weights(groups[i], None if masks is None else masks[i]) for i in range(len(groups))]
        parts = [mixture_moments(mean, log_sigma, w) for (mean, log_sigma), w in zip(experts, weights, strict=False)]
        mean = torch.cat([p[0] for p in parts])
        log_sigma = torch.cat([p[1] for p in parts])

        def draw(generator: Draws) -> torch.Tensor:
            return torch.cat([mixture_sample(e[0], e[1], w, generator) for e, w in zip(experts, weights, strict=False)])

        def divergence(formula: str) -> torch.Tensor:
            per_group = []
            for (expert_mean, expert_log_sigma), w in zip(experts, weights, strict=False):
                kls = torch.stack(
                    [kl_to_standard_normal(m, s, formula) for m, s in zip(expert_mean, expert_log_sigma, strict=False)]
                )
                per_group.append((kls * w[..., 0]).sum(0) / w[..., 0].sum(0).clamp_min(1.0))
            return torch.cat(per_group)

        return LatentBatch(mean, log_sigma, draw, divergence)


def mixture_moments(
    means: torch.Tensor, log_sigmas: torch.Tensor, weights: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and moment-matched log-sigma of a uniform mixture of the experts whose weight is 1."""
    if means.shape[0] == 1:
        return means[0], log_sigmas[0]
    share = weights / weights.sum(0).clamp_min(1.0)
    mean = (share * means).sum(0)
    second = (share * ((2 * log_sigmas).exp() + means.square())).sum(0)
    return mean, 0.5 * (second - mean.square()).clamp_min(1e-12).log()


def mixture_sample(
    means: torch.Tensor, log_sigmas: torch.Tensor, weights: torch.Tensor, generator: Draws
) -> torch.Tensor:
    """One draw per row from a uniformly chosen present expert."""
    experts, rows, _ = means.shape
    if experts == 1:
        return sample_latent(means[0], log_sigmas[0], generator)
    present = weights[..., 0].T  # rows x experts
    # rows with no expert present carry no loss; any choice will do for them
    present = present + (present.sum(1, keepdim=True) == 0).to(present.dtype)
    # the k-th present expert for k uniform among them: one uniform draw per row, so any batch split draws alike
    count = present.sum(1, keepdim=True)
    k = (uniform((rows, 1), generator, present) * count).floor().clamp_max(count - 1)
    choice = (present.cumsum(1) <= k).sum(1)
    row = torch.arange(rows, device=means.device)
    return sample_latent(means[choice, row], log_sigmas[choice, row], generator)


POSTERIORS: dict[str, type] = {
    cls.name: cls for cls in (MeanOfBranches, ProductOfExperts, MixtureOfExperts) if cls.name in names.JOINT_POSTERIORS
}
assert tuple(POSTERIORS) == names.JOINT_POSTERIORS, "every name in names.JOINT_POSTERIORS needs a class here"


def make_posterior(name: str) -> JointPosterior:
    """A joint posterior by name."""
    if name not in POSTERIORS:
        raise SharedLatentError(f"unknown joint posterior {name!r}; choose one of {', '.join(POSTERIORS)}")
    return POSTERIORS[name]()
