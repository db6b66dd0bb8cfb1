"""Holt–Winters exponential smoothing in its ETS state-space form (statsmodels ETSModel)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmflow.errors import ConfigError
from crmflow.forecasting.base import Forecaster

__all__ = ["ETSForecaster"]

COMPONENTS = {"error": ("add", "mul"), "trend": (None, "add", "mul"), "seasonal": (None, "add", "mul")}


class ETSForecaster(Forecaster):
    """Level, optional (damped) trend and optional seasonality, each additive or multiplicative.

    `damped_trend` applies only when there is a trend. Intervals are exact for additive models and
    simulated (`simulate_repetitions` paths, seeded by `random_state`) when a component is multiplicative.
    """

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

    def check_params(self) -> None:
        for name, choices in COMPONENTS.items():
            value = getattr(self, name)
            if value not in choices:
                raise ConfigError(
                    f"forecaster.{name}: the '{name}' parameter of {type(self).__name__} must be one of "
                    f"{[c for c in choices]}; got {value!r}"
                )
        m = self.seasonal_period
        if self.seasonal is not None and (isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 2):
            raise ConfigError(
                f"forecaster.seasonal_period: seasonal='{self.seasonal}' needs a seasonal_period >= 2; got {m!r} "
                "(set forecaster.settings.seasonal_period, or forecaster.seasonal=null)"
            )

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
