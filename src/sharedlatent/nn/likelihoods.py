"""Likelihoods: how a decoder's output becomes distribution parameters, a loss, a point estimate and samples.

One class per likelihood, picked by name from `model.domains.<name>.likelihood`. Every class offers:
`output_size(features)` (decoder outputs it needs), `output_activation()`, `params(output, library)` (named
tensors), `log_prob(x, params)` (per sample, summed over features), `loss(target, output)` (the training loss
per sample), `mean(params)` (the point reconstruction in data space) and `sample(params, generator)`.
Count likelihoods take raw counts: their encoder sees log1p(counts) (`encoder_input`), set inside the model so
the loss can use the untransformed counts and their library sizes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F  # noqa: N812 (the usual torch spelling)
from torch import nn

from sharedlatent import names
from sharedlatent.errors import SharedLatentError

if TYPE_CHECKING:
    import numpy as np

Params = dict[str, torch.Tensor]
EPS = 1e-8  # keeps logs of means finite when a softmax entry underflows
MIN_VARIANCE = 1e-4  # floor of learned Gaussian variances, so a constant feature cannot drive the loss to -inf
LIBRARY_MODES = names.LIBRARY_MODES


class Likelihood(nn.Module):
    """Shared defaults; subclasses set the math. An nn.Module so learned per-feature parameters save with the model."""

    name = "base"
    support: tuple[float | None, float | None] = (None, None)  # noisy encoder inputs are clipped into this range

    @property
    def output_is_value(self) -> bool:
        """Whether the decoder output is the predicted value itself, from names.VALUE_OUTPUT_LIKELIHOODS."""
        return self.name in names.VALUE_OUTPUT_LIKELIHOODS

    @property
    def kind(self) -> str:
        """What evaluation treats the target as ("continuous", "binary" or "counts"), from names.LIKELIHOOD_KINDS."""
        return names.LIKELIHOOD_KINDS[self.name]

    @property
    def uses_observed_library(self) -> bool:
        """Whether reconstructions scale with each sample's observed total count (count likelihoods only)."""
        return False

    def fit_library(self, counts: torch.Tensor) -> None:
        """Learn what the likelihood needs of the training data (the mean library size for counts); else nothing."""

    def output_size(self, features: int) -> int:
        """Decoder outputs for `features` data features."""
        return features

    def output_activation(self) -> nn.Module:
        return nn.Identity()

    def encoder_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the encoder sees of data `x` (identity except for counts)."""
        return x

    def params(self, output: torch.Tensor, library: torch.Tensor | None = None) -> Params:
        raise NotImplementedError

    def log_prob(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        raise NotImplementedError

    def loss(self, target: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """Per-sample negative log-likelihood of `target` under the decoder output."""
        return -self.log_prob(target, self.params(output, self.observed_library(target)))

    def observed_library(self, target: torch.Tensor) -> torch.Tensor | None:
        """The library size a loss conditions on (counts only)."""
        return None

    def mean(self, params: Params | torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def sample(self, params: Params, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def check_data(self, values: np.ndarray, domain: str) -> None:
        """Raise SharedLatentError when the (preprocessed) training values cannot come from this likelihood."""


UNIT_TOLERANCE = 1e-5  # float rounding of data scaled to [0, 1]


class SigmoidSquaredError(Likelihood):
    """The original's choice: sigmoid outputs in [0, 1] scored by squared error summed over features.

    As a density this is a Normal with variance 1/2 around the sigmoid output: log_prob is that density, and the
    training loss is the squared error itself (the negative log_prob minus a constant), exactly as the original."""

    name = "sigmoid_mse"
    support = (0.0, 1.0)  # inputs live in [0, 1], so noisy inputs are clipped there

    def output_activation(self) -> nn.Module:
        return nn.Sigmoid()

    def params(self, output: torch.Tensor, library: torch.Tensor | None = None) -> Params:
        return {"mean": output}

    def log_prob(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        return -((x - params["mean"]).square() + 0.5 * math.log(math.pi)).sum(dim=1)

    def loss(self, target: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """Per-sample loss: squared error summed over features."""
        return F.mse_loss(output, target, reduction="none").sum(dim=1)  # one fused kernel each way, same values

    def mean(self, params: Params | torch.Tensor) -> torch.Tensor:
        """The point reconstruction."""
        return params["mean"] if isinstance(params, dict) else params

    def check_data(self, values: np.ndarray, domain: str) -> None:
        low, high = float(values.min()), float(values.max())
        if low < -UNIT_TOLERANCE or high > 1 + UNIT_TOLERANCE:
            raise SharedLatentError(
                f"domain {domain!r} has values from {low:g} to {high:g} but the sigmoid_mse likelihood outputs [0, 1]; "
                f"set model.domains.{domain}.preprocessing (e.g. 'minmax_per_feature') or a likelihood that fits the data"
            )

    def sample(self, params: Params, generator: torch.Generator | None = None) -> torch.Tensor:
        mean = params["mean"]
        return mean + math.sqrt(0.5) * torch.randn(
            mean.shape, generator=generator, device=mean.device, dtype=mean.dtype
        )


class Gaussian(Likelihood):
    """Normal with the decoder's mean and a learned per-feature variance (log-parameterised, floored at MIN_VARIANCE)."""

    name = "gaussian"

    def __init__(self, features: int) -> None:
        super().__init__()
        self.log_variance = nn.Parameter(torch.zeros(features))

    def variance(self) -> torch.Tensor:
        return self.log_variance.exp() + MIN_VARIANCE

    def params(self, output: torch.Tensor, library: torch.Tensor | None = None) -> Params:
        return {"mean": output, "variance": self.variance().expand_as(output)}

    def log_prob(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        mean, variance = params["mean"], params["variance"]
        return (-0.5 * ((x - mean).square() / variance + variance.log() + math.log(2 * math.pi))).sum(dim=1)

    def mean(self, params: Params | torch.Tensor) -> torch.Tensor:
        return params["mean"]

    def sample(self, params: Params, generator: torch.Generator | None = None) -> torch.Tensor:
        mean = params["mean"]
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + params["variance"].sqrt() * noise


class GaussianFixed(Gaussian):
    """Normal with the decoder's mean and a fixed variance (`variance`, default 1: half the squared error plus a constant)."""

    name = "gaussian_fixed"

    def __init__(self, features: int, variance: float = 1.0) -> None:
        Likelihood.__init__(self)
        self.register_buffer("fixed_variance", torch.full((features,), float(variance)), persistent=False)

    def variance(self) -> torch.Tensor:
        return self.fixed_variance


class Bernoulli(Likelihood):
    """Binary data (mutation calls, accessibility, binarised pixels) from decoder logits; values in [0, 1] are allowed."""

    name = "bernoulli"
    support = (0.0, 1.0)

    def params(self, output: torch.Tensor, library: torch.Tensor | None = None) -> Params:
        return {"logits": output}

    def log_prob(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        logits = params["logits"]
        return (x * logits - F.softplus(logits)).sum(dim=1)

    def mean(self, params: Params | torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(params["logits"])

    def sample(self, params: Params, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.bernoulli(torch.sigmoid(params["logits"]), generator=generator)

    def check_data(self, values: np.ndarray, domain: str) -> None:
        low, high = float(values.min()), float(values.max())
        if low < 0 or high > 1:
            raise SharedLatentError(
                f"domain {domain!r} uses the bernoulli likelihood, which needs values in [0, 1], got {low:g} to {high:g}"
            )


class NegativeBinomial(Likelihood):
    """Counts: mean = softmax over features times the library size, with a learned per-feature inverse dispersion.

    library "observed" uses each sample's total count (from the target when scoring, from the input when
    reconstructing a domain from itself, the training mean otherwise); "learned" decodes a log library size from
    the latent point, as an offset around the training mean."""

    name = "negative_binomial"
    support = (0.0, None)

    def __init__(self, features: int, library: str = "observed") -> None:
        super().__init__()
        if library not in LIBRARY_MODES:
            raise SharedLatentError(f"library must be one of {LIBRARY_MODES}, got {library!r}")
        self.library = library
        self.log_theta = nn.Parameter(torch.zeros(features))  # log inverse dispersion
        self.register_buffer("mean_library", torch.ones(()))  # training mean total count, set by fit

    def output_size(self, features: int) -> int:
        return self.values_per_feature() * features + (self.library == "learned")

    def values_per_feature(self) -> int:
        return 1

    def encoder_input(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log1p(x)

    def observed_library(self, target: torch.Tensor) -> torch.Tensor | None:
        return target.sum(dim=1, keepdim=True) if self.library == "observed" else None

    @property
    def uses_observed_library(self) -> bool:
        return self.library == "observed"

    def fit_library(self, counts: torch.Tensor) -> None:
        """Remember the mean total count of the training samples (the default library when none is observed)."""
        if counts.shape[0]:
            self.mean_library.fill_(float(counts.sum(dim=1).mean().clamp_min(1.0)))

    def split_output(self, output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Gene logits, dropout logits (ZINB) and log library (learned mode) from the decoder's columns."""
        features = self.log_theta.shape[0]
        logits = output[:, :features]
        dropout = output[:, features : 2 * features] if self.values_per_feature() == 2 else None
        log_library = output[:, -1:] if self.library == "learned" else None
        return logits, dropout, log_library

    def params(self, output: torch.Tensor, library: torch.Tensor | None = None) -> Params:
        logits, dropout, log_library = self.split_output(output)
        if log_library is not None:
            library = (log_library + self.mean_library.log()).exp()
        elif library is None:
            library = self.mean_library.expand(output.shape[0], 1)
        # theta stays one value per feature (broadcast): its gamma-function terms are then computed once per feature
        params = {"mu": torch.softmax(logits, dim=1) * library, "theta": self.log_theta.exp()}
        if dropout is not None:
            params["dropout_logits"] = dropout
        return params

    def log_prob(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        return nb_log_prob_rows(x, params["mu"], params["theta"])

    def mean(self, params: Params | torch.Tensor) -> torch.Tensor:
        return params["mu"]

    def sample(self, params: Params, generator: torch.Generator | None = None) -> torch.Tensor:
        return gamma_poisson(params["mu"], params["theta"], generator)

    def check_data(self, values: np.ndarray, domain: str) -> None:
        if float(values.min()) < 0:
            raise SharedLatentError(
                f"domain {domain!r} uses the {self.name} likelihood, which needs counts >= 0, got a minimum of {float(values.min()):g}"
            )


class ZeroInflatedNegativeBinomial(NegativeBinomial):
    """Negative binomial mixed with a point mass at zero, with a dropout logit per feature per sample from the decoder."""

    name = "zinb"

    def values_per_feature(self) -> int:
        return 2

    def log_prob(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        mu, theta, pi = params["mu"], params["theta"], params["dropout_logits"]
        log_nb = nb_log_prob(x, mu, theta)
        log_nb_zero = theta * (torch.log(theta + EPS) - torch.log(theta + mu + EPS))
        # log(sigmoid(pi) + sigmoid(-pi) * NB(0)) at zero, log(sigmoid(-pi)) + log NB(x) elsewhere
        at_zero = torch.logaddexp(-F.softplus(-pi), -F.softplus(pi) + log_nb_zero)
        elsewhere = -F.softplus(pi) + log_nb
        return torch.where(x < 0.5, at_zero, elsewhere).sum(dim=1)

    def mean(self, params: Params | torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(-params["dropout_logits"]) * params["mu"]

    def sample(self, params: Params, generator: torch.Generator | None = None) -> torch.Tensor:
        counts = gamma_poisson(params["mu"], params["theta"], generator)
        keep = torch.bernoulli(torch.sigmoid(-params["dropout_logits"]), generator=generator)
        return counts * keep


def nb_log_prob(x: torch.Tensor, mu: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Element-wise log NB(x; mean mu, inverse dispersion theta)."""
    log_theta_mu = torch.log(theta + mu + EPS)
    return (
        theta * (torch.log(theta + EPS) - log_theta_mu)
        + x * (torch.log(mu + EPS) - log_theta_mu)
        + torch.lgamma(x + theta)
        - torch.lgamma(theta)
        - torch.lgamma(x + 1)
    )


def nb_log_prob_rows(x: torch.Tensor, mu: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Per-row sums of log NB(x; mu, theta) for per-feature `theta`; the terms that vanish where x is 0 are
    evaluated at the nonzero counts only, which is most of the work saved on sparse counts (lgamma, digamma)."""
    if 2 * int(torch.count_nonzero(x)) > x.numel():  # dense counts: the element-wise form is cheaper than gathering
        return nb_log_prob(x, mu, theta).sum(dim=1)
    rows, columns = x.nonzero(as_tuple=True)
    log_theta_mu = torch.log(theta + mu + EPS)
    # sum_j theta_j log theta_j - theta_j log(theta_j + mu_ij): every entry, zero or not
    everywhere = (theta * torch.log(theta + EPS)).sum() - (log_theta_mu * theta).sum(dim=1)
    counts, theta_at = x[rows, columns], theta[columns]
    at_counts = (
        counts * (torch.log(mu[rows, columns] + EPS) - log_theta_mu[rows, columns])
        + torch.lgamma(counts + theta_at)
        - torch.lgamma(theta_at)
        - torch.lgamma(counts + 1)
    )
    return everywhere.index_add(0, rows, at_counts)


def gamma_poisson(mu: torch.Tensor, theta: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """NB draws as Poisson(Gamma(shape theta, mean mu)), seeded by `generator`."""
    rate = torch._standard_gamma(theta.expand_as(mu).contiguous(), generator=generator) * (mu / theta)
    return torch.poisson(rate, generator=generator)


_CLASSES = (SigmoidSquaredError, Gaussian, GaussianFixed, Bernoulli, NegativeBinomial, ZeroInflatedNegativeBinomial)
LIKELIHOODS: dict[str, type[Likelihood]] = {
    name: next(c for c in _CLASSES if c.name == name) for name in names.LIKELIHOODS
}
NEEDS_FEATURES = ("gaussian", "gaussian_fixed", "negative_binomial", "zinb")


def make_likelihood(name: str, features: int | None = None, **options: float | str | None) -> Likelihood:
    """A likelihood by name; `features` is needed by those with per-feature parameters, `options` are its settings."""
    if name not in LIKELIHOODS:
        raise SharedLatentError(f"unknown likelihood {name!r}; choose one of {', '.join(LIKELIHOODS)}")
    options = {key: value for key, value in options.items() if value is not None}
    if name not in NEEDS_FEATURES:
        if options:
            raise SharedLatentError(f"likelihood {name!r} takes no options, got {sorted(options)}")
        return LIKELIHOODS[name]()
    if features is None:
        raise SharedLatentError(f"likelihood {name!r} needs the number of features")
    try:
        return LIKELIHOODS[name](features, **options)
    except TypeError:
        raise SharedLatentError(f"likelihood {name!r} does not take options {sorted(options)}") from None
