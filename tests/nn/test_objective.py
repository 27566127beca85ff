"""The objective worked by hand: the original's KL expression and its once-per-decoded-domain weighting."""

import math

import pytest
import torch

from sharedlatent.config import TrainConfig
from sharedlatent.nn.model import SharedLatentModule
from sharedlatent.nn.objective import LossWeights, Route
from sharedlatent.nn.posteriors import kl_to_standard_normal


def test_original_kl_expression_by_hand():
    mean, log_sigma = torch.tensor([[0.5, -1.0]]), torch.tensor([[0.2, -0.3]])
    # the original wrote 1 + log_sigma - mean^2 - exp(log_sigma)^2, with log_sigma where 2 log_sigma belongs
    by_hand = -0.5 * sum(1 + s - m * m - math.exp(2 * s) for m, s in ((0.5, 0.2), (-1.0, -0.3)))
    exact = -0.5 * sum(1 + 2 * s - m * m - math.exp(2 * s) for m, s in ((0.5, 0.2), (-1.0, -0.3)))
    assert kl_to_standard_normal(mean, log_sigma, "seed").item() == pytest.approx(by_hand, rel=1e-6)
    assert kl_to_standard_normal(mean, log_sigma, "original").item() == pytest.approx(by_hand, rel=1e-6)
    assert kl_to_standard_normal(mean, log_sigma, "exact").item() == pytest.approx(exact, rel=1e-6)


@pytest.mark.parametrize("formula", ["seed", "original"])
def test_original_kl_is_added_once_per_decoded_domain(formula):
    torch.manual_seed(0)
    module = SharedLatentModule({"a": 3, "b": 2}, {"a": [4], "b": [4]}, [], 2, {})
    batch = {"a": torch.rand(5, 3), "b": torch.rand(5, 2)}
    beta = 0.3
    weights = LossWeights.from_config(TrainConfig(kl_formula=formula, beta=beta))
    total = module.loss(batch, (Route(("a", "b"), ("a", "b")),), weights).total
    latent = module.latent(batch)
    m, s = latent.mean.detach(), latent.log_sigma.detach()
    kl = (-0.5 * (1 + s - m * m - (2 * s).exp()).sum(1)).mean()
    outputs = module.decode(m)
    errors = sum(((outputs[name] - batch[name]) ** 2).sum() for name in ("a", "b"))
    assert total.item() == pytest.approx((errors + 2 * beta * kl).item(), rel=1e-5)


def test_loss_terms_are_keyed_by_domain_tuples_and_add_up_to_the_total():
    torch.manual_seed(0)
    module = SharedLatentModule({"a": 3, "b": 2}, {"a": [4], "b": [4]}, [], 2, {})
    batch = {"a": torch.rand(6, 3), "b": torch.rand(6, 2)}
    routes = (Route(("a", "b"), ("a", "b")), Route(("a",), ("a", "b")), Route(("b",), ("a", "b")))
    weights = LossWeights(beta=0.7, cross_weight=0.4, cycle_weight=0.3)
    terms = module.loss(batch, routes, weights)
    assert set(terms.reconstruction) == {(r.sources, t) for r in routes for t in r.targets}
    assert set(terms.kl) == {("a", "b"), ("a",), ("b",)}
    assert set(terms.cycle) == {("a", "b"), ("b", "a")}
    for key in [*terms.reconstruction, *terms.kl, *terms.cycle]:
        flat = [key[0], key[1]] if isinstance(key[0], tuple) else list(key)
        assert all(isinstance(part, (str, tuple)) for part in flat)
    expected = sum(
        (weights.cross_weight if target not in sources else 1.0) * value
        for (sources, target), value in terms.reconstruction.items()
    )
    expected = expected + weights.cycle_weight * sum(terms.cycle.values()) + weights.beta * sum(terms.kl.values())
    assert terms.total.item() == pytest.approx(expected.item(), rel=1e-5)


def test_loss_weights_read_the_config_and_canonical_names():
    config = TrainConfig(beta=2.0, cross_weight=0.5, cycle_weight=0.1, kl_formula="original")
    assert LossWeights.from_config(config) == LossWeights(2.0, 0.5, 0.1, "original")
    assert LossWeights.from_config(config, beta=0.5).beta == 0.5
