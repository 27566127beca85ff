"""Every figure and the HTML report are written, complete and readable; a failed drawing leaves no file."""

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from conftest import modules_imported_after
from sharedlatent.errors import SharedLatentError
from sharedlatent.evaluation.predictions import DomainOutputs, RunOutputs
from sharedlatent.figures import summary as model_summary
from sharedlatent.figures.diagram import plot_model_diagram
from sharedlatent.figures.latent import plot_interpolation, plot_latent_space, principal_components
from sharedlatent.figures.losses import plot_loss_curves
from sharedlatent.figures.renderers import ImageRenderer, ProfileRenderer, SkeletonRenderer
from sharedlatent.figures.report import metric_tables, write_report
from sharedlatent.figures.samples import plot_sample_grid, sample_grid_rows
from sharedlatent.figures.scatter import plot_feature_scatter
from sharedlatent.names import JOINT_POSTERIORS
from sharedlatent.nn.model import SharedLatentModule
from sharedlatent.training.loop import EpochRecord, History

DPI = 60


def fake_outputs(sizes: dict[str, int], n: int = 40, latent: int = 4, labels: bool = True, seed: int = 0) -> RunOutputs:
    rng = np.random.default_rng(seed)
    names = list(sizes)

    def values(name: str) -> np.ndarray:
        return rng.random((n, sizes[name])).astype(np.float32)

    domains = {
        name: DomainOutputs(
            truth=values(name),
            reconstruction=values(name),
            translated={other: values(name) for other in names if other != name},
            cycled={other: values(name) for other in names if other != name},
            generated=values(name)[: n // 2],
            encoding=rng.normal(size=(n, latent)).astype(np.float32),
        )
        for name in names
    }
    return RunOutputs(domains, rng.integers(0, 3, n) if labels else None, rng.normal(size=(n, latent)))


def fake_history(seed_schedule: bool = False) -> History:
    phases = [(0, "joint")] + ([(1, "center"), (1, "left"), (1, "right")] if seed_schedule else [])
    records = [
        EpochRecord(
            stage, phase, epoch, 1000.0 / (epoch + 1), None if seed_schedule else 1200.0 / (epoch + 1), {}, 0.01
        )
        for stage, phase in phases
        for epoch in range(12)
    ]
    return History(records, ["joint stopped after epoch 12 of 300"], 3.0)


def small_module(sizes: dict[str, int], shared: list[int] | None = None) -> SharedLatentModule:
    widths = {name: [12, 8] for name in sizes}
    return SharedLatentModule(
        sizes, widths, [6] if shared is None else shared, 3, {name: "sigmoid_mse" for name in sizes}
    )


def assert_png(path, min_pixels: int = 100) -> np.ndarray:
    assert path.is_file() and path.stat().st_size > 0
    assert path.read_bytes()[:4] == b"\x89PNG"
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] >= min_pixels and image.shape[1] >= min_pixels
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp.png")], "temporary file left behind"
    return image


@pytest.mark.parametrize(
    "sizes, renderer",
    [
        ({"left": 64, "right": 64}, ImageRenderer(8, 8)),
        ({"rna": 5, "protein": 5}, ProfileRenderer()),
        ({"a": 48, "b": 48, "c": 48}, SkeletonRenderer()),
    ],
    ids=["images", "profiles", "three-skeletons"],
)
def test_sample_grid_has_five_rows_per_domain(tmp_path, sizes, renderer):
    outputs = fake_outputs(sizes)
    path = plot_sample_grid(outputs, {name: renderer for name in sizes}, tmp_path / "samples.png", n_samples=6, dpi=DPI)
    image = assert_png(path)
    assert image.shape[0] > image.shape[1] * 0.8  # tall: 5 rows per domain, 6 columns
    labels = [row.label for row in sample_grid_rows(outputs, list(sizes)[-1])]
    first = list(sizes)[0]
    assert labels[2] == f"{list(sizes)[-1]}: from {first}" and labels[3] == f"{list(sizes)[-1]}: cycle via {first}"


