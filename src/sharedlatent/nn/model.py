"""The torch math only: private encoders, shared layers, latent heads, decoders, likelihoods, joint posterior."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch
from torch import nn

from sharedlatent.errors import SharedLatentError
from sharedlatent.names import SHARED_GROUP
from sharedlatent.nn.likelihoods import Likelihood, make_likelihood
from sharedlatent.nn.objective import LossTerms, LossWeights, Route, route_losses
from sharedlatent.nn.posteriors import LatentBatch, make_posterior

if TYPE_CHECKING:
    from sharedlatent.config import ModelConfig

__all__ = ["SHARED_GROUP", "SharedLatentModule", "dense_stack"]  # SHARED_GROUP: names.SHARED_GROUP, for old imports


def dense_stack(widths: list[int]) -> nn.Sequential:
    """Linear + ReLU for each consecutive pair of widths."""
    layers: list[nn.Module] = []
    for width_in, width_out in zip(widths[:-1], widths[1:], strict=False):
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
        likelihood_options: Mapping[str, dict] | None = None,
        joint_posterior: str = "mean",
        batch_categories: int = 0,
        batch_in_encoders: bool = False,
        continuous_covariates: int = 0,
        zero_output_layers: bool = True,
    ) -> None:
        super().__init__()
        clashing = [name for name in input_sizes if hasattr(nn.ModuleDict, name)]
        if clashing:  # the per-domain layers live in ModuleDicts keyed by domain name
            raise SharedLatentError(f"domain name {clashing[0]!r} is taken by torch's ModuleDict; rename that domain")
        self.domain_names = list(input_sizes)
        self.input_sizes = dict(input_sizes)
        self.zero_output_layers = zero_output_layers
        self.latent_size = latent_size
        # One-hot batch columns, then standardised continuous covariates, joined to each decoder's input (scVI), and
        # to each encoder's with batch_in_encoders; 0 of both adds no weights.
        self.batch_categories = batch_categories
        self.continuous_covariates = continuous_covariates
        self.covariate_width = batch_categories + continuous_covariates
        self.batch_in_encoders = batch_in_encoders and self.covariate_width > 0
        encoder_extra = self.covariate_width if self.batch_in_encoders else 0
        options = likelihood_options or {}
        # A ModuleDict so learned likelihood parameters (variances, dispersions) train and save with the rest.
        self.likelihoods: Mapping[str, Likelihood] = nn.ModuleDict(
            {
                name: make_likelihood(likelihoods.get(name, "sigmoid_mse"), input_sizes[name], **options.get(name, {}))
                for name in self.domain_names
            }
        )
        self.joint_posterior = make_posterior(joint_posterior)
        branch_width = next(iter(private_widths.values()))[-1]
        shared_top = shared_widths[-1] if shared_widths else branch_width
        shared_bottom = shared_widths[0] if shared_widths else latent_size

        self.encoders = nn.ModuleDict(
            {
                name: dense_stack([size + encoder_extra] + list(private_widths[name]))
                for name, size in input_sizes.items()
            }
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
                *dense_stack([shared_bottom + self.covariate_width] + widths),
                nn.Linear(widths[-1], likelihood.output_size(size)),
                likelihood.output_activation(),
            )
        self.reset_parameters()

    @classmethod
    def from_config(cls, model: ModelConfig, input_sizes: Mapping[str, int]) -> SharedLatentModule:
        """The module a run's `model` section describes, for domains of `input_sizes` features."""
        return cls(
            input_sizes,
            {name: model.widths_for(name) for name in input_sizes},
            model.shared_widths,
            model.latent_size,
            {name: model.likelihood_for(name) for name in input_sizes},
            {name: model.likelihood_options_for(name) for name in input_sizes},
            model.joint_posterior,
            model.batch_categories,
            model.batch_in_encoders,
            model.continuous_covariates,
            model.zero_output_layers is not False,  # unset until fit settles it: zeros, its usual value
        )

    def reset_parameters(self) -> None:
        """Glorot-uniform weights and zero biases, as the original's Keras Dense layers started; with
        zero_output_layers, zero weights in the output layer of each domain whose decoder outputs values (Gaussian),
        so the untrained model predicts standardised data's training mean and training moves away from it only as far
        as the data pull."""
        for layer in self.modules():
            if isinstance(layer, nn.Linear):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)
        if self.zero_output_layers:
            for name in self.domain_names:
                if self.likelihoods[name].output_is_value:
                    nn.init.zeros_(self.output_layer(name).weight)

    def output_layer(self, domain: str) -> nn.Linear:
        """The last Linear layer of `domain`'s decoder (before its output activation)."""
        return self.decoders[domain][-2]

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
            groups[name] = [
                *self.encoders[name].parameters(),
                *self.decoders[name].parameters(),
                *self.likelihoods[name].parameters(),
            ]
        return groups

    def branch(self, domain: str, x: torch.Tensor, covariates: torch.Tensor | None = None) -> torch.Tensor:
        """One domain's encoding through its private layers and the shared merge layers (`covariates`:
        covariate rows (batch one-hot, then standardised continuous covariates), read only with batch_in_encoders)."""
        hidden = self.likelihoods[domain].encoder_input(x)
        if self.batch_in_encoders:
            hidden = self._with_covariates(hidden, covariates)
        return self.shared_encoder(self.encoders[domain](hidden))

    def _with_covariates(self, hidden: torch.Tensor, covariates: torch.Tensor | None) -> torch.Tensor:
        """`hidden` with the covariate columns appended (rows repeated for routes stacked in one pass)."""
        if covariates is None:
            raise SharedLatentError(
                f"this model has {self.batch_categories} batch categories and {self.continuous_covariates} continuous"
                " covariates: give them"
            )
        if len(covariates) != len(hidden):
            covariates = covariates.repeat(len(hidden) // len(covariates), 1)
        return torch.cat([hidden, covariates.to(hidden.dtype)], dim=1)

    def heads(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent mean and log-sigma from a (combined) branch output."""
        return self.z_mean(hidden), self.z_log_sigma(hidden)

    def latent(
        self,
        inputs: Mapping[str, torch.Tensor],
        present: Mapping[str, torch.Tensor] | None = None,
        covariates: torch.Tensor | None = None,
    ) -> LatentBatch:
        """The joint posterior of `inputs` (rows where a domain is absent in `present` are left out of the combination)."""
        group = [self.branch(name, x, covariates) for name, x in inputs.items()]
        masks = None if present is None else [[present[name] for name in inputs]]
        return self.joint_posterior.combine(self.heads, [group], masks)

    def decode(
        self, z: torch.Tensor, domains: list[str] | None = None, covariates: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Decoder outputs (likelihood parameters) for each requested domain (`covariates`: the
        covariate rows (batch one-hot, then standardised continuous covariates) to decode as; ignored by a module
        without covariates)."""
        shared = self.shared_decoder(z)
        if self.covariate_width:
            shared = self._with_covariates(shared, covariates)
        return {name: self.decoders[name](shared) for name in (domains or self.domain_names)}

    def reconstruction(self, domain: str, output: torch.Tensor, library: torch.Tensor | None = None) -> torch.Tensor:
        """The point estimate in data space from a decoder output (`library`: observed total counts, count domains only)."""
        likelihood = self.likelihoods[domain]
        return likelihood.mean(likelihood.params(output, library))

    def uses_observed_library(self, domain: str) -> bool:
        """Whether `domain`'s reconstructions scale with each sample's observed total count."""
        return self.likelihoods[domain].uses_observed_library

    def observed_library(self, domain: str, x: torch.Tensor) -> torch.Tensor | None:
        """The library size a count domain's reconstruction of `x` conditions on; None for other domains."""
        return self.likelihoods[domain].observed_library(x)

    def set_library_sizes(self, data: Mapping[str, torch.Tensor]) -> None:
        """Store each count domain's training mean total count, its library when none is observed."""
        for name, counts in data.items():
            self.likelihoods[name].fit_library(counts)

    def loss(
        self,
        batch: Mapping[str, torch.Tensor],
        routes: tuple[Route, ...],
        weights: LossWeights,
        *,
        inputs: Mapping[str, torch.Tensor] | None = None,
        present: Mapping[str, torch.Tensor] | None = None,
        generator: torch.Generator | None = None,
        covariates: torch.Tensor | None = None,
    ) -> LossTerms:
        """The objective of `routes` on `batch` (the clean targets), typed; see nn.objective.route_losses.

        `inputs` are what the encoders see (default `batch`), `present` masks absent samples, and generator None
        decodes the posterior mean instead of a draw; `covariates` are the covariate rows (batch one-hot, then
        standardised continuous covariates)."""
        return route_losses(
            self, batch, routes, weights, inputs=inputs, present=present, generator=generator, covariates=covariates
        )
