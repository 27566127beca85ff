"""Joint posteriors: closed forms for the product of experts, the mixture's sampling and KL, masks, and names."""

import numpy as np
import pytest
import torch

from sharedlatent.errors import SharedLatentError
from sharedlatent.names import JOINT_POSTERIORS
from sharedlatent.nn.posteriors import POSTERIORS, kl_to_standard_normal, make_posterior


def heads_as_is(hidden):
    """Stand-in latent heads that read a branch output as [mean | log_sigma], so experts are set directly."""
    half = hidden.shape[1] // 2
    return hidden[:, :half], hidden[:, half:]


def expert(mean, log_sigma):
    return torch.cat(
        [torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(log_sigma, dtype=torch.float32)], dim=1
    )


def test_config_lists_every_posterior():
    assert set(JOINT_POSTERIORS) == set(POSTERIORS)
    with pytest.raises(SharedLatentError, match="unknown joint posterior"):
        make_posterior("sum")


def test_product_of_one_expert_and_the_prior_is_the_closed_form():
    mean, log_sigma = torch.tensor([[1.0, -2.0, 0.5]]), torch.tensor([[0.0, -1.0, 0.7]])
    latent = make_posterior("poe").combine(heads_as_is, [[expert(mean, log_sigma)]])
    precision = torch.exp(-2 * log_sigma)
    assert torch.allclose(latent.mean, mean * precision / (1 + precision))
    assert torch.allclose(latent.log_sigma, -0.5 * torch.log(1 + precision))
    # unit-variance expert: mean halves, variance halves
    unit = make_posterior("poe").combine(heads_as_is, [[expert([[2.0]], [[0.0]])]])
    assert torch.allclose(unit.mean, torch.tensor([[1.0]])) and torch.allclose(
        unit.log_sigma.exp() ** 2, torch.tensor([[0.5]])
    )


def test_product_of_two_experts_and_masks():
    a, b = expert([[1.0], [1.0]], [[0.0], [0.0]]), expert([[3.0], [3.0]], [[np.log(0.5)], [np.log(0.5)]])
    latent = make_posterior("poe").combine(
        heads_as_is, [[a, b]], [[torch.tensor([1.0, 1.0]), torch.tensor([1.0, 0.0])]]
    )
    # row 0: precisions 1 (prior), 1, 4 -> mean (1 + 12) / 6; row 1: b absent -> (prior x a) = 0.5
    assert torch.allclose(latent.mean[:, 0], torch.tensor([13 / 6, 0.5]))
    assert torch.allclose(latent.log_sigma[:, 0], -0.5 * torch.log(torch.tensor([6.0, 2.0])))


def test_mean_of_branches_is_the_original_average_and_respects_masks():
    a, b = torch.randn(4, 6), torch.randn(4, 6)
    latent = make_posterior("mean").combine(heads_as_is, [[a, b]])
    expected = heads_as_is(torch.stack([a, b]).mean(0))
    assert torch.equal(latent.mean, expected[0]) and torch.equal(latent.log_sigma, expected[1])
    masked = make_posterior("mean").combine(
        heads_as_is, [[a, b]], [[torch.ones(4), torch.tensor([1.0, 0.0, 1.0, 0.0])]]
    )
    assert torch.allclose(masked.mean[1], a[1, :3]) and torch.allclose(masked.mean[0], expected[0][0])
    assert torch.allclose(masked.kl(), kl_to_standard_normal(masked.mean, masked.log_sigma))


def test_mixture_samples_from_present_experts_and_averages_their_kl():
    rows = 2000
    a = expert(torch.full((rows, 1), -5.0), torch.full((rows, 1), -4.0))
    b = expert(torch.full((rows, 1), 5.0), torch.full((rows, 1), -4.0))
    posterior = make_posterior("moe")
    latent = posterior.combine(heads_as_is, [[a, b]])
    z = latent.sample(torch.Generator().manual_seed(0))[:, 0]
    assert ((z - 5).abs() < 0.1).logical_or((z + 5).abs() < 0.1).all()  # each z from one expert
    assert 0.45 < (z > 0).float().mean() < 0.55  # chosen uniformly
    assert torch.allclose(latent.mean, torch.zeros(rows, 1), atol=1e-6)  # the mixture mean
    kl_a = kl_to_standard_normal(torch.tensor([[-5.0]]), torch.tensor([[-4.0]]))
    assert torch.allclose(latent.kl(), kl_a.expand(rows))  # both experts have the same KL here
    only_b = posterior.combine(heads_as_is, [[a, b]], [[torch.zeros(rows), torch.ones(rows)]])
    assert (only_b.sample(torch.Generator().manual_seed(1)) > 4).all()
    assert torch.allclose(only_b.mean, torch.full((rows, 1), 5.0))


def test_single_expert_is_its_own_gaussian_under_mean_and_moe():
    branch = torch.randn(5, 4)
    for name in ("mean", "moe"):
        latent = make_posterior(name).combine(heads_as_is, [[branch]])
        assert torch.equal(latent.mean, branch[:, :2]) and torch.equal(latent.log_sigma, branch[:, 2:])


def test_paths_are_stacked_in_order():
    a, b = torch.randn(3, 4), torch.randn(3, 4)
    for name in POSTERIORS:
        latent = make_posterior(name).combine(heads_as_is, [[a, b], [a], [b]])
        assert latent.mean.shape == (9, 2) and latent.kl().shape == (9,)
        alone = make_posterior(name).combine(heads_as_is, [[b]])
        assert torch.allclose(latent.mean[6:], alone.mean)