def test_sample_grid_caps_columns_at_the_number_of_samples(tmp_path):
    outputs = fake_outputs({"left": 64, "right": 64}, n=3)
    assert_png(
        plot_sample_grid(
            outputs, {"left": ImageRenderer(8, 8), "right": ImageRenderer(8, 8)}, tmp_path / "s.png", dpi=DPI
        )
    )


@pytest.mark.parametrize("seed_schedule", [False, True])
def test_loss_curves_one_panel_per_phase(tmp_path, seed_schedule):
    image = assert_png(plot_loss_curves(fake_history(seed_schedule), tmp_path / "loss.png", dpi=DPI))
    if seed_schedule:
        assert image.shape[1] > 2 * image.shape[0]  # four panels side by side


def test_loss_curves_of_an_empty_history(tmp_path):
    assert_png(plot_loss_curves(History(), tmp_path / "loss.png", dpi=DPI))


def test_describe_model_counts_every_parameter_and_reads_widths():
    module = small_module({"left": 10, "right": 7})
    summary = model_summary.describe_model(module)
    assert summary.parameters == sum(p.numel() for p in module.parameters())
    assert [layer.out_width for layer in summary.encoders["right"]] == [12, 8]
    assert [layer.out_width for layer in summary.decoders["right"]] == [8, 12, 7]
    assert summary.decoders["right"][-1].activation == "Sigmoid"
    assert summary.encoders["left"][0].activation == "ReLU"
    assert summary.latent_size == 3 and summary.likelihoods == {"left": "sigmoid_mse", "right": "sigmoid_mse"}


def test_describe_model_counts_learned_likelihood_parameters_and_names_the_joint_posterior(tmp_path):
    module = SharedLatentModule(
        {"a": 10, "b": 7},
        {"a": [12, 8], "b": [12, 8]},
        [6],
        3,
        {"a": "gaussian", "b": "sigmoid_mse"},
        joint_posterior="poe",
    )
    summary = model_summary.describe_model(module)
    assert summary.parameters == sum(p.numel() for p in module.parameters())
    assert summary.likelihood_parameters["a"] > 0 and summary.likelihood_parameters["b"] == 0
    assert summary.decoders["a"][-1].activation == ""  # an Identity output is no activation
    text = model_summary.model_text_diagram(summary)
    assert "product of experts" in text and f"[gaussian, {summary.likelihood_parameters['a']} params]" in text
    assert_png(plot_model_diagram(summary, tmp_path / "model.png", dpi=DPI))


def test_model_text_diagram_names_every_block():
    summary = model_summary.describe_model(small_module({"left": 10, "right": 7}))
    text = model_summary.model_text_diagram(summary)
    for block in (
        "[left encoder]",
        "[right encoder]",
        "[shared encoder]",
        "[z_mean]",
        "[z_log_sigma]",
        "[latent z]",
        "[shared decoder]",
        "[left decoder]",
        "[right decoder]",
    ):
        assert block in text
    assert "10 -> 12 ReLU -> 8 ReLU" in text
    assert f"{summary.parameters:,} parameters" in text


@pytest.mark.parametrize(
    "sizes, shared", [({"left": 64, "right": 64}, None), ({"a": 5, "b": 9, "c": 3}, []), ({"a": 4, "b": 4}, [16, 6])]
)
def test_model_diagram(tmp_path, sizes, shared):
    summary = model_summary.describe_model(small_module(sizes, shared))
    image = assert_png(plot_model_diagram(summary, tmp_path / "model.png", dpi=DPI))
    assert image.shape[1] > image.shape[0]  # the data flows left to right


@pytest.mark.parametrize("labels", [True, False])
def test_latent_space(tmp_path, labels):
    outputs = fake_outputs({"left": 8, "right": 8, "third": 8}, labels=labels)
    image = assert_png(plot_latent_space(outputs, tmp_path / "latent.png", dpi=DPI))
    assert (image.shape[1] > 1.5 * image.shape[0]) == labels  # two panels only with labels


