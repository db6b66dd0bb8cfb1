"""Tuning plots of what mattered: parameter importances, and the objective over the top two parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crmflow.plots.base import pyplot, save_figure

__all__ = ["param_importance_bars", "top_two_scatter"]

LOG_SPAN = 1000.0  # positive values spanning more than this ratio are drawn on a log axis


def param_importance_bars(importances: pd.DataFrame, title: str, path: Path) -> Path:
    """One bar per tuned parameter, the most important on top."""
    shown = importances.iloc[::-1]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(shown) + 1.5))
    ax.barh(shown["parameter"].astype(str), shown["importance"])
    ax.set(xlabel="importance (share of the objective's variation)", title=title)
    return save_figure(fig, path)


def top_two_scatter(history: pd.DataFrame, first: str, second: str, metric: str, direction: str, path: Path) -> Path:
    """Each complete trial at its values of the two parameters, coloured by the objective; the best starred.

    A categorical parameter is drawn at one position per category, labelled with its values; positive values
    spanning more than `LOG_SPAN` on a log axis.
    """
    complete = history[history["state"] == "COMPLETE"]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    x, x_labels = _axis(complete[f"params_{first}"])
    y, y_labels = _axis(complete[f"params_{second}"])
    values = complete["value"].to_numpy(dtype="float64")
    points = ax.scatter(x, y, c=values, cmap="viridis", s=30)
    best = int(np.argmax(values) if direction == "maximize" else np.argmin(values))
    ax.scatter([x[best]], [y[best]], marker="*", s=250, color="tab:red", label="best trial")
    fig.colorbar(points, ax=ax, label=metric)
    for labels, ticks, scale, numbers in (
        (x_labels, ax.set_xticks, ax.set_xscale, x),
        (y_labels, ax.set_yticks, ax.set_yscale, y),
    ):
        if labels is not None:
            ticks(range(len(labels)), labels)
        elif numbers.min() > 0 and numbers.max() / numbers.min() > LOG_SPAN:  # a log-scale parameter (tol, C)
            scale("log")
    ax.set(xlabel=first, ylabel=second, title=f"{metric} by the two most important parameters")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def _axis(column: pd.Series) -> tuple[np.ndarray, list[str] | None]:
    """Numbers as they are; anything else as category positions with their labels."""
    numeric = pd.to_numeric(column, errors="coerce")
    if numeric.notna().all() and column.map(lambda v: not isinstance(v, bool)).all():
        return numeric.to_numpy(dtype="float64"), None
    labels: list[Any] = sorted({str(v) for v in column})
    positions = {label: i for i, label in enumerate(labels)}
    return np.array([positions[str(v)] for v in column], dtype="float64"), labels
