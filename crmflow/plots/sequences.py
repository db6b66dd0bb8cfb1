"""The sequences plot: the most frequent patterns of two itemsets or more, by the share of customers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crmflow.plots.base import pyplot, save_figure

__all__ = ["top_patterns_plot"]


def top_patterns_plot(patterns: pd.DataFrame, path: Path, top: int = 20) -> Path:
    """Horizontal bars of the `top` sequential patterns (n_itemsets >= 2) by support."""
    shown = patterns[patterns["n_itemsets"] >= 2].head(top).iloc[::-1]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.3 * len(shown) + 1)))
    labels = [text if len(text) <= 60 else text[:57] + "..." for text in shown["pattern_text"]]
    ax.barh(labels, shown["support"], color="tab:blue")
    title = f"top {len(shown)} sequential patterns" if len(shown) else "no pattern of two itemsets or more"
    ax.set(xlabel="support (share of customers)", title=title)
    return save_figure(fig, path)
