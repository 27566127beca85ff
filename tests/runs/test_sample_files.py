"""Sample files for translate: a 1-D .npy is one sample, or one value per sample for a one-feature domain."""

import numpy as np

from sharedlatent.runs.sample_files import read_samples


def test_a_vector_npy_is_one_value_per_sample_for_a_one_feature_domain_and_one_sample_otherwise(tmp_path):
    np.save(tmp_path / "ages.npy", np.arange(50, dtype=np.float32))
    assert read_samples(tmp_path / "ages.npy", width=1).values.shape == (50, 1)
    assert read_samples(tmp_path / "ages.npy", width=50).values.shape == (1, 50)
    assert read_samples(tmp_path / "ages.npy").values.shape == (1, 50)
