"""Segment profiles: size, feature means/medians, lift and percentile in the population, top and
distinctive items, a description."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd


def population_percentiles(numeric: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Per segment and feature, the mean population percentile of its customers (ties at mid-rank).

    0.5 is typical; near 1 the segment's customers are among the highest. Unlike the lift of the
    mean, a few very large customers cannot make a whole segment look "high".
    """
    percentiles = (numeric.rank(method="average") - 0.5) / numeric.notna().sum()
    return percentiles.groupby(labels).mean()


def describe(percentiles: pd.Series, n_terms: int = 2, margin: float = 0.1) -> str:
    """Name the most distinctive features, e.g. "high monetary, low recency": those whose mean
    population percentile is furthest from the middle (0.5), by more than `margin`."""
    offset = (percentiles - 0.5).dropna()
    offset = offset[offset.abs() > margin]
    top = offset.abs().sort_values(ascending=False, kind="stable").index[:n_terms]
    return ", ".join(f"{'high' if offset[f] > 0 else 'low'} {f}" for f in top) or "average"


def item_shares(transactions: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """Per segment and item, the share of the segment's customers who bought it and that share's
    lift over the share of all segmented customers who bought it."""
    bought = transactions.loc[transactions["item"].notna(), ["customer_id", "item"]].drop_duplicates()
    bought = bought.assign(segment=bought["customer_id"].map(labels)).dropna(subset=["segment"])
    bought["segment"] = bought["segment"].astype(labels.dtype)
    counts = bought.groupby(["segment", "item"]).size().rename("n").reset_index()
    counts["share"] = counts["n"] / counts["segment"].map(labels.value_counts())
    overall = bought.groupby("item").size() / len(labels)
    counts["lift"] = counts["share"] / counts["item"].map(overall)
    return counts


def _join_per_segment(rows: pd.DataFrame, n_items: int, order: list[str], text: str) -> pd.Series:
    if rows.empty:
        return pd.Series(dtype=object)
    ascending = [True] + [False] * (len(order) - 1) + [True]
    top = rows.sort_values(["segment", *order[1:], "item"], ascending=ascending).groupby("segment").head(n_items)
    return top.groupby("segment").apply(
        lambda group: "; ".join(text.format(**row) for row in group.to_dict("records")), include_groups=False
    )


def top_items(shares: pd.DataFrame, n_items: int = 3) -> pd.Series:
    """Per segment, the items bought by the largest share of its customers, e.g. "milk 41%; bread 30%"."""
    return _join_per_segment(shares, n_items, ["segment", "share"], "{item} {share:.0%}")


def distinctive_items(
    shares: pd.DataFrame, n_items: int = 3, min_share: float = 0.1, min_customers: int = 5
) -> pd.Series:
    """Per segment, the items its customers buy more often than customers overall (highest lift of the
    share buying), among items at least `min_share` of the segment and `min_customers` customers
    bought, so a handful of purchases cannot top the list; e.g. "tea x3.1; cake x2.4"."""
    common = shares[(shares["share"] >= min_share) & (shares["n"] >= min_customers) & (shares["lift"] > 1)]
    return _join_per_segment(common, n_items, ["segment", "lift", "share"], "{item} x{lift:.1f}")


def segment_profiles(
    features: pd.DataFrame,
    labels: pd.Series,
    target: pd.Series | None = None,
    names: Mapping[int, str] | None = None,
    transactions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per segment: size, share, mean and median of each numeric feature, lift of the mean over
    the population, target rate (or mean, for an amount), top and distinctive items (when transactions
    have items), mean population percentile of each feature, name and description.

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
        kind = "rate" if target.dropna().isin([0, 1]).all() else "mean"  # churn_rate, spend_mean
        profile[f"{target.name}_{kind}"] = target.groupby(labels.to_numpy()).mean()
    if transactions is not None and "item" in transactions and transactions["item"].notna().any():
        shares = item_shares(transactions, labels)
        profile["top_items"] = top_items(shares)
        profile["distinctive_items"] = distinctive_items(shares).reindex(profile.index).fillna("")
    percentiles = population_percentiles(numeric, labels.to_numpy())
    profile = profile.join(percentiles.add_prefix("percentile_"))
    profile["description"] = [describe(percentiles.loc[segment]) for segment in profile.index]
    profile.index.name = "segment"
    return profile
