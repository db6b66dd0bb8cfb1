"""Benchmark forecasters: the last value (naive) and the value one season ago (seasonal naive).

Intervals follow the usual residual-based formulas: with sigma the standard deviation of the
in-sample one-step (resp. one-season) errors, the h-step interval is mean ± z·sigma·sqrt(h)
for naive and mean ± z·sigma·sqrt(floor((h-1)/m) + 1) for seasonal naive.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from crmflow.config.constraints import Interval
from crmflow.forecasting.base import Forecaster

__all__ = ["NaiveForecaster", "SeasonalNaiveForecaster"]


def _interval(mean: np.ndarray, sigma: float, spread: np.ndarray, level: float) -> tuple[np.ndarray, ...]:
    half_width = norm.ppf(0.5 + level / 2) * sigma * spread
    return mean, mean - half_width, mean + half_width


class SeasonalNaiveForecaster(Forecaster):
    """Each future period repeats the value one `seasonal_period` earlier (1 = the naive forecast)."""

    _parameter_constraints = {"seasonal_period": [Interval(int, 1, None)]}

    def __init__(self, seasonal_period: int = 1) -> None:
        self.seasonal_period = seasonal_period

    def min_train_size(self) -> int:
        return int(self.seasonal_period) + 2  # one season to repeat, plus errors to size the interval

    def _fit(self, series: pd.Series) -> None:
        m = int(self.seasonal_period)
        values = series.to_numpy()
        self.last_season_ = values[-m:]
        self.sigma_ = float(np.std(values[m:] - values[:-m], ddof=1))

    def _forecast(self, horizon: int, level: float) -> tuple[np.ndarray, ...]:
        m = int(self.seasonal_period)
        steps = np.arange(horizon)
        mean = self.last_season_[steps % m]
        return _interval(mean, self.sigma_, np.sqrt(steps // m + 1), level)

    def summary(self) -> str:
        return f"{self!r}: repeats the last {self.seasonal_period} period(s); residual sd {self.sigma_:.4g}"


class NaiveForecaster(SeasonalNaiveForecaster):
    """Every future period equals the last observed value (a random walk): seasonal naive with period 1."""

    seasonal_period = 1

    def __init__(self) -> None:
        """No parameters."""
