"""Rolling-origin backtests: refit on every training window, forecast the next `horizon` periods."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from sklearn.base import clone

from crmflow.errors import DataError
from crmflow.forecasting.base import Forecaster, describe
from crmflow.forecasting.metrics import seasonal_naive_scale

__all__ = ["RollingOrigin", "backtest"]


@dataclass(frozen=True)
class RollingOrigin:
    """`folds` forecast origins `step` periods apart; the last fold's forecast ends with the series."""

    horizon: int
    folds: int
    step: int

    def train_ends(self, n: int) -> list[int]:
        """The length of each fold's training window, oldest first."""
        return [n - self.horizon - (self.folds - 1 - fold) * self.step for fold in range(self.folds)]

    def check_length(self, series: pd.Series, forecaster: Forecaster, seasonal_period: int) -> None:
        """DataError naming the settings when the first training window is too short for `forecaster`."""
        first = self.train_ends(len(series))[0]
        needed = max(forecaster.min_train_size(), int(seasonal_period) + 1)
        if first < needed:
            raise DataError(
                f"forecaster: {describe(series)} has {len(series)} periods; forecaster.settings.horizon="
                f"{self.horizon}, folds={self.folds}, step={self.step} leave {first} for the first training "
                f"window, but {forecaster} with forecaster.settings.seasonal_period={seasonal_period} needs at "
                f"least {needed}; lower horizon, folds, step or seasonal_period, or use a longer span of data"
            )


def backtest(
    forecaster: Forecaster,
    series: pd.Series,
    windows: RollingOrigin,
    seasonal_period: int,
    level: float,
    name: str = "forecast",
    on_fold: Callable[[int, pd.DataFrame], None] | None = None,
) -> pd.DataFrame:
    """One row per (fold, step): origin, timestamp, actual, MASE scale, forecast and interval bounds.

    A fresh clone of `forecaster` is fitted on each training window, so nothing leaks between folds. `on_fold`
    gets each fold's rows (indexed as in the whole table) as soon as they are forecast, and may stop the backtest.
    """
    rows: list[pd.DataFrame] = []
    values = series.to_numpy(dtype="float64")
    for fold, end in enumerate(windows.train_ends(len(series))):
        fitted = clone(forecaster).fit(series.iloc[:end])
        forecast = fitted.predict(windows.horizon, level)
        actual = series.iloc[end : end + windows.horizon]
        rows.append(
            pd.DataFrame(
                {
                    "fold": fold,
                    "origin": series.index[end - 1],
                    "timestamp": actual.index,
                    "step": range(1, len(actual) + 1),
                    "actual": actual.to_numpy(),
                    "scale": seasonal_naive_scale(values[:end], seasonal_period),
                    name: forecast.mean.to_numpy(),
                    f"{name}_lower": forecast.lower.to_numpy(),
                    f"{name}_upper": forecast.upper.to_numpy(),
                },
                index=pd.RangeIndex(sum(map(len, rows)), sum(map(len, rows)) + len(actual)),
            )
        )
        if on_fold is not None:
            on_fold(fold, rows[-1])
    return pd.concat(rows)
