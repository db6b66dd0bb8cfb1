"""The tuning plot: each completed trial's objective and the best so far."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crmflow.plots.base import pyplot, save_figure

__all__ = ["optimization_history"]


def optimization_history(values: pd.Series, direction: str, title: str, path: Path) -> Path:
    """Each completed trial's objective and the best so far."""
    plt = pyplot()
    best = values.cummax() if direction == "maximize" else values.cummin()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(values.index, values.to_numpy(), "o", alpha=0.6, label="trial")
    ax.plot(best.index, best.to_numpy(), "-", label="best so far")
    ax.set(xlabel="trial", ylabel="objective", title=title)
    ax.legend()
    return save_figure(fig, path)
