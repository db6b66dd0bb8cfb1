"""Artifacts of a segmenter of states (hidden Markov customer states): the transition matrix as CSV and
heat-map, each state's mean activity, and the profile columns `next_<state>` (the probability of moving there next
period)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from crmflow.plots.segments import transition_heatmap

__all__ = ["next_period_shares", "state_artifacts"]


def _has_states(fitted: Any) -> bool:
    return isinstance(getattr(fitted, "transmat_", None), pd.DataFrame)


def next_period_shares(fitted: Any) -> pd.DataFrame:
    """Per state (by its index), the fitted probability of each state next period; empty for other segmenters."""
    if not _has_states(fitted):
        return pd.DataFrame()
    shares = fitted.transmat_.add_prefix("next_")
    return shares.set_axis(range(len(shares)))


def state_artifacts(fitted: Any, folder: Path) -> list[Path]:
    """state_transitions.csv, state_transitions.png and state_means.csv; none for other segmenters."""
    if not _has_states(fitted):
        return []
    transitions, means = folder / "state_transitions.csv", folder / "state_means.csv"
    fitted.transmat_.rename_axis("from_state").to_csv(transitions)
    fitted.means_.rename_axis("state").to_csv(means)
    plot = transition_heatmap(fitted.transmat_, fitted.state_shares_, folder / "state_transitions.png")
    return [transitions, plot, means]