def test_latent_space_with_float_labels_and_one_dimension(tmp_path):
    outputs = fake_outputs({"left": 8, "right": 8}, latent=1)
    outputs.labels = np.linspace(0, 1, 40)
    assert_png(plot_latent_space(outputs, tmp_path / "latent.png", dpi=DPI))


@pytest.mark.parametrize("shape", [(40, 5), (6, 12), (300, 2)])
def test_principal_components_are_scikit_learns(shape):
    from sklearn.decomposition import PCA

    values = np.random.default_rng(3).normal(size=shape) * np.arange(1, shape[1] + 1)
    scores, shares = principal_components(values, 2)
    reference = PCA(n_components=2).fit(values)
    np.testing.assert_allclose(scores, reference.transform(values), atol=1e-9)
    np.testing.assert_allclose(shares, reference.explained_variance_ratio_, atol=1e-12)


def test_drawing_figures_does_not_import_scikit_learn():
    code = (
        "import numpy as np\n"
        "from sharedlatent.figures.latent import project_latent\n"
        "project_latent(np.random.default_rng(0).normal(size=(20, 4)))"
    )
    assert modules_imported_after(code, ("sklearn", "scipy")) == []  # the figures need neither


def test_latent_space_rejects_unknown_method(tmp_path):
    with pytest.raises(SharedLatentError, match="tsne"):
        plot_latent_space(fake_outputs({"left": 8, "right": 8}), tmp_path / "latent.png", method="tsne")
    assert not (tmp_path / "latent.png").exists()


def test_latent_space_umap_falls_back_or_draws(tmp_path):
    assert_png(
        plot_latent_space(fake_outputs({"left": 8, "right": 8}), tmp_path / "latent.png", method="umap", dpi=DPI)
    )


def test_interpolation(tmp_path):
    rng = np.random.default_rng(0)
    decoded = {"left": rng.random((7, 64)), "right": rng.random((7, 64))}
    image = assert_png(
        plot_interpolation(
            decoded, {"left": ImageRenderer(8, 8), "right": ImageRenderer(8, 8)}, tmp_path / "i.png", dpi=DPI
        ),
        60,
    )
    assert image.shape[1] > 2 * image.shape[0]


def test_interpolation_needs_equal_steps(tmp_path):
    with pytest.raises(SharedLatentError, match="same number of steps"):
        plot_interpolation({"a": np.zeros((3, 4)), "b": np.zeros((4, 4))}, {}, tmp_path / "i.png")


def test_feature_scatter(tmp_path):
    rng = np.random.default_rng(0)
    truth = rng.random((50, 8))
    prediction = truth + rng.normal(scale=np.linspace(0.01, 2, 8), size=(50, 8))
    prediction[:, 3] = 0.5  # constant: r undefined, never picked
    path = plot_feature_scatter(
        truth, prediction, tmp_path / "scatter.png", feature_names=[f"gene{i}" for i in range(8)], dpi=DPI
    )
    assert_png(path)


def test_feature_scatter_with_few_features_does_not_repeat_them(tmp_path):
    rng = np.random.default_rng(1)
    truth = rng.random((30, 3))
    assert_png(plot_feature_scatter(truth, truth + 0.1 * rng.random((30, 3)), tmp_path / "s.png", dpi=DPI))


def test_feature_scatter_checks_feature_names(tmp_path):
    with pytest.raises(SharedLatentError, match="2 feature names for 3 features"):
        plot_feature_scatter(np.random.rand(5, 3), np.random.rand(5, 3), tmp_path / "s.png", feature_names=["a", "b"])


def exploding_renderer(ax, values):
    raise RuntimeError("renderer failed")


