"""What the plots print: explained variance on the PCA axes, ratio ticks on the heat-map, log axes for a
heavy-tailed target, sizes with shares, importance bars coloured by sign."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import crmflow.plots.prediction as prediction_plots
import crmflow.plots.segments as segment_plots
from crmflow.plots.base import pyplot
from crmflow.plots.prediction import heavy_tailed, importance_bars, predicted_vs_actual
from crmflow.plots.segments import (
    pca_axis_labels,
    profile_heatmap,
    ratio_ticks,
    segment_scatter,
    segment_sizes,
)


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """The figures the plot functions save, kept open for inspection (closed afterwards)."""
    figures: list[Any] = []

    def keep(fig: Any, path: Path) -> Path:
        figures.append(fig)
        return path

    monkeypatch.setattr(segment_plots, "save_figure", keep)
    monkeypatch.setattr(prediction_plots, "save_figure", keep)
    yield figures
    for fig in figures:
        pyplot().close(fig)


def test_pca_axes_state_the_explained_variance(drawn: list[Any], tmp_path: Path) -> None:
    # independent columns with variances 4 and 1: PC1 explains 4/5, PC2 1/5
    matrix = pd.DataFrame({"a": [-2.0, 2.0, -2.0, 2.0], "b": [-1.0, -1.0, 1.0, 1.0]})
    segment_scatter(matrix, pd.Series([0, 1, 0, 1]), tmp_path / "pca.png")
    ax = drawn[0].axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("PC1 (80%)", "PC2 (20%)")
    assert "explain 100% of the variance" in ax.get_title()
    assert pca_axis_labels([0.341, 0.207]) == ("PC1 (34%)", "PC2 (21%)")


def test_heatmap_prints_ratios_and_its_bar_speaks_ratios(drawn: list[Any], tmp_path: Path) -> None:
    assert ratio_ticks(2.0) == ([-2.0, -1.0, 0.0, 1.0, 2.0], ["0.25×", "0.5×", "1×", "2×", "4×"])
    positions, labels = ratio_ticks(0.5)  # narrower than one doubling: ends and halves
    assert positions == [-0.5, -0.25, 0.0, 0.25, 0.5] and labels[2] == "1×" and labels[-1] == "1.41×"
    profiles = pd.DataFrame({"share": [0.5, 0.5], "lift_monetary": [2.0, 0.5], "lift_recency": [1.0, 1.0]})
    profile_heatmap(profiles, tmp_path / "heat.png")
    ax, bar = drawn[0].axes
    assert sorted(t.get_text() for t in ax.texts) == ["0.50×", "1.00×", "1.00×", "2.00×"]
    assert [t.get_text() for t in bar.get_yticklabels()] == ["0.5×", "1×", "2×"]
    np.testing.assert_allclose(ax.images[0].get_array(), [[1.0, 0.0], [-1.0, 0.0]])  # colour = log2 lift


def test_segment_sizes_are_bars_by_name_with_shares(drawn: list[Any], tmp_path: Path) -> None:
    profiles = pd.DataFrame(
        {"name": ["champions", "1", "noise"], "size": [30, 60, 10], "share": [0.3, 0.6, 0.1]}, index=[0, 1, -1]
    )
    segment_sizes(profiles, tmp_path / "sizes.png")
    ax = drawn[0].axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["noise", "champions", "segment 1"]  # smallest first
    assert [p.get_width() for p in ax.patches] == [10, 30, 60]
    assert [t.get_text() for t in ax.texts] == ["10.0%", "30.0%", "60.0%"]


def test_heavy_tailed_decides_the_axes(drawn: list[Any], tmp_path: Path) -> None:
    spend = np.array([0.0] * 50 + [10.0] * 40 + [500.0] * 10)  # median 5, max 100 medians
    assert heavy_tailed(spend)
    assert not heavy_tailed(np.arange(1.0, 101.0))  # uniform: skew 0, max = 2 medians
    assert not heavy_tailed(np.array([-5.0, 1.0, 2.0, 300.0]))  # negative values: not an amount
    predicted_vs_actual({"holdout": (spend, spend * 0.9)}, tmp_path / "a.png")
    predicted_vs_actual({"holdout": (np.arange(1.0, 101.0), np.arange(1.0, 101.0))}, tmp_path / "b.png")
    logged, linear = drawn[0].axes[0], drawn[1].axes[0]
    assert (logged.get_xscale(), logged.get_yscale()) == ("symlog", "symlog")
    assert (linear.get_xscale(), linear.get_yscale()) == ("linear", "linear")
    assert any(line.get_label() == "predicted = actual" for line in logged.lines)


def test_signed_importances_are_coloured_by_sign(drawn: list[Any], tmp_path: Path) -> None:
    table = pd.DataFrame({"feature": ["a", "b"], "importance": [2.0, -1.0], "kind": "coefficient (preprocessed scale)"})
    importance_bars(table, tmp_path / "imp.png")
    ax = drawn[0].axes[0]
    widths = {t.get_text(): p.get_width() for t, p in zip(ax.get_yticklabels(), ax.patches, strict=True)}
    assert widths == {"a": 2.0, "b": -1.0}
    red, blue = (p.get_facecolor()[:3] for p in ax.patches[::-1])  # "a" is drawn on top (last)
    assert red[0] > red[2] and blue[2] > blue[0]
