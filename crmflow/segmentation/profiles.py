"""Segment profiles: size, feature means/medians and lift over the population, top items, a description."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd


def describe(lifts: pd.Series, n_terms: int = 2) -> str:
    """Name the most distinctive features, e.g. "high monetary, low recency"."""
    strength = np.log(lifts.where(lifts > 0)).dropna()
    strength = strength[strength.abs() > np.log(1.15)]
    top = strength.abs().sort_values(ascending=False).index[:n_terms]
    return ", ".join(f"{'high' if strength[f] > 0 else 'low'} {f}" for f in top) or "average"


def top_items(transactions: pd.DataFrame, labels: pd.Series, n_items: int = 3) -> pd.Series:
    """Per segment, the items bought by the largest share of its customers, e.g. "milk 41%; bread 30%"."""
    bought = transactions.loc[transactions["item"].notna(), ["customer_id", "item"]].drop_duplicates()
    bought = bought.assign(segment=bought["customer_id"].map(labels)).dropna(subset=["segment"])
    customers = labels.value_counts()
    counts = bought.groupby(["segment", "item"]).size().rename("n").reset_index()
    counts["share"] = counts["n"] / counts["segment"].map(customers)
    top = counts.sort_values(["segment", "share", "item"], ascending=[True, False, True]).groupby("segment").head(n_items)
    return top.groupby("segment").apply(
        lambda rows: "; ".join(f"{item} {share:.0%}" for item, share in zip(rows["item"], rows["share"], strict=True)),
        include_groups=False,
    )


def segment_profiles(
    features: pd.DataFrame,
    labels: pd.Series,
    target: pd.Series | None = None,
    names: Mapping[int, str] | None = None,
    transactions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per segment: size, share, mean and median of each numeric feature, lift of the mean over
    the population, target rate, top items (when transactions have items), name and description.

    `labels` is indexed like `features` (by customer id); `names` are segment names a rule-based
    segmenter gives its segments (RFM classes, tree paths).
    """
    numeric = features.select_dtypes("number")
    grouped = numeric.groupby(labels.to_numpy())
    means = grouped.mean()
    population = numeric.mean()
    lifts = means / population.replace(0, np.nan)
    profile = pd.DataFrame({"size": grouped.size()})
    profile["share"] = profile["size"] / len(labels)
    if names:
        profile.insert(0, "name", [names.get(segment, str(segment)) for segment in profile.index])
    profile = profile.join(means.add_prefix("mean_")).join(grouped.median().add_prefix("median_"))
    profile = profile.join(lifts.add_prefix("lift_"))
    if target is not None:
        rate = target.groupby(labels.to_numpy()).mean()
        profile[f"{target.name}_rate"] = rate
    if transactions is not None and "item" in transactions and transactions["item"].notna().any():
        profile["top_items"] = top_items(transactions, labels)
    profile["description"] = [describe(lifts.loc[segment]) for segment in profile.index]
    profile.index.name = "segment"
    return profile
