"""Optional loss terms: cross-reconstruction weight, cycle consistency, KL warm-up, and their config checks."""

import pytest
import torch

from sharedlatent.config import RunConfig, TrainConfig
from sharedlatent.errors import SharedLatentError
from sharedlatent.nn.model import SharedLatentModule
from sharedlatent.nn.objective import LossWeights, kl_weight_at
from sharedlatent.training.schedules import joint_schedule


def losses(config: TrainConfig):
    torch.manual_seed(0)
    module = SharedLatentModule({"a": 6, "b": 5}, {"a": [8], "b": [8]}, [4], 2, {})
    routes = joint_schedule(["a", "b"], 1)[0].phases[0].routes
    batch = {
        "a": torch.rand(7, 6, generator=torch.Generator().manual_seed(1)),
        "b": torch.rand(7, 5, generator=torch.Generator().manual_seed(2)),
    }
    terms = module.loss(batch, routes, LossWeights.from_config(config))
    flat = {(sources, target): value for (sources, target), value in terms.reconstruction.items()}
    flat.update({("cycle", *key): value for key, value in terms.cycle.items()})
    flat.update({("kl", *key): value for key, value in terms.kl.items()})
    return terms.total.item(), {key: value.item() for key, value in flat.items()}


def test_cross_weight_scales_only_cross_terms():
    full, terms = losses(TrainConfig())
    cross = terms[(("a",), "b")] + terms[(("b",), "a")]
    zero, zero_terms = losses(TrainConfig(cross_weight=0.0))
    assert zero_terms == terms  # terms are reported unweighted
    assert zero == pytest.approx(full - cross, rel=1e-5)
    assert losses(TrainConfig(cross_weight=2.0))[0] == pytest.approx(full + cross, rel=1e-5)


def test_cycle_terms_appear_only_when_weighted():
    base, terms = losses(TrainConfig())
    assert not any(key[0] == "cycle" for key in terms)
    cycled, cycle_terms = losses(TrainConfig(cycle_weight=0.5))
    assert {("cycle", "a", "b"), ("cycle", "b", "a")} <= set(cycle_terms)
    assert cycled == pytest.approx(
        base + 0.5 * (cycle_terms[("cycle", "a", "b")] + cycle_terms[("cycle", "b", "a")]), rel=1e-5
    )


def test_kl_warm_up_is_linear_then_flat():
    config = TrainConfig(beta=2.0, beta_warmup_epochs=4)
    assert [kl_weight_at(config, epoch) for epoch in range(6)] == [0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    assert kl_weight_at(TrainConfig(beta=0.7), 0) == 0.7


@pytest.mark.parametrize(
    "values, message",
    [
        ({"train": {"cycle_weight": -1.0}}, "cycle_weight must be non-negative"),
        ({"train": {"beta_warmup_epochs": -2}}, "beta_warmup_epochs must be non-negative"),
        ({"model": {"joint_posterior": "sum"}}, "joint_posterior must be one of"),
        (
            {"model": {"domains": {"rna": {"likelihood": "zinb", "preprocessing": "log1p"}}}},
            "preprocessing must be 'none'",
        ),
        (
            {"model": {"domains": {"x": {"likelihood": "gaussian", "variance": 2.0}}}},
            "applies only to likelihood 'gaussian_fixed'",
        ),
        ({"model": {"domains": {"x": {"likelihood": "bernoulli", "library": "learned"}}}}, "library applies only to"),
        (
            {"model": {"domains": {"x": {"likelihood": "negative_binomial", "library": "sum"}}}},
            "library must be one of",
        ),
    ],
)
def test_bad_settings_are_errors(values, message):
    with pytest.raises(SharedLatentError, match=message):
        RunConfig.from_dict(values)


def test_new_keys_round_trip_through_toml(tmp_path):
    config = RunConfig.from_dict(
        {
            "model": {
                "joint_posterior": "moe",
                "domains": {
                    "rna": {"likelihood": "zinb", "library": "learned"},
                    "adt": {"likelihood": "gaussian_fixed", "variance": 0.5},
                },
            },
            "train": {"cross_weight": 0.5, "cycle_weight": 0.1, "beta_warmup_epochs": 10},
        }
    )
    path = tmp_path / "run.toml"
    path.write_text(config.to_toml())
    assert RunConfig.from_toml(path) == config
    assert "library" not in RunConfig().to_toml()
