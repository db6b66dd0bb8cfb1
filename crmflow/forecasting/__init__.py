"""Sales forecasting: series from transactions, forecasters, rolling-origin backtests, the stage."""

from __future__ import annotations

from crmflow.forecasting.arima import ARIMAForecaster
from crmflow.forecasting.backtest import RollingOrigin, backtest
from crmflow.forecasting.base import Forecast, Forecaster
from crmflow.forecasting.baselines import NaiveForecaster, SeasonalNaiveForecaster
from crmflow.forecasting.ets import ETSForecaster
from crmflow.forecasting.metrics import FORECAST_METRICS, forecast_metrics
from crmflow.forecasting.series import aggregate

__all__ = [
    "FORECAST_METRICS",
    "ARIMAForecaster",
    "ETSForecaster",
    "Forecast",
    "Forecaster",
    "NaiveForecaster",
    "RollingOrigin",
    "SeasonalNaiveForecaster",
    "aggregate",
    "backtest",
    "forecast_metrics",
]
