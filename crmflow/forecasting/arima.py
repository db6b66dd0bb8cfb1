"""(Seasonal) ARIMA forecasts with statsmodels' state-space SARIMAX (no exogenous regressors)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from crmflow.config.constraints import Interval, Options
from crmflow.forecasting.base import Forecaster

__all__ = ["ARIMAForecaster"]

TRENDS = ("n", "c", "t", "ct")  # or None
ORDER = [Interval(int, 0, 10)]


def _seasonal_period(params: Mapping[str, Any]) -> Interval:
    """Seasonal orders need a season of two or more periods."""
    orders = f"P={params['P']}, D={params['D']}, Q={params['Q']}"
    if params["P"] + params["D"] + params["Q"] > 0:
        hint = "; set forecaster.settings.seasonal_period, or P=D=Q=0"
        return Interval(int, 2, None, doc=f"an int in the range [2, inf) with seasonal orders {orders}", hint=hint)
    return Interval(int, 1, None)


class ARIMAForecaster(Forecaster):
    """ARIMA(p, d, q)(P, D, Q)_m fitted by maximum likelihood; intervals from the state-space model.

    P = D = Q = 0 is a plain ARIMA; `seasonal_period` (m) only matters when one of them is > 0.
    """

    _parameter_constraints = {
        **dict.fromkeys(("p", "d", "q", "P", "D", "Q"), ORDER),
        "seasonal_period": [_seasonal_period],
        "trend": [Options(TRENDS), None],
        "maxiter": [Interval(int, 1, None)],
    }

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
