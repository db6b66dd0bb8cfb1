"""Predictor plots: ROC and precision–recall curves, confusion matrix, importances, predicted vs actual."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from crmflow.plots.base import pyplot, save_figure

__all__ = ["confusion_matrix", "importance_bars", "predicted_vs_actual", "probability_curves"]


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
    """The `top` features by importance, largest on top."""
    shown = importances.head(top).iloc[::-1]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(shown) + 1.5))
    ax.barh(shown["feature"].astype(str), shown["importance"], xerr=shown.get("std"))
    ax.set(xlabel=str(importances["kind"].iloc[0]), title="Feature importance")
    return save_figure(fig, path)


def predicted_vs_actual(sets: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> Path:
    """Predicted against actual values for named sets, with the identity line."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, (actual, predicted) in sets.items():
        ax.scatter(actual, predicted, s=6, alpha=0.5, label=name)
    everything = np.concatenate([np.concatenate(pair) for pair in sets.values()])
    low, high = float(np.min(everything)), float(np.max(everything))
    ax.plot([low, high], [low, high], linestyle="--", color="grey")
    ax.set(xlabel="actual", ylabel="predicted", title="Predicted vs actual")
    ax.legend(markerscale=3)
    return save_figure(fig, path)
