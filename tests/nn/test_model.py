import torch

from sharedlatent.names import SHARED_GROUP
from sharedlatent.nn import model
from sharedlatent.nn.model import SharedLatentModule
from sharedlatent.nn.posteriors import kl_to_standard_normal, sample_latent


def build(latent=5):
    return SharedLatentModule({"a": 12, "b": 7}, {"a": [10, 6], "b": [9, 6]}, [4], latent, {})


def test_shapes_of_every_path():
    torch.manual_seed(0)
    module = build()
    a, b = torch.rand(8, 12), torch.rand(8, 7)
    latent = module.latent({"a": a, "b": b})
    mean, log_sigma = latent.mean, latent.log_sigma
    assert mean.shape == log_sigma.shape == (8, 5)
    outputs = module.decode(sample_latent(mean, log_sigma, None))
    assert outputs["a"].shape == (8, 12) and outputs["b"].shape == (8, 7)
    assert ((outputs["a"] >= 0) & (outputs["a"] <= 1)).all()  # sigmoid outputs


def test_joint_encoding_averages_the_shared_branches():
    torch.manual_seed(0)
    module = build()
    a, b = torch.rand(3, 12), torch.rand(3, 7)
    expected = module.heads((module.branch("a", a) + module.branch("b", b)) / 2)
    joint = module.latent({"a": a, "b": b})
    assert torch.allclose(joint.mean, expected[0]) and torch.allclose(joint.log_sigma, expected[1])


def test_layout_matches_the_original_description():
    module = SharedLatentModule({"left": 64, "right": 64}, {"left": [96, 64], "right": [96, 64]}, [32], 16, {})
    widths = [layer.out_features for layer in module.encoders["left"] if isinstance(layer, torch.nn.Linear)]
    assert widths == [96, 64]
    assert module.shared_encoder[0].out_features == 32 and module.z_mean.out_features == 16
    decoder = [layer.out_features for layer in module.decoders["right"] if isinstance(layer, torch.nn.Linear)]
    assert module.shared_decoder[0].out_features == 32 and decoder == [64, 96, 64]


def test_gaussian_output_layers_start_at_zero_so_the_untrained_model_predicts_the_standardised_mean():
    likelihoods = {"a": "gaussian", "b": "sigmoid_mse"}
    torch.manual_seed(0)
    module = SharedLatentModule({"a": 12, "b": 7}, {"a": [10, 6], "b": [9, 6]}, [4], 5, likelihoods)
    assert not module.output_layer("a").weight.any() and module.output_layer("b").weight.abs().min() > 0
    outputs = module.decode(torch.randn(8, 5))
    assert not outputs["a"].any() and outputs["b"].std() > 0  # 0: the mean of standardised data; b a sigmoid
    glorot = SharedLatentModule(
        {"a": 12, "b": 7}, {"a": [10, 6], "b": [9, 6]}, [4], 5, likelihoods, zero_output_layers=False
    )
    assert glorot.output_layer("a").weight.abs().min() > 0


def test_parameter_groups_cover_every_parameter_once():
    module = build()
    grouped = [id(p) for group in module.parameter_groups().values() for p in group]
    assert sorted(grouped) == sorted(id(p) for p in module.parameters())
    assert set(module.parameter_groups()) == {SHARED_GROUP, "a", "b"}
    assert model.SHARED_GROUP is SHARED_GROUP  # still importable from model.py


def test_kl_is_zero_at_the_prior_and_positive_elsewhere():
    zero = torch.zeros(4, 3)
    assert torch.allclose(kl_to_standard_normal(zero, zero), torch.zeros(4))
    reference = torch.distributions.kl_divergence(
        torch.distributions.Normal(torch.full((3,), 0.5), torch.full((3,), 0.7)), torch.distributions.Normal(0.0, 1.0)
    ).sum()
    value = kl_to_standard_normal(torch.full((1, 3), 0.5), torch.full((1, 3), 0.7).log())
    assert torch.allclose(value, reference.unsqueeze(0), atol=1e-6)
