import numpy as np

from sharedlatent.auto_settings import choose_domain_settings, count_likelihood_warning, looks_like_counts
from sharedlatent.evaluation.latent_usage import active_latent_dimensions, gaussian_kl_per_dimension

rng = np.random.default_rng(0)


def test_binary_values_get_bernoulli():
    choice = choose_domain_settings(rng.integers(0, 2, (50, 4)).astype(float))
    assert (choice.likelihood, choice.preprocessing) == ("bernoulli", "none")


def test_unit_interval_values_get_sigmoid_mse():
    choice = choose_domain_settings(rng.uniform(0, 1, (50, 4)))
    assert (choice.likelihood, choice.preprocessing) == ("sigmoid_mse", "none")


def test_overdispersed_counts_get_negative_binomial():
    counts = rng.negative_binomial(2, 0.05, (200, 10)).astype(float)
    assert looks_like_counts(counts)
    choice = choose_domain_settings(counts)
    assert (choice.likelihood, choice.preprocessing) == ("negative_binomial", "none")


def test_bounded_integer_pixels_are_not_counts():
    from sklearn.datasets import load_digits

    pixels = load_digits().data
    assert not looks_like_counts(pixels)
    choice = choose_domain_settings(pixels)
    assert (choice.likelihood, choice.preprocessing) == ("gaussian", "standardize")
    assert "bounded" in choice.reason


def test_real_values_on_natural_scales_get_gaussian_on_standardised():
    choice = choose_domain_settings(rng.normal(100, 30, (50, 4)))
    assert (choice.likelihood, choice.preprocessing) == ("gaussian", "standardize")


def test_absent_rows_are_ignored():
    values = rng.integers(0, 2, (50, 4)).astype(float)
    values[:5] = np.nan
    assert choose_domain_settings(values).likelihood == "bernoulli"


def test_count_warning_names_non_integer_data_only():
    assert count_likelihood_warning(np.array([[0.0, 3.0]]), "rna", "negative_binomial") is None
    warning = count_likelihood_warning(np.array([[0.5, 3.2]]), "rna", "negative_binomial")
    assert "rna" in warning and "counts" in warning


def test_collapsed_encodings_use_no_latent_dimension():
    zeros = np.zeros((100, 8))
    assert active_latent_dimensions(gaussian_kl_per_dimension(zeros, zeros)) == 0


def test_informative_encodings_use_their_dimensions():
    mean = np.zeros((100, 8))
    mean[:, :3] = rng.standard_normal((100, 3))
    log_sigma = np.zeros((100, 8))
    log_sigma[:, :3] = -2.0
    assert active_latent_dimensions(gaussian_kl_per_dimension(mean, log_sigma)) == 3
