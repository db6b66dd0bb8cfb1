"""Forecast accuracy over a backtest table: MAE, RMSE, MAPE, sMAPE, MASE and interval coverage.

MAPE and sMAPE are percentages; MAPE skips periods whose actual value is 0. MASE divides each
absolute error by the mean absolute error of the seasonal-naive forecast inside that fold's
training window, so values below 1 beat the seasonal-naive method in-sample; it is undefined (NaN)
when a training window repeats itself exactly season after season (e.g. all zeros).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["FORECAST_METRICS", "forecast_metrics", "seasonal_naive_scale"]

FORECAST_METRICS = ("mase", "mae", "rmse", "mape", "smape", "coverage")


def seasonal_naive_scale(values: np.ndarray, seasonal_period: int) -> float:
    """Mean absolute in-sample error of the seasonal-naive forecast (MASE's denominator)."""
    m = int(seasonal_period)
    return float(np.mean(np.abs(values[m:] - values[:-m]))) if len(values) > m else float("nan")


def forecast_metrics(table: pd.DataFrame, forecast: str = "forecast") -> dict[str, float]:
    """Pooled over every (fold, step) row of `table` (columns actual, scale, <forecast>, and its bounds)."""
    actual = table["actual"].to_numpy(dtype="float64")
    predicted = table[forecast].to_numpy(dtype="float64")
    error = np.abs(actual - predicted)
    nonzero = actual != 0
    denominator = np.abs(actual) + np.abs(predicted)
    scale = table["scale"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        smape_terms = np.where(denominator == 0, 0.0, 2 * error / denominator)
        mase = float(np.mean(error / scale)) if (scale > 0).all() else float("nan")
    lower, upper = table[f"{forecast}_lower"].to_numpy(), table[f"{forecast}_upper"].to_numpy()
    return {
        "mase": mase,
        "mae": float(np.mean(error)),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mape": float(100 * np.mean(error[nonzero] / np.abs(actual[nonzero]))) if nonzero.any() else float("nan"),
        "smape": float(100 * np.mean(smape_terms)),
        "coverage": float(np.mean((actual >= lower) & (actual <= upper))),
    }
