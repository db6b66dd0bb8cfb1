"""The rules plot: support against confidence for every rule, coloured by lift."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crmflow.plots.base import pyplot, save_figure

__all__ = ["rules_scatter"]


def rules_scatter(rules: pd.DataFrame, path: Path) -> Path:
    """Support against confidence for every rule, coloured by lift."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    points = ax.scatter(rules["support"], rules["confidence"], c=rules["lift"], cmap="viridis", s=12)
    fig.colorbar(points, ax=ax, label="lift")
    ax.set(xlabel="support", ylabel="confidence", title=f"{len(rules)} association rules")
    return save_figure(fig, path)
