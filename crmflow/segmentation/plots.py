"""Segmentation plots: the profile heatmap and the tuning objective against a size parameter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from crmflow.plots import pyplot, save_figure

SIZE_PARAMETERS = ("n_clusters", "n_components", "max_depth", "min_cluster_size", "eps")


def segment_labels(profiles: pd.DataFrame, width: int = 40) -> list[str]:
    """Each segment's name (when it has one, shortened to `width`) or id, with its share of customers."""
    names = profiles["name"].astype(str) if "name" in profiles else profiles.index.astype(str)
    short = [n if len(n) <= width else n[: width - 1] + "…" for n in names]
    return [f"{name} ({share:.0%})" for name, share in zip(short, profiles["share"], strict=True)]


def profile_heatmap(profiles: pd.DataFrame, path: Path) -> Path:
    """Segments × features, coloured by log2 lift over the population (red above, blue below)."""
    plt = pyplot()
    lifts = profiles.filter(like="lift_").rename(columns=lambda c: c.removeprefix("lift_"))
    values = np.log2(lifts.where(lifts > 0).astype("float64"))
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * lifts.shape[1], 1.2 + 0.5 * len(lifts)))
    limit = float(np.nanmax(np.abs(values.to_numpy()))) if np.isfinite(values.to_numpy()).any() else 1.0
    image = ax.imshow(values.to_numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(lifts.shape[1]), lifts.columns, rotation=45, ha="right")
    ax.set_yticks(range(len(lifts)), segment_labels(profiles))
    for (i, j), lift in np.ndenumerate(lifts.to_numpy(dtype="float64")):
        ax.text(j, i, f"{lift:.2f}" if np.isfinite(lift) else "–", ha="center", va="center", fontsize=7)
    fig.colorbar(image, ax=ax, label="log2 lift of the mean")
    ax.set_title("Segment profiles")
    return save_figure(fig, path)


def objective_by_size(history: pd.DataFrame, metric: str, path: Path) -> Path | None:
    """The study's objective against the first size parameter it tuned (e.g. k); None when none was tuned."""
    complete = history[history["state"] == "COMPLETE"]
    column = next((f"params_{p}" for p in SIZE_PARAMETERS if f"params_{p}" in complete), None)
    if column is None or complete.empty:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(complete[column], complete["value"], s=18)
    best = complete.groupby(column)["value"].max().sort_index()
    ax.plot(best.index, best.to_numpy(), alpha=0.6, label="best per value")
    ax.set(xlabel=column.removeprefix("params_"), ylabel=metric, title=f"segmentation: {metric} by {column[7:]}")
    ax.legend(fontsize=8)
    return save_figure(fig, path)
