"""Classifier plots a CRM analyst reads: the cumulative gains curve and the reliability (calibration) curve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from crmflow.plots.base import pyplot, save_figure

__all__ = ["calibration_plot", "gains_plot"]


def gains_plot(table: pd.DataFrame, curve: tuple[np.ndarray, np.ndarray], label: str, path: Path) -> Path:
    """The share of positives found against the share of customers targeted, best first; deciles marked, the
    random line dashed, the top decile's lift in the title (`table` is `gains_table`'s)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    targeted, found = curve
    ax.plot(targeted, found, color="tab:blue", label="model")
    shares = table["customers"].cumsum() / table["customers"].sum()
    ax.scatter(shares, table["cumulative_gain"], color="tab:blue", s=18, zorder=3, label="deciles")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    top = table.iloc[0]
    ax.annotate(
        f"top {shares.iloc[0]:.0%}: {top['cumulative_gain']:.0%} of positives",
        (shares.iloc[0], top["cumulative_gain"]),
        textcoords="offset points",
        xytext=(10, -14),
        fontsize=8,
    )
    ax.set(
        xlabel="share of customers targeted (highest probability first)",
        ylabel="share of positives found (cumulative gain)",
        title=f"Cumulative gains ({label}): top-decile lift {top['lift']:.2f}×",
        xlim=(0, 1),
        ylim=(0, 1.02),
    )
    ax.legend(fontsize=8, loc="lower right")
    return save_figure(fig, path)


def calibration_plot(table: pd.DataFrame, probability: np.ndarray, brier: float, label: str, path: Path) -> Path:
    """Observed positive rate against the mean predicted probability per quantile bin (`calibration_table`'s),
    the diagonal of perfect calibration, the Brier score in the title, and the predictions' histogram below."""
    plt = pyplot()
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(6, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    ax.plot(table["mean_predicted"], table["observed_rate"], marker="o", color="tab:blue", label="model")
    ax.set(
        ylabel="observed positive rate",
        title=f"Calibration ({label}, {len(table)} quantile bins): Brier score {brier:.3f}",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend(fontsize=8, loc="upper left")
    hist.hist(probability, bins=20, range=(0, 1), color="tab:blue", alpha=0.6)
    hist.set(xlabel="predicted probability", ylabel="customers")
    return save_figure(fig, path)
