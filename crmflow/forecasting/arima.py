"""(Seasonal) ARIMA forecasts with statsmodels' state-space SARIMAX (no exogenous regressors)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from crmflow.errors import ConfigError
from crmflow.forecasting.base import Forecaster

__all__ = ["ARIMAForecaster"]

TRENDS = (None, "n", "c", "t", "ct")


def _check_order(name: str, value: Any, owner: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= 10:
        raise ConfigError(
            f"forecaster.{name}: the '{name}' parameter of {owner} must be an int in [0, 10]; got {value!r}"
        )


class ARIMAForecaster(Forecaster):
    """ARIMA(p, d, q)(P, D, Q)_m fitted by maximum likelihood; intervals from the state-space model.

    P = D = Q = 0 is a plain ARIMA; `seasonal_period` (m) only matters when one of them is > 0.
    """

    def __init__(
        self,
        p: int = 1,
        d: int = 1,
        q: int = 1,
        P: int = 0,
        D: int = 0,
        Q: int = 0,
        seasonal_period: int = 1,
        trend: str | None = None,
        maxiter: int = 200,
    ) -> None:
        self.p = p
        self.d = d
        self.q = q
        self.P = P
        self.D = D
        self.Q = Q
        self.seasonal_period = seasonal_period
        self.trend = trend
        self.maxiter = maxiter

    @property
    def _seasonal(self) -> bool:
        return self.P + self.D + self.Q > 0

    def check_params(self) -> None:
        owner = type(self).__name__
        for name in ("p", "d", "q", "P", "D", "Q"):
            _check_order(name, getattr(self, name), owner)
        if self.trend not in TRENDS:
            raise ConfigError(f"forecaster.trend: expected one of {TRENDS}; got {self.trend!r}")
        m = self.seasonal_period
        if self._seasonal and (isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 2):
            raise ConfigError(
                f"forecaster.seasonal_period: seasonal orders P={self.P}, D={self.D}, Q={self.Q} need a "
                f"seasonal_period >= 2; got {m!r} (set forecaster.settings.seasonal_period or P=D=Q=0)"
            )

    def min_train_size(self) -> int:
        m = int(self.seasonal_period) if self._seasonal else 0
        lost_to_differencing = self.d + self.D * m
        longest_lag = max(self.p + self.P * m, self.q + self.Q * m)
        n_params = self.p + self.q + self.P + self.Q + 2  # + trend/variance
        return lost_to_differencing + longest_lag + n_params + 1

    def _fit(self, series: pd.Series) -> None:
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        m = int(self.seasonal_period) if self._seasonal else 0
        model = SARIMAX(
            series,
            order=(self.p, self.d, self.q),
            seasonal_order=(self.P, self.D, self.Q, m),
            trend=self.trend,
        )
        self.results_ = model.fit(disp=False, maxiter=self.maxiter)

    def _forecast(self, horizon: int, level: float) -> tuple[np.ndarray, ...]:
        frame = self.results_.get_forecast(horizon).summary_frame(alpha=1 - level)
        return frame["mean"].to_numpy(), frame["mean_ci_lower"].to_numpy(), frame["mean_ci_upper"].to_numpy()

    def summary(self) -> str:
        return str(self.results_.summary())
