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


def test_the_choice_reads_blocks_of_rows_and_copies_no_whole_matrix(monkeypatch):
    import tracemalloc

    from sharedlatent import auto_settings

    counts = rng.negative_binomial(2, 0.05, (20_000, 200)).astype(np.float32)  # 16 MB
    counts[:30] = np.nan  # absent samples
    whole = auto_settings.summarize(counts)
    monkeypatch.setattr(auto_settings, "CHUNK_VALUES", 2**14)  # 81 rows per block
    tracemalloc.start()
    blocks = auto_settings.summarize(counts)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < counts.nbytes / 10
    assert (blocks.finite, blocks.low, blocks.high, blocks.at_high, blocks.nonzero) == (
        whole.finite,
        whole.low,
        whole.high,
        whole.at_high,
        whole.nonzero,
    )
    assert np.allclose(blocks.feature_sum, np.nansum(counts, axis=0, dtype=np.float64))
    assert blocks.overdispersed_share() == whole.overdispersed_share() == 1.0
    assert auto_settings.choose_domain_settings(counts).likelihood == "negative_binomial"


def test_a_constant_feature_is_not_counted_as_varying():
    values = rng.negative_binomial(2, 0.05, (300, 4)).astype(float)
    values[:, 0] = 1e6 + 3  # a large constant: the running sums must not make it vary
    from sharedlatent.auto_settings import summarize

    assert summarize(values).overdispersed_share() == 1.0  # the three varying features only


def test_float32_values_too_large_to_show_fractions_are_not_taken_for_counts():
    """Tables are read as float32, where every value above 2^24 is whole: real values of about 1e9 (MS intensities,
    large units) must stay Gaussian, while float32 counts with a few huge entries stay counts."""
    from sharedlatent.auto_settings import choose_domain_settings

    rng = np.random.default_rng(0)
    real = rng.lognormal(20, 1, (300, 20))
    assert choose_domain_settings(real).likelihood == "gaussian"  # float64: fractions show
    assert choose_domain_settings(real.astype(np.float32)).likelihood == "gaussian"
    counts = rng.poisson(rng.gamma(1.0, 50.0, (300, 20))).astype(np.float32)
    counts[0, 0] = 5e7
    assert choose_domain_settings(counts).likelihood == "negative_binomial"
