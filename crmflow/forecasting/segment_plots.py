"""Per-segment forecast plots (`forecast_segment_<segment>.png`): each segment's history, backtest and forecast
with its interval, the same picture as the whole base's `forecast.png`."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sklearn.base import clone

from crmflow.errors import DataError
from crmflow.forecasting.base import Forecaster
from crmflow.forecasting.settings import ForecasterSettings
from crmflow.plots.forecasts import forecast_plot

__all__ = ["SegmentPlots", "segment_plot_name"]

logger = logging.getLogger(__name__)


def segment_plot_name(segment: str) -> str:
    """`forecast_segment_<segment>.png`, characters a file name should not hold replaced by `_`."""
    return f"forecast_segment_{re.sub(r'[^A-Za-z0-9_.-]', '_', str(segment))}.png"


@dataclass
class SegmentPlots:
    """Called once per segment with its series and backtest table: refits the forecaster on the whole segment
    series, forecasts ahead and draws the plot; `paths` collects the files drawn."""

    estimator: Forecaster
    settings: ForecasterSettings
    folder: Path
    paths: list[Path] = field(default_factory=list)

    def __call__(self, segment: str, series: pd.Series, table: pd.DataFrame, metrics: dict[str, float]) -> None:
        try:
            forecast = clone(self.estimator).fit(series).predict(self.settings.horizon, self.settings.interval)
        except DataError as error:
            logger.warning("forecaster: no forecast plot for segment %s: %s", segment, error)
            return
        part = "holdout_" if self.settings.holdout_folds else ""
        title = (
            f"{series.name}: MASE {metrics[part + 'mase']:.3f} vs seasonal naive "
            f"{metrics[part + 'baseline_mase']:.3f} ({part.rstrip('_') or 'backtest'})"
        )
        self.paths.append(forecast_plot(series, table, forecast, title, self.folder / segment_plot_name(segment)))
