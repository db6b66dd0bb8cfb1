"""The Pareto front plot: every complete trial on the first two objectives, the front as a staircase, the
selected trial marked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from crmflow.config.goals import Objective
from crmflow.plots.base import pyplot, save_figure

__all__ = ["pareto_front_plot"]

ARROWS = {"maximize": "↑", "minimize": "↓"}


def pareto_front_plot(
    table: pd.DataFrame, objectives: Sequence[Objective], selected: int, title: str, path: Path
) -> Path:
    """`table` is `crmflow.pareto.front_table`'s; trials off the front in grey (infeasible ones as x), the front
    in colour joined by the edge of the region it dominates, trial number `selected` starred and annotated.
    With three or more objectives the first two are drawn and the title says so."""
    if len(objectives) < 2:
        raise ValueError(f"a Pareto front plot needs two objectives; got {len(objectives)}")
    first, second = objectives[0], objectives[1]
    x, y = first.metric, second.metric
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    off = table[~table["on_front"].astype(bool)]
    feasible = off["feasible"].astype(bool)
    ax.scatter(off.loc[feasible, x], off.loc[feasible, y], color="tab:gray", alpha=0.5, s=18, label="dominated")
    ax.scatter(off.loc[~feasible, x], off.loc[~feasible, y], color="tab:gray", marker="x", s=24, label="infeasible")
    front = table[table["on_front"].astype(bool)].sort_values([x, y])
    # the edge of the dominated region: each front point's y holds towards the worse side of x
    where = "pre" if first.direction == "maximize" else "post"
    ax.step(front[x], front[y], where=where, color="tab:blue", alpha=0.7)
    ax.scatter(front[x], front[y], color="tab:blue", s=30, zorder=3, label=f"Pareto front ({len(front)})")
    chosen = table[table["number"] == selected]
    if not chosen.empty:
        point = (float(chosen[x].iloc[0]), float(chosen[y].iloc[0]))
        ax.scatter(*point, marker="*", s=250, color="tab:red", zorder=4, label="selected")
        ax.annotate(f"trial {selected}", point, textcoords="offset points", xytext=(8, 8), fontsize=8)
    shown = title if len(objectives) == 2 else f"{title} (first two of {len(objectives)} objectives)"
    ax.set(xlabel=f"{x} {ARROWS[first.direction]}", ylabel=f"{y} {ARROWS[second.direction]}", title=shown)
    ax.legend(fontsize=8)
    return save_figure(fig, path)
