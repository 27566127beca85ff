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


def test_fractions_in_a_sliver_of_the_unit_interval_are_standardised():
    """Values of 0.001-0.03 lie in [0, 1], but their raw squared errors are too small to learn from (a review's
    table in 1e-3 units trained to the mean under sigmoid_mse, and to 0.18x the mean standardised)."""
    choice = choose_domain_settings(rng.uniform(0.001, 0.03, (200, 4)))
    assert (choice.likelihood, choice.preprocessing) == ("gaussian", "standardize")
    assert "spanning under half of it" in choice.reason
    assert choose_domain_settings(rng.uniform(0.2, 0.75, (200, 4))).likelihood == "sigmoid_mse"


def test_integer_measurements_far_from_zero_are_not_counts():
    """Weight in lb, height in cm, pulse, age rounded to whole numbers: overdispersed integers, but in a narrow band
    far from zero. As counts every translated row had the same total (a review's table: 3.7x ridge)."""
    measured = np.column_stack(
        [
            rng.normal(170, 30, 600),  # weight, lb
            rng.normal(170, 10, 600),  # height, cm
            rng.normal(72, 12, 600),  # pulse
            rng.normal(120, 15, 600),  # blood pressure
            rng.uniform(20, 80, 600),  # age
        ]
    ).round()
    measured = np.hstack([measured, measured + rng.integers(0, 5, measured.shape)])  # ten features
    assert not looks_like_counts(measured)
    choice = choose_domain_settings(measured)
    assert (choice.likelihood, choice.preprocessing) == ("gaussian", "standardize")
    assert "narrow band" in choice.reason
    # counts of a highly expressed gene never reach zero, but span orders of magnitude: still counts
    expressed = rng.negative_binomial(1.5, 0.002, (400, 10)) + 5
    assert looks_like_counts(expressed)


def test_a_few_counts_of_different_things_are_values_not_shares_of_a_total():
    """Linnerud's chin-ups, sit-ups and jumps are counts, but not shares of one sequencing depth: as negative
    binomial they scored 35x the mean's error."""
    few = np.column_stack([rng.poisson(9, 40), rng.poisson(140, 40) * 2, rng.poisson(70, 40) * 3]).astype(float)
    choice = choose_domain_settings(few)
    assert choice.likelihood == "gaussian" and "too few to model as shares of one total" in choice.reason


def test_bulk_counts_of_expressed_genes_are_counts():
    """Filtered bulk RNA-seq: no gene reaches 0 and few vary tenfold, but the genes' means span decades."""
    means = np.exp(rng.uniform(np.log(5), np.log(20000), 500))
    bulk = rng.negative_binomial(20, 20 / (20 + means), (40, 500)) + 1
    assert bulk.min() > 0
    assert choose_domain_settings(bulk.astype(float)).likelihood == "negative_binomial"


def test_a_clinical_table_with_one_flag_or_small_count_is_still_measurements():
    """Means of 50-250 beside one yes/no column (mean 0.2): a max / min ratio of means called this counts, and its
    translations scored 2.1x gaussian's error."""
    clinical = np.column_stack(
        [rng.normal(m, m / 6, 500) for m in (55, 125, 80, 200, 100, 72, 250)] + [rng.binomial(1, 0.2, 500)]
    ).round()
    assert choose_domain_settings(np.abs(clinical)).likelihood == "gaussian"


def test_raw_values_kept_in_the_unit_interval_get_sigmoid_mse_however_little_of_it_they_span():
    from sharedlatent.auto_settings import resolve_auto
    from sharedlatent.config import DomainConfig, ModelConfig, RunConfig

    config = RunConfig(model=ModelConfig(domains={"a": DomainConfig(preprocessing="none")}))
    _, chosen = resolve_auto(config, {"a": rng.uniform(0, 0.3, (100, 3))})
    assert (chosen["a"].likelihood, chosen["a"].preprocessing) == ("sigmoid_mse", "none")


def test_umi_counts_with_many_rare_genes_are_still_counts():
    """Half the genes seen in a handful of cells (variance about their mean, whatever their dispersion) beside
    overdispersed ones: an unfiltered UMI matrix. It scored 0.47-0.52 overdispersed over all genes and got gaussian."""
    common = rng.negative_binomial(0.5, 0.5 / (0.5 + rng.uniform(0.2, 3, 300)), (1200, 300))
    rare = rng.poisson(rng.uniform(0.001, 0.02, 300), (1200, 300))
    counts = np.hstack([common, rare]).astype(np.float32)
    assert looks_like_counts(counts)
    assert choose_domain_settings(counts).likelihood == "negative_binomial"


def test_integers_with_variance_below_their_mean_say_so():
    choice = choose_domain_settings(rng.binomial(50, 0.04, (2000, 10)).astype(float))  # reach 0, no ceiling
    assert choice.likelihood == "gaussian" and "variance below the mean" in choice.reason


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
