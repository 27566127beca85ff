"""Sample files for translate: a 1-D .npy is one sample, or one value per sample for a one-feature domain."""

import numpy as np

from sharedlatent.runs.sample_files import read_samples


def test_a_vector_npy_is_one_value_per_sample_for_a_one_feature_domain_and_one_sample_otherwise(tmp_path):
    np.save(tmp_path / "ages.npy", np.arange(50, dtype=np.float32))
    assert read_samples(tmp_path / "ages.npy", width=1).values.shape == (50, 1)
    assert read_samples(tmp_path / "ages.npy", width=50).values.shape == (1, 50)
    assert read_samples(tmp_path / "ages.npy").values.shape == (1, 50)


def test_an_unnamed_index_column_comes_back_named_sample_id(tmp_path):
    import pandas as pd

    from sharedlatent.runs.sample_files import write_samples

    (tmp_path / "r.csv").write_text('"","g1","g2"\n"s1",1,2\n"s2",3,4\n')  # R's write.csv
    samples = read_samples(tmp_path / "r.csv")
    assert list(samples.sample_ids) == ["s1", "s2"]
    write_samples(tmp_path / "out.csv", samples.values, ["a", "b"], samples.sample_ids, samples.id_column)
    assert list(pd.read_csv(tmp_path / "out.csv").columns) == ["sample_id", "a", "b"]
