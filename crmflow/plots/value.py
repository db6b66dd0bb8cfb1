"""The value stage's plots: holdout purchases by calibration frequency, cumulative repeat purchases, P(alive)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from crmflow.plots.base import pyplot, save_figure

__all__ = ["cumulative_plot", "holdout_frequency_plot", "p_alive_plot"]


def holdout_frequency_plot(table: pd.DataFrame, title: str, path: Path) -> Path:
    """Mean actual vs predicted holdout purchases per calibration frequency (`holdout_by_frequency`'s table)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(table["frequency"], table["actual"], marker="o", color="black", label="actual")
    ax.plot(table["frequency"], table["predicted"], marker="s", linestyle="--", color="tab:blue", label="model")
    ax.set(title=title, xlabel="repeat purchases in the calibration period", ylabel="mean purchases in the holdout")
    ax.legend()
    return save_figure(fig, path)


def cumulative_plot(curve: pd.DataFrame, unit: str, title: str, path: Path) -> Path:
    """Cumulative repeat purchases, actual vs expected, with the calibration end marked."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot(curve["period"], curve["actual"], color="black", label="actual")
    ax.plot(curve["period"], curve["expected"], color="tab:blue", linestyle="--", label="model")
    ax.axvline(
        curve.loc[curve["calibration"], "period"].max(), color="tab:gray", linestyle=":", label="calibration end"
    )
    ax.set(title=title, xlabel=f"periods ({unit}) since the first purchase", ylabel="cumulative repeat purchases")
    ax.legend(loc="upper left")
    return save_figure(fig, path)


def p_alive_plot(matrix: pd.DataFrame, title: str, path: Path) -> Path:
    """P(alive) over frequency (rows) x recency (columns) at the longest T; blank cells are impossible."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5.5))
    extent = (matrix.columns.min(), matrix.columns.max(), matrix.index.min() - 0.5, matrix.index.max() + 0.5)
    image = ax.imshow(
        np.ma.masked_invalid(matrix.to_numpy(dtype=float)),
        origin="lower",
        aspect="auto",
        extent=extent,
        vmin=0,
        vmax=1,
        cmap="viridis",
    )
    fig.colorbar(image, ax=ax, label="P(alive)")
    ax.set(title=title, xlabel=f"recency ({matrix.columns.name})", ylabel="frequency (repeat purchases)")
    return save_figure(fig, path)
