"""Segmentation plots: customers by segment (PCA), the profile heatmap, the tuning objective by a size parameter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from crmflow.plots.base import pyplot, save_figure

__all__ = ["objective_by_size", "profile_heatmap", "segment_labels", "segment_scatter"]


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


def objective_by_size(history: pd.DataFrame, metric: str, path: Path, size_parameter: str | None) -> Path | None:
    """The study's objective against the option's size parameter (`segmentation.settings.size_parameter`, e.g.
    n_clusters); None when the option has none or the study did not tune it."""
    complete = history[history["state"] == "COMPLETE"]
    column = f"params_{size_parameter}"
    if size_parameter is None or column not in complete or complete.empty:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(complete[column], complete["value"], s=18)
    best = complete.groupby(column)["value"].max().sort_index()
    ax.plot(best.index, best.to_numpy(), alpha=0.6, label="best per value")
    ax.set(xlabel=column.removeprefix("params_"), ylabel=metric, title=f"segmentation: {metric} by {column[7:]}")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def transition_heatmap(transitions: pd.DataFrame, shares: pd.Series, path: Path) -> Path:
    """From-state × next-state probabilities of a hidden Markov segmentation, with each state's current share."""
    plt = pyplot()
    n = len(transitions)
    fig, ax = plt.subplots(figsize=(1.5 + 1.1 * n, 1.2 + 0.9 * n))
    image = ax.imshow(transitions.to_numpy(dtype="float64"), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), transitions.columns, rotation=30, ha="right")
    ax.set_yticks(range(n), [f"{name} ({shares.get(name, 0):.0%} now)" for name in transitions.index])
    for (i, j), value in np.ndenumerate(transitions.to_numpy(dtype="float64")):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="white" if value > 0.5 else "black")
    fig.colorbar(image, ax=ax, label="probability next period")
    ax.set(xlabel="next period", ylabel="this period", title="Customer state transitions")
    return save_figure(fig, path)
