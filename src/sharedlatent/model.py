"""The torch math only: private encoders, shared layers, latent heads, decoders; no files, no printing."""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from sharedlatent.likelihoods import make_likelihood

SHARED_GROUP = "shared"


def dense_stack(widths: list[int]) -> nn.Sequential:
    """Linear + ReLU for each consecutive pair of widths."""
    layers: list[nn.Module] = []
    for width_in, width_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(width_in, width_out), nn.ReLU()]
    return nn.Sequential(*layers)


class SharedLatentModule(nn.Module):
    """Per-domain encoder/decoder branches joined by shared layers into one Gaussian latent space."""

    def __init__(
        self,
        input_sizes: Mapping[str, int],
        private_widths: Mapping[str, list[int]],
        shared_widths: list[int],
        latent_size: int,
        likelihoods: Mapping[str, str],
    ) -> None:
        super().__init__()
        self.domain_names = list(input_sizes)
        self.input_sizes = dict(input_sizes)
        self.latent_size = latent_size
        self.likelihoods = {name: make_likelihood(likelihoods.get(name, "sigmoid_mse")) for name in self.domain_names}
        branch_width = next(iter(private_widths.values()))[-1]
        shared_top = shared_widths[-1] if shared_widths else branch_width
        shared_bottom = shared_widths[0] if shared_widths else latent_size

        self.encoders = nn.ModuleDict(
            {name: dense_stack([size] + list(private_widths[name])) for name, size in input_sizes.items()}
        )
        self.shared_encoder = dense_stack([branch_width] + list(shared_widths))
        self.z_mean = nn.Linear(shared_top, latent_size)
        self.z_log_sigma = nn.Linear(shared_top, latent_size)
        self.shared_decoder = dense_stack([latent_size] + list(reversed(shared_widths)))
        self.decoders = nn.ModuleDict()
        for name, size in input_sizes.items():
            widths = list(reversed(private_widths[name]))
            likelihood = self.likelihoods[name]
            self.decoders[name] = nn.Sequential(
                *dense_stack([shared_bottom] + widths),
                nn.Linear(widths[-1], likelihood.parameter_count(size)),
                likelihood.output_activation(),
            )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform weights and zero biases, as the original's Keras Dense layers started."""
        for layer in self.modules():
            if isinstance(layer, nn.Linear):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by group: "shared" (merge layers, latent heads, first decoder layers) and one per domain."""
        groups = {
            SHARED_GROUP: [
                *self.shared_encoder.parameters(),
                *self.z_mean.parameters(),
                *self.z_log_sigma.parameters(),
                *self.shared_decoder.parameters(),
            ]
        }
        for name in self.domain_names:
            groups[name] = [*self.encoders[name].parameters(), *self.decoders[name].parameters()]
        return groups

    def branch(self, domain: str, x: torch.Tensor) -> torch.Tensor:
        """One domain's encoding through its private layers and the shared merge layers."""
        return self.shared_encoder(self.encoders[domain](x))

    def heads(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent mean and log-sigma from a (combined) branch output."""
        return self.z_mean(hidden), self.z_log_sigma(hidden)

    def posterior(self, inputs: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-sigma from any subset of domains; several are combined by averaging their branches."""
        branches = [self.branch(name, x) for name, x in inputs.items()]
        hidden = branches[0] if len(branches) == 1 else torch.stack(branches).mean(dim=0)
        return self.heads(hidden)

    def decode(self, z: torch.Tensor, domains: list[str] | None = None) -> dict[str, torch.Tensor]:
        """Decoder outputs (likelihood parameters) for each requested domain."""
        shared = self.shared_decoder(z)
        return {name: self.decoders[name](shared) for name in (domains or self.domain_names)}

    def reconstruction(self, domain: str, output: torch.Tensor) -> torch.Tensor:
        """The point estimate in data space from a decoder output."""
        return self.likelihoods[domain].mean(output)


def sample_latent(mean: torch.Tensor, log_sigma: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Reparameterised draw z = mean + exp(log_sigma) * eps."""
    eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    return mean + log_sigma.exp() * eps


def kl_to_standard_normal(mean: torch.Tensor, log_sigma: torch.Tensor, formula: str = "exact") -> torch.Tensor:
    """Per-sample KL(q || N(0, I)); formula "seed" is the original's expression (log-sigma where 2 log-sigma belongs)."""
    log_term = 2 * log_sigma if formula == "exact" else log_sigma
    return -0.5 * (1 + log_term - mean.square() - (2 * log_sigma).exp()).sum(dim=1)
