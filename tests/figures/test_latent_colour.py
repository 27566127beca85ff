"""The latent plot coloured by a named column: categories get a legend titled by the column, numbers a colour bar."""

import numpy as np
from matplotlib.figure import Figure
from test_plots import fake_outputs

from sharedlatent.figures import latent
from sharedlatent.figures.latent import plot_latent_space


def drawn_axes(monkeypatch, tmp_path, colour) -> Figure:
    """The figure plot_latent_space drew (saving is skipped)."""
    drawn = {}
    monkeypatch.setattr(latent, "save_png", lambda figure, path, dpi: drawn.setdefault("figure", figure))
    plot_latent_space(fake_outputs({"rna": 6, "protein": 4}, labels=False), tmp_path / "x.png", colour=colour)
    return drawn["figure"]


def test_categorical_column_gets_a_legend_titled_by_its_name(monkeypatch, tmp_path):
    values = np.array(["B cell", "T cell", "NK"] * 13 + ["missing"])
    figure = drawn_axes(monkeypatch, tmp_path, ("cell_type", values))
    panel = figure.axes[0]
    assert panel.get_legend().get_title().get_text() == "cell_type"
    assert {text.get_text() for text in panel.get_legend().get_texts()} == {"B cell", "NK", "T cell", "missing"}
    assert "by cell_type" in panel.get_title()


def test_numeric_column_gets_a_colour_bar(monkeypatch, tmp_path):
    values = np.arange(40, dtype=float)  # few distinct values would still be numbers, not categories
    values[3] = np.nan
    figure = drawn_axes(monkeypatch, tmp_path, ("total_counts", values))
    assert figure.axes[0].get_legend() is None
    assert any(ax.get_ylabel() == "total_counts" for ax in figure.axes[1:])  # the colour bar's axes