def test_failed_drawing_leaves_no_file(tmp_path):
    outputs = fake_outputs({"left": 64, "right": 64})
    target = tmp_path / "samples.png"
    with pytest.raises(RuntimeError, match="renderer failed"):
        plot_sample_grid(outputs, {"left": exploding_renderer, "right": exploding_renderer}, target, dpi=DPI)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_failed_save_keeps_the_previous_file_and_no_partial_one(tmp_path, monkeypatch):
    target = tmp_path / "loss.png"
    target.write_bytes(b"previous")

    def half_written(self, filename, **options):
        with open(filename, "wb") as handle:
            handle.write(b"\x89PNG partial")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", half_written)
    with pytest.raises(OSError, match="disk full"):
        plot_loss_curves(fake_history(), target)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["loss.png"]


METRICS = {
    "n_test": 360,
    "reconstruction": {"left": {"mse": 0.0123, "mae": 0.0811}, "right": {"mse": 0.0456, "mae": 0.0922}},
    "translation": {
        "left->right": {"mse": 0.0345, "pearson": {"mean": 0.8765, "median": 0.9012}, "baseline": {"mse": 0.0999}},
        "right->left": {"mse": 0.0333, "baseline": {"mse": 0.0888}},
    },
    "alignment": {"foscttm": 0.0421, "knn_accuracy": 0.9375, "undefined": float("nan"), "note": "<b>raw</b>"},
}


def test_metric_tables_flatten_nested_dicts():
    tables = {table.title: table for table in metric_tables(METRICS)}
    assert tables["summary"].values == {"n_test": 360}
    assert tables["alignment"].values["foscttm"] == 0.0421
    assert tables["reconstruction"].groups() == [(["mse", "mae"], [("left",), ("right",)])]
    assert tables["translation"].groups() == [
        (["mse"], [("left->right",), ("left->right", "baseline"), ("right->left",), ("right->left", "baseline")]),
        (["mean", "median"], [("left->right", "pearson")]),
    ]


def test_report_embeds_figures_metrics_and_config(tmp_path):
    outputs = fake_outputs({"left": 64, "right": 64})
    renderers = {"left": ImageRenderer(8, 8), "right": ImageRenderer(8, 8)}
    figures = [
        plot_sample_grid(outputs, renderers, tmp_path / "samples.png", n_samples=4, dpi=DPI),
        plot_loss_curves(fake_history(), tmp_path / "loss_curves.png", dpi=DPI),
    ]
    path = write_report(
        tmp_path, metrics=METRICS, figures=figures, title="digits <run>", config_text="[train]\nepochs = 60\n"
    )
    html = path.read_text(encoding="utf-8")
    assert path == tmp_path / "report.html"
    assert html.count('<img src="data:image/png;base64,') == len(figures)
    for value in ("0.0123", "0.0811", "0.8765", "0.0999", "0.0421", "0.9375", "360", "nan"):
        assert value in html
    assert 'class="baseline"' in html and "left-&gt;right / baseline" in html
    assert "digits &lt;run&gt;" in html and "&lt;b&gt;raw&lt;/b&gt;" in html and "<b>raw</b>" not in html
    assert "<pre>[train]\nepochs = 60\n</pre>" in html
    assert "http" not in html and 'src="/' not in html and "<link" not in html and "<script" not in html


def test_report_refuses_a_missing_figure(tmp_path):
    with pytest.raises(SharedLatentError, match="missing.png"):
        write_report(tmp_path, metrics={}, figures=[tmp_path / "missing.png"], title="run")
    assert not (tmp_path / "report.html").exists()


def test_every_joint_posterior_is_described():
    assert set(model_summary.JOINING) == set(JOINT_POSTERIORS)


def test_fitted_box_centres_an_image_undistorted_in_its_cell():
    from sharedlatent.figures.samples import fitted_box

    assert fitted_box((1.0, 2.0, 0.8, 0.8), 2, 6) == pytest.approx((1.0, 2.0 + 0.8 / 3, 0.8, 0.8 / 3))
    assert fitted_box((0.0, 0.0, 0.6, 0.9), 8, 8) == pytest.approx((0.0, 0.15, 0.6, 0.6))
