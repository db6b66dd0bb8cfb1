"""PNG plots logged as run artifacts (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def pyplot() -> Any:
    """matplotlib.pyplot on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> Path:
    """Write `fig` as a PNG to `path`, close it, return the path."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    return path


def segment_scatter(matrix: pd.DataFrame, labels: pd.Series, path: Path) -> Path:
    """Customers on the first two principal components, coloured by segment."""
    from sklearn.decomposition import PCA

    plt = pyplot()
    values = matrix.to_numpy(dtype="float64")
    components = PCA(n_components=min(2, values.shape[1])).fit_transform(values)
    if components.shape[1] == 1:
        components = np.column_stack([components[:, 0], np.zeros(len(components))])
    fig, ax = plt.subplots(figsize=(6, 5))
    for segment in np.unique(labels):
        mask = labels.to_numpy() == segment
        ax.scatter(components[mask, 0], components[mask, 1], s=6, alpha=0.6, label=f"segment {segment}")
    ax.set(xlabel="PC 1", ylabel="PC 2", title="Customer segments (PCA projection)")
    ax.legend(markerscale=3, fontsize=8)
    return save_figure(fig, path)


def rules_scatter(rules: pd.DataFrame, path: Path) -> Path:
    """Support against confidence for every rule, coloured by lift."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    points = ax.scatter(rules["support"], rules["confidence"], c=rules["lift"], cmap="viridis", s=12)
    fig.colorbar(points, ax=ax, label="lift")
    ax.set(xlabel="support", ylabel="confidence", title=f"{len(rules)} association rules")
    return save_figure(fig, path)


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
