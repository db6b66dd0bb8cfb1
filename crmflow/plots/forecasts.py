"""The forecast plot: history, backtest forecasts per fold, and the final forecast with its interval."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from crmflow.plots.base import pyplot, save_figure

if TYPE_CHECKING:
    from crmflow.forecasting.base import Forecast

__all__ = ["forecast_plot"]


def forecast_plot(series: pd.Series, backtest: pd.DataFrame, forecast: Forecast, title: str, path: Path) -> Path:
    """Actuals in black; each backtest fold's forecast and the baseline's; the future with a shaded interval."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.plot(series.index, series.to_numpy(), color="black", linewidth=1, label="actual")
    for fold, rows in backtest.groupby("fold"):
        first = fold == backtest["fold"].min()
        ax.plot(
            rows["timestamp"],
            rows["forecast"],
            color="tab:orange",
            linewidth=1.2,
            label="backtest forecast" if first else None,
        )
        ax.fill_between(
            rows["timestamp"], rows["forecast_lower"], rows["forecast_upper"], color="tab:orange", alpha=0.15
        )
        if "baseline" in rows:
            ax.plot(
                rows["timestamp"],
                rows["baseline"],
                color="tab:gray",
                linestyle="--",
                linewidth=1,
                label="seasonal-naive baseline" if first else None,
            )
    level = f"{forecast.level:.0%}"
    ax.plot(forecast.mean.index, forecast.mean.to_numpy(), color="tab:blue", linewidth=1.5, label="forecast")
    ax.fill_between(
        forecast.mean.index,
        forecast.lower.to_numpy(),
        forecast.upper.to_numpy(),
        color="tab:blue",
        alpha=0.2,
        label=f"{level} interval",
    )
    ax.set(title=title, ylabel=str(series.name or "value"))
    ax.legend(fontsize=8, loc="upper left")
    fig.autofmt_xdate()
    return save_figure(fig, path)
