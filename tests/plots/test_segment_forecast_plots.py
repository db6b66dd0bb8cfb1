"""Per-segment forecast plots: one `forecast_segment_<segment>.png` per segment the model could fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from crmflow.forecasting.ets import ETSForecaster
from crmflow.forecasting.segment_plots import SegmentPlots, segment_plot_name
from crmflow.forecasting.settings import ForecasterSettings
from crmflow.forecasting.stage import per_segment


def test_segment_plot_name_is_a_safe_file_name() -> None:
    assert segment_plot_name("0") == "forecast_segment_0.png"
    assert segment_plot_name("unassigned") == "forecast_segment_unassigned.png"
    assert segment_plot_name("high monetary/low r") == "forecast_segment_high_monetary_low_r.png"


def test_a_plot_per_fitted_segment_and_none_for_a_failed_one(tmp_path: Path) -> None:
    index = pd.date_range("2024-01-01", periods=40, freq="W-MON")
    wave = 100 + 10 * np.sin(np.arange(40))
    segments = pd.DataFrame({"0": wave, "1": np.where(np.arange(40) == 3, 0.0, wave), "2": wave * 2}, index=index)
    settings = ForecasterSettings(
        frequency="W",
        value="revenue",
        seasonal_period=4,
        horizon=4,
        folds=3,
        step=4,
        holdout_folds=1,
        interval=0.9,
        per_segment=True,
        complete_periods_only=True,
    )
    estimator = ETSForecaster(trend=None, seasonal="mul", seasonal_period=4)
    plots = SegmentPlots(estimator, settings, tmp_path)
    rows = per_segment(estimator, segments, settings, plots).set_index("segment")
    assert [p.name for p in plots.paths] == ["forecast_segment_0.png", "forecast_segment_2.png"]  # 1 has a zero
    assert all(p.stat().st_size > 0 for p in plots.paths)
    assert rows["error"].notna().tolist() == [False, True, False]  # the metrics are unchanged by the plots
