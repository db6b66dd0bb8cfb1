"""Predictor plots: ROC and precision–recall curves, confusion matrix, importances, predicted vs actual."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from crmflow.plots.base import pyplot, save_figure

__all__ = ["confusion_matrix", "heavy_tailed", "importance_bars", "predicted_vs_actual", "probability_curves"]

SKEW_LIMIT = 2.0  # a target skewed beyond this is drawn on log axes
SPAN_LIMIT = 20.0  # ... and so is one whose maximum is above this many medians


def probability_curves(sets: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> Path:
    """ROC and precision–recall curves of named (actual, probability) sets side by side."""
    from sklearn.metrics import (
        average_precision_score,
        precision_recall_curve,
        roc_auc_score,
        roc_curve,
    )

    plt = pyplot()
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(10, 4.5))
    for name, (actual, probability) in sets.items():
        fpr, tpr, _ = roc_curve(actual, probability)
        roc_ax.plot(fpr, tpr, label=f"{name}: AUC {roc_auc_score(actual, probability):.3f}")
        precision, recall, _ = precision_recall_curve(actual, probability)
        pr_ax.plot(recall, precision, label=f"{name}: AP {average_precision_score(actual, probability):.3f}")
    roc_ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
    pr_ax.axhline(float(np.mean(next(iter(sets.values()))[0])), linestyle="--", color="grey")
    roc_ax.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC")
    pr_ax.set(xlabel="Recall", ylabel="Precision", title="Precision–recall")
    roc_ax.legend()
    pr_ax.legend()
    return save_figure(fig, path)


def confusion_matrix(actual: np.ndarray, predicted: np.ndarray, title: str, path: Path) -> Path:
    """Counts of actual against predicted classes, annotated."""
    from sklearn.metrics import confusion_matrix as counts_of

    counts = counts_of(actual, predicted.astype(int), labels=[0, 1])
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.imshow(counts, cmap="Blues")
    for (row, column), value in np.ndenumerate(counts):
        colour = "white" if value > counts.max() / 2 else "black"
        ax.text(column, row, str(value), ha="center", va="center", color=colour)
    ax.set(xticks=[0, 1], yticks=[0, 1], xlabel="predicted", ylabel="actual", title=f"Confusion matrix ({title})")
    return save_figure(fig, path)


def importance_bars(importances: pd.DataFrame, path: Path, top: int = 20) -> Path:
    """The `top` features by size, largest on top; signed values (coefficients) red when positive, blue when
    negative, around a zero line."""
    shown = importances.head(top).iloc[::-1]
    values = shown["importance"].to_numpy(dtype="float64")
    signed = bool((values < 0).any()) and str(importances["kind"].iloc[0]).startswith("coefficient")
    colours = np.where(values >= 0, "tab:red", "tab:blue") if signed else "tab:blue"
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(shown) + 1.5))
    ax.barh(shown["feature"].astype(str), values, xerr=shown.get("std"), color=colours)
    if signed:
        ax.axvline(0, color="black", linewidth=0.8)
    kind = str(importances["kind"].iloc[0])
    title = "Feature importance" + ("\nred raises, blue lowers the prediction" if signed else "")
    ax.set(xlabel=kind, title=title)
    return save_figure(fig, path)


def heavy_tailed(values: np.ndarray) -> bool:
    """A non-negative amount whose skewness is above `SKEW_LIMIT` or whose maximum is above `SPAN_LIMIT` times
    its median (or whose median is 0 with some positive values): spend and other amounts where a linear axis
    crowds almost every customer into one corner."""
    values = np.asarray(values, dtype="float64")
    values = values[np.isfinite(values)]
    if len(values) < 3 or values.min() < 0 or values.max() == 0:
        return False
    median, spread = float(np.median(values)), float(values.std())
    skew = float(np.mean((values - values.mean()) ** 3) / spread**3) if spread > 0 else 0.0
    return skew > SKEW_LIMIT or values.max() > SPAN_LIMIT * median


def predicted_vs_actual(sets: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> Path:
    """Predicted against actual values for named sets, with the identity line; both axes symmetric-log (linear
    within ±1, so zeros and negative predictions stay on the plot) when the actual values are heavy-tailed."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, (actual, predicted) in sets.items():
        ax.scatter(actual, predicted, s=6, alpha=0.5, label=name)
    everything = np.concatenate([np.concatenate(pair) for pair in sets.values()])
    low, high = float(np.min(everything)), float(np.max(everything))
    ax.plot([low, high], [low, high], linestyle="--", color="grey", label="predicted = actual")
    logged = heavy_tailed(np.concatenate([actual for actual, _ in sets.values()]))
    if logged:
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_yscale("symlog", linthresh=1.0)
    scale = " (symmetric log scale)" if logged else ""
    ax.set(xlabel=f"actual{scale}", ylabel=f"predicted{scale}", title="Predicted vs actual")
    ax.legend(markerscale=3, fontsize=8)
    return save_figure(fig, path)
