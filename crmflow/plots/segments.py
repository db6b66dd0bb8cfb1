"""Segmentation plots: customers by segment (PCA), the profile heatmap, segment sizes, the tuning objective by a size
parameter, hidden Markov state transitions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from crmflow.plots.base import pyplot, save_figure

__all__ = [
    "objective_by_size",
    "pca_axis_labels",
    "profile_heatmap",
    "ratio_ticks",
    "segment_labels",
    "segment_scatter",
    "segment_sizes",
    "transition_heatmap",
]


def segment_scatter(matrix: pd.DataFrame, labels: pd.Series, path: Path) -> Path:
    """Customers on the first two principal components, coloured by segment; each axis states the share of the
    matrix's variance it explains, the subtitle their total (how much of the picture the projection shows)."""
    from sklearn.decomposition import PCA

    plt = pyplot()
    values = matrix.to_numpy(dtype="float64")
    pca = PCA(n_components=min(2, values.shape[1])).fit(values)
    components = pca.transform(values)
    explained = list(pca.explained_variance_ratio_)
    if components.shape[1] == 1:
        components = np.column_stack([components[:, 0], np.zeros(len(components))])
    fig, ax = plt.subplots(figsize=(6, 5))
    for segment in np.unique(labels):
        mask = labels.to_numpy() == segment
        ax.scatter(components[mask, 0], components[mask, 1], s=6, alpha=0.6, label=f"segment {segment}")
    x_label, y_label = pca_axis_labels(explained)
    ax.set(xlabel=x_label, ylabel=y_label)
    ax.set_title(f"Customer segments (PCA projection)\nthe two axes explain {sum(explained):.0%} of the variance")
    ax.legend(markerscale=3, fontsize=8)
    return save_figure(fig, path)


def pca_axis_labels(explained: list[float]) -> tuple[str, str]:
    """ "PC1 (34%)", "PC2 (21%)" from the explained variance ratios (a one-column matrix has no second)."""
    first = f"PC1 ({explained[0]:.0%})"
    second = f"PC2 ({explained[1]:.0%})" if len(explained) > 1 else "PC2 (none: one feature)"
    return first, second


def segment_labels(profiles: pd.DataFrame, width: int = 40) -> list[str]:
    """Each segment's name (when it has one, shortened to `width`) or id, with its share of customers."""
    names = profiles["name"].astype(str) if "name" in profiles else profiles.index.astype(str)
    short = [n if len(n) <= width else n[: width - 1] + "…" for n in names]
    return [f"{name} ({share:.0%})" for name, share in zip(short, profiles["share"], strict=True)]


def ratio_ticks(limit: float) -> tuple[list[float], list[str]]:
    """Colour-bar ticks on a log2 scale running from -limit to limit, labelled as ratios (0.5×, 1×, 2×): the
    whole powers of two inside it, or the ends and halfway points when the range is narrower than one."""
    whole = list(range(-int(np.floor(limit)), int(np.floor(limit)) + 1))
    positions = [float(p) for p in whole] if len(whole) >= 3 else [-limit, -limit / 2, 0.0, limit / 2, limit]
    return positions, [f"{2.0**p:.3g}×" for p in positions]


def profile_heatmap(profiles: pd.DataFrame, path: Path) -> Path:
    """Segments × features: each cell prints the lift of the segment's mean over the population's (1.50× = half
    again the average), coloured on a log2 scale so 2× and 0.5× are equally strong (red above, blue below); the
    colour bar is labelled in the same ratios."""
    plt = pyplot()
    lifts = profiles.filter(like="lift_").rename(columns=lambda c: c.removeprefix("lift_"))
    values = np.log2(lifts.where(lifts > 0).astype("float64"))
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * lifts.shape[1], 1.2 + 0.5 * len(lifts)))
    limit = float(np.nanmax(np.abs(values.to_numpy()))) if np.isfinite(values.to_numpy()).any() else 1.0
    limit = max(limit, 0.1)  # a flat profile still gets a readable bar
    image = ax.imshow(values.to_numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(lifts.shape[1]), lifts.columns, rotation=45, ha="right")
    ax.set_yticks(range(len(lifts)), segment_labels(profiles))
    for (i, j), lift in np.ndenumerate(lifts.to_numpy(dtype="float64")):
        strong = np.isfinite(lift) and lift > 0 and abs(np.log2(lift)) > 0.6 * limit  # white on a dark cell
        text = f"{lift:.2f}×" if np.isfinite(lift) else "–"
        ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if strong else "black")
    bar = fig.colorbar(image, ax=ax, label="lift (log scale)")
    positions, labels = ratio_ticks(limit)
    bar.set_ticks(positions, labels=labels)
    ax.set_title("Segment profiles: lift of the mean")
    return save_figure(fig, path)


def segment_sizes(profiles: pd.DataFrame, path: Path) -> Path:
    """One horizontal bar per segment (by name when it has one), its customers, labelled with its share."""
    plt = pyplot()
    shown = profiles.sort_values("size", kind="stable")
    names = shown["name"].astype(str) if "name" in shown else shown.index.astype(str).to_series()
    names = [f"segment {n}" if n == str(i) else n for n, i in zip(names, shown.index, strict=True)]  # unnamed
    names = [n if len(n) <= 40 else n[:39] + "…" for n in names]
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(shown) + 1.5))
    bars = ax.barh(range(len(shown)), shown["size"].to_numpy(), color="tab:blue")
    ax.bar_label(bars, [f"{share:.1%}" for share in shown["share"]], padding=3, fontsize=8)
    ax.set_yticks(range(len(shown)), names)
    ax.set_xlim(0, float(shown["size"].max()) * 1.15)
    ax.set(xlabel="customers", title=f"Segment sizes ({int(shown['size'].sum())} customers)")
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
