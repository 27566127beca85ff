"""Each likelihood's log-probability against a reference (torch.distributions or scipy), its mean and its samples."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from sharedlatent import names
from sharedlatent.errors import SharedLatentError
from sharedlatent.nn.likelihoods import LIKELIHOODS, make_likelihood, nb_log_prob, nb_log_prob_rows


def counts_and_output(features=6, rows=5, extra=0, seed=0):
    generator = torch.Generator().manual_seed(seed)
    counts = torch.poisson(torch.full((rows, features), 4.0), generator=generator)
    output = torch.randn(rows, features * (1 + extra), generator=generator)
    return counts, output


def test_names_and_module_name_the_same_likelihoods():
    assert tuple(LIKELIHOODS) == names.LIKELIHOODS
    for name in names.LIKELIHOODS:
        likelihood = make_likelihood(name, 3)
        assert likelihood.kind == names.LIKELIHOOD_KINDS[name]
        assert likelihood.uses_observed_library == (name in names.COUNT_LIKELIHOODS)
        likelihood.fit_library(torch.ones(2, 3))  # declared on every likelihood; a no-op where it means nothing


def test_sigmoid_mse_keeps_the_original_loss_and_is_a_normal_with_variance_half():
    likelihood = make_likelihood("sigmoid_mse")
    target, output = torch.rand(4, 5), torch.rand(4, 5)
    assert torch.equal(likelihood.loss(target, output), (output - target).square().sum(dim=1))
    reference = torch.distributions.Normal(output, math.sqrt(0.5)).log_prob(target).sum(1)
    assert torch.allclose(likelihood.log_prob(target, likelihood.params(output)), reference, atol=1e-5)
    assert likelihood.mean(output) is output and likelihood.support == (0.0, 1.0)


@pytest.mark.parametrize("name", ["gaussian", "gaussian_fixed"])
def test_gaussian_matches_torch_normal(name):
    likelihood = make_likelihood(name, 5, **({"variance": 0.3} if name == "gaussian_fixed" else {}))
    if name == "gaussian":
        with torch.no_grad():
            likelihood.log_variance.copy_(torch.linspace(-1, 1, 5))
    x, mean = torch.randn(4, 5), torch.randn(4, 5)
    params = likelihood.params(mean)
    expected_variance = torch.full((5,), 0.3) if name == "gaussian_fixed" else torch.linspace(-1, 1, 5).exp() + 1e-4
    assert torch.allclose(params["variance"][0], expected_variance)
    reference = torch.distributions.Normal(mean, expected_variance.sqrt()).log_prob(x).sum(1)
    assert torch.allclose(likelihood.log_prob(x, params), reference, atol=1e-5)
    assert torch.allclose(likelihood.loss(x, mean), -reference, atol=1e-5)
    assert torch.equal(likelihood.mean(params), mean)


def test_gaussian_variance_is_a_trained_parameter():
    likelihood = make_likelihood("gaussian", 3)
    assert [name for name, _ in likelihood.named_parameters()] == ["log_variance"]
    assert list(make_likelihood("gaussian_fixed", 3).parameters()) == []


def test_bernoulli_matches_torch_bernoulli():
    likelihood = make_likelihood("bernoulli")
    x = torch.bernoulli(torch.full((6, 4), 0.4), generator=torch.Generator().manual_seed(1))
    logits = torch.randn(6, 4)
    reference = torch.distributions.Bernoulli(logits=logits).log_prob(x).sum(1)
    assert torch.allclose(likelihood.log_prob(x, likelihood.params(logits)), reference, atol=1e-5)
    assert torch.allclose(likelihood.mean(likelihood.params(logits)), torch.sigmoid(logits))


@torch.no_grad()
def test_negative_binomial_matches_torch_and_scipy():
    likelihood = make_likelihood("negative_binomial", 6)
    likelihood.log_theta.copy_(torch.linspace(-1.0, 2.0, 6))
    counts, output = counts_and_output()
    params = likelihood.params(output, counts.sum(1, keepdim=True))
    mu, theta = params["mu"], params["theta"]
    assert torch.allclose(mu.sum(1), counts.sum(1), rtol=1e-5)  # softmax times the observed library size
    reference = (
        torch.distributions.NegativeBinomial(total_count=theta, logits=mu.log() - theta.log()).log_prob(counts).sum(1)
    )
    ours = likelihood.log_prob(counts, params)
    assert torch.allclose(ours, reference, rtol=1e-4, atol=1e-4)
    scipy_reference = stats.nbinom.logpmf(counts.numpy(), theta.numpy(), (theta / (theta + mu)).numpy()).sum(1)
    np.testing.assert_allclose(ours.numpy(), scipy_reference, rtol=1e-4, atol=1e-4)
    # the training loss conditions on the target's own library size
    assert torch.allclose(likelihood.loss(counts, output), -ours, rtol=1e-5)


@torch.no_grad()
def test_zinb_matches_the_mixture_formula_with_scipy():
    likelihood = make_likelihood("zinb", 6)
    likelihood.log_theta.copy_(torch.linspace(0.0, 1.5, 6))
    counts, output = counts_and_output(extra=1, seed=3)
    counts[:, :2] = 0.0  # plenty of zeros
    params = likelihood.params(output, counts.sum(1, keepdim=True))
    mu, theta = params["mu"].numpy().astype(np.float64), params["theta"].numpy().astype(np.float64)
    pi = 1 / (1 + np.exp(-params["dropout_logits"].numpy().astype(np.float64)))
    x = counts.numpy()
    nb = stats.nbinom.pmf(x, theta, theta / (theta + mu))
    reference = np.log(np.where(x == 0, pi + (1 - pi) * nb, (1 - pi) * nb)).sum(1)
    np.testing.assert_allclose(likelihood.log_prob(counts, params).numpy(), reference, rtol=1e-4, atol=1e-4)
    assert torch.allclose(likelihood.mean(params), (1 - torch.sigmoid(params["dropout_logits"])) * params["mu"])


def test_count_layouts_and_library_modes():
    assert make_likelihood("negative_binomial", 10).output_size(10) == 10
    assert make_likelihood("zinb", 10).output_size(10) == 20
    learned = make_likelihood("negative_binomial", 10, library="learned")
    assert learned.output_size(10) == 11
    learned.fit_library(torch.full((3, 10), 50.0))  # mean total 500
    output = torch.zeros(2, 11)
    assert torch.allclose(learned.params(output)["mu"].sum(1), torch.full((2,), 500.0))
    observed = make_likelihood("negative_binomial", 10)
    observed.fit_library(torch.full((3, 10), 20.0))
    assert torch.allclose(observed.params(torch.zeros(2, 10))["mu"].sum(1), torch.full((2,), 200.0))
    assert torch.allclose(observed.encoder_input(torch.tensor([[0.0, math.e - 1]])), torch.tensor([[0.0, 1.0]]))
    with pytest.raises(SharedLatentError, match="library must be one of"):
        make_likelihood("zinb", 3, library="median")


@torch.no_grad()
@pytest.mark.parametrize("name", sorted(LIKELIHOODS))
def test_samples_are_seeded_and_have_the_right_mean(name):
    likelihood, n = make_likelihood(name, 3), 4000
    output = (
        torch.randn(1, likelihood.output_size(3), generator=torch.Generator().manual_seed(0)).expand(n, -1).contiguous()
    )
    params = likelihood.params(output, torch.full((n, 1), 30.0))
    first = likelihood.sample(params, torch.Generator().manual_seed(0))
    again = likelihood.sample(params, torch.Generator().manual_seed(0))
    assert torch.equal(first, again) and first.shape == (n, 3)
    # 5 standard errors (0.08 standard deviations at n = 4000); seeds 0 to 4 stayed under 3
    standard_error = first.std(0) / math.sqrt(n)
    assert ((first.mean(0) - likelihood.mean(params)[0]).abs() <= 5 * standard_error).all()


def test_unknown_likelihood_and_options_are_errors():
    with pytest.raises(SharedLatentError, match="unknown likelihood"):
        make_likelihood("poisson", 3)
    with pytest.raises(SharedLatentError, match="takes no options"):
        make_likelihood("bernoulli", 3, variance=2.0)
    with pytest.raises(SharedLatentError, match="bernoulli likelihood, which needs values in"):
        make_likelihood("bernoulli").check_data(np.array([[0.0, 2.0]]), "calls")
    with pytest.raises(SharedLatentError, match="needs counts >= 0"):
        make_likelihood("negative_binomial", 2).check_data(np.array([[-1.0, 2.0]]), "rna")


def test_sparse_negative_binomial_sums_match_the_elementwise_form_and_its_gradients():
    # Most single-cell counts are zero; the row sums skip the terms that vanish there, and must lose nothing.
    generator = torch.Generator().manual_seed(0)
    x = torch.poisson(torch.full((50, 40), 3.0), generator=generator) * (torch.rand(50, 40, generator=generator) < 0.1)
    mu = (torch.rand(50, 40, generator=generator) * 5).requires_grad_()
    theta = (torch.rand(40, generator=generator) * 3 + 0.1).requires_grad_()
    sparse = nb_log_prob_rows(x, mu, theta)
    dense = nb_log_prob(x, mu, theta).sum(dim=1)
    torch.testing.assert_close(sparse, dense, rtol=1e-5, atol=1e-4)
    grads = [torch.autograd.grad(value.sum(), (mu, theta)) for value in (sparse, dense)]
    for ours, reference in zip(*grads, strict=True):
        torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-4)
