"""The bundled Linnerud two-view dataset."""

import numpy as np

from sharedlatent.datasets.registry import load_dataset


def test_linnerud_two_views_with_names():
    dataset = load_dataset("linnerud")
    assert dataset.domain_names == ["exercise", "physiological"]
    assert dataset.feature_names["exercise"] == ["Chins", "Situps", "Jumps"]
    assert dataset.feature_names["physiological"] == ["Weight", "Waist", "Pulse"]
    assert (dataset.train.n_samples, dataset.test.n_samples) == (16, 4)
    assert not set(dataset.train.sample_ids) & set(dataset.test.sample_ids)


def test_linnerud_split_is_seeded_and_options_accept_strings():
    first, again = load_dataset("linnerud", seed="3"), load_dataset("linnerud", seed=3)
    np.testing.assert_array_equal(first.test.sample_ids, again.test.sample_ids)
    assert load_dataset("linnerud", test_fraction="0.5").test.n_samples == 10
