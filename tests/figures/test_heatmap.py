"""Count domains are drawn as heatmaps of their most variable features; bar profiles of counts are log1p."""

import numpy as np
from matplotlib.image import imread

from sharedlatent.evaluation.predictions import DomainOutputs, RunOutputs
from sharedlatent.figures.heatmap import heatmap_panels, most_variable, plot_count_heatmap
from sharedlatent.figures.renderers import ProfileRenderer


def count_outputs(n: int = 30, genes: int = 60, seed: int = 0) -> RunOutputs:
    rng = np.random.default_rng(seed)

    def counts() -> np.ndarray:
        return rng.poisson(rng.gamma(0.5, 4.0, size=(n, genes))).astype(np.float32)

    rna = DomainOutputs(
        counts(), counts(), {"protein": counts()}, {"protein": counts()}, counts(), rng.normal(size=(n, 3))
    )
    protein = DomainOutputs(
        counts()[:, :8], counts()[:, :8], {"rna": counts()[:, :8]}, {}, counts()[:, :8], rng.normal(size=(n, 3))
    )
    return RunOutputs({"rna": rna, "protein": protein}, rng.integers(0, 3, n).astype(str))


def test_most_variable_picks_the_spread_features_first():
    values = np.zeros((10, 5))
    values[:, 3] = np.arange(10) * 100  # the widest spread
    values[:, 1] = np.arange(10)
    assert list(most_variable(values, 2)) == [3, 1]


def test_heatmap_panels_are_truth_reconstruction_and_each_translation():
    assert list(heatmap_panels(count_outputs(), "rna")) == ["truth", "reconstruction", "from protein"]


def test_count_heatmap_is_written_with_feature_names(tmp_path):
    path = plot_count_heatmap(
        count_outputs(), "rna", tmp_path / "heatmap.png", feature_names=[f"g{i}" for i in range(60)], dpi=50
    )
    image = imread(path)
    assert image.shape[1] > image.shape[0]  # three panels side by side
    assert image[..., :3].std() > 0.05  # not blank


def test_profile_renderer_draws_counts_on_log1p():
    renderer = ProfileRenderer(log1p=True)
    np.testing.assert_allclose(renderer.shown(np.array([0.0, np.e - 1, -1.0])), [0.0, 1.0, 0.0])
    assert ProfileRenderer().shown(np.array([5.0]))[0] == 5.0
