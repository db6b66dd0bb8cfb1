"""Segment profiles: size, feature means and their lift over the population, a short description."""

from __future__ import annotations

import numpy as np
import pandas as pd


def describe(lifts: pd.Series, n_terms: int = 2) -> str:
    """Name the most distinctive features, e.g. "high monetary, low recency"."""
    strength = np.log(lifts.where(lifts > 0)).dropna()
    strength = strength[strength.abs() > np.log(1.15)]
    top = strength.abs().sort_values(ascending=False).index[:n_terms]
    return ", ".join(f"{'high' if strength[f] > 0 else 'low'} {f}" for f in top) or "average"


def segment_profiles(features: pd.DataFrame, labels: pd.Series, target: pd.Series | None = None) -> pd.DataFrame:
    """One row per segment: size, share, mean of each numeric feature, lift, target rate, description."""
    numeric = features.select_dtypes("number")
    grouped = numeric.groupby(labels.to_numpy())
    means = grouped.mean()
    population = numeric.mean()
    lifts = means / population.replace(0, np.nan)
    profile = pd.DataFrame({"size": grouped.size()})
    profile["share"] = profile["size"] / len(labels)
    profile = profile.join(means.add_prefix("mean_")).join(lifts.add_prefix("lift_"))
    if target is not None:
        rate = target.groupby(labels.to_numpy()).mean()
        profile[f"{target.name}_rate"] = rate
    profile["description"] = [describe(lifts.loc[segment]) for segment in profile.index]
    profile.index.name = "segment"
    return profile
