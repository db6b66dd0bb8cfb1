"""Holt–Winters exponential smoothing in its ETS state-space form (statsmodels ETSModel)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from crmflow.config.constraints import Boolean, Interval, Options
from crmflow.forecasting.base import Forecaster

__all__ = ["ETSForecaster"]

KINDS = ("add", "mul")


def _seasonal_period(params: Mapping[str, Any]) -> Interval:
    """A seasonal component needs a season of two or more periods."""
    if params["seasonal"] is not None:
        hint = "; set forecaster.settings.seasonal_period, or forecaster.seasonal=null"
        rule = f"an int in the range [2, inf) with seasonal={params['seasonal']!r}"
        return Interval(int, 2, None, doc=rule, hint=hint)
    return Interval(int, 1, None)


class ETSForecaster(Forecaster):
    """Level, optional (damped) trend and optional seasonality, each additive or multiplicative.

    `damped_trend` applies only when there is a trend. Intervals are exact for additive models and
    simulated (`simulate_repetitions` paths, seeded by `random_state`) when a component is multiplicative.
    """

    _parameter_constraints = {
        "error": [Options(KINDS)],
        "trend": [Options(KINDS), None],
        "damped_trend": [Boolean()],
        "seasonal": [Options(KINDS), None],
        "seasonal_period": [_seasonal_period],
        "simulate_repetitions": [Interval(int, 1, None)],
        "random_state": [Interval(int, 0, None), None],
    }

    def __init__(
        self,
        error: str = "add",
        trend: str | None = "add",
        damped_trend: bool = False,
        seasonal: str | None = None,
        seasonal_period: int = 1,
        simulate_repetitions: int = 500,
        random_state: int | None = 0,
    ) -> None:
        self.error = error
        self.trend = trend
        self.damped_trend = damped_trend
        self.seasonal = seasonal
        self.seasonal_period = seasonal_period
        self.simulate_repetitions = simulate_repetitions
        self.random_state = random_state

    def requires_positive(self) -> bool:
        return "mul" in (self.error, self.trend, self.seasonal)

    def min_train_size(self) -> int:
        m = int(self.seasonal_period) if self.seasonal else 0
        trend = self.trend is not None
        n_params = 2 + 2 * trend + (trend and bool(self.damped_trend)) + (m if m else 0)
        return max(n_params + 2, 2 * m)  # a seasonal model sees at least two full seasons

    def _fit(self, series: pd.Series) -> None:
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        model = ETSModel(
            series,
            error=self.error,
            trend=self.trend,
            damped_trend=bool(self.damped_trend and self.trend),
            seasonal=self.seasonal,
            seasonal_periods=int(self.seasonal_period) if self.seasonal else None,
        )
        self.results_ = model.fit(disp=False)
        self.n_obs_ = len(series)

    def _forecast(self, horizon: int, level: float) -> tuple[np.ndarray, ...]:
        prediction = self.results_.get_prediction(
            start=self.n_obs_,
            end=self.n_obs_ + horizon - 1,
            simulate_repetitions=self.simulate_repetitions,
            rng=np.random.default_rng(self.random_state),
        )
        frame = prediction.summary_frame(alpha=1 - level)
        return frame["mean"].to_numpy(), frame["pi_lower"].to_numpy(), frame["pi_upper"].to_numpy()

    def summary(self) -> str:
        return str(self.results_.summary())
