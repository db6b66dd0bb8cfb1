"""Segmentation measures and profiles on tiny hand-checked data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmflow.segmentation.metrics import segmentation_metrics
from crmflow.segmentation.profiles import (
    describe,
    distinctive_items,
    item_shares,
    segment_profiles,
)


def test_metrics_leave_noise_out_and_report_its_share() -> None:
    X = pd.DataFrame({"a": [0.0, 0.1, 10.0, 10.1, 50.0]})
    metrics = segmentation_metrics(X, np.array([0, 0, 1, 1, -1]), sample_size=1000, seed=0)
    assert metrics["n_segments"] == 2
    assert metrics["noise_share"] == pytest.approx(0.2)
    assert metrics["smallest_segment_share"] == pytest.approx(0.4)
    assert metrics["silhouette"] > 0.9


@pytest.mark.parametrize("labels", [[0, 0, 0, 0], [-1, -1, 0, 0], [0, 1, 2, 3]])
def test_degenerate_segmentations_cannot_win(labels: list[int]) -> None:
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="segment"):
        segmentation_metrics(X, np.array(labels), sample_size=1000, seed=0)


def test_profiles_sizes_means_lifts_and_rates() -> None:
    features = pd.DataFrame({"monetary": [10.0, 30.0, 100.0, 100.0], "recency": [50.0, 50.0, 5.0, 15.0]})
    labels = pd.Series([0, 0, 1, 1])
    churn = pd.Series([1, 1, 0, 1], name="churn")
    profile = segment_profiles(features, labels, churn)
    assert profile["size"].tolist() == [2, 2]
    assert profile.loc[0, "mean_monetary"] == 20
    assert profile.loc[1, "lift_monetary"] == pytest.approx(100 / 60)
    assert profile["churn_rate"].tolist() == [1.0, 0.5]
    # mid-rank percentiles: monetary ranks 1, 2, 3.5, 3.5 and recency 3.5, 3.5, 1, 2 of 4
    assert profile["percentile_monetary"].tolist() == [0.25, 0.75]
    assert profile.loc[1, "percentile_recency"] == pytest.approx(0.25)
    assert profile.loc[1, "description"] == "high monetary, low recency"


def test_one_very_large_customer_does_not_make_everyone_else_look_low() -> None:
    features = pd.DataFrame({"monetary": [10.0, 20, 30, 40, 50, 10_000], "frequency": [1.0, 2, 3, 4, 5, 6]})
    profile = segment_profiles(features, pd.Series([0, 0, 0, 0, 0, 1]))
    assert profile.loc[0, "lift_monetary"] < 0.02  # the mean says "low"; the customers are typical
    assert profile["description"].tolist() == ["average", "high monetary, high frequency"]


def test_top_and_distinctive_items_per_segment() -> None:
    features = pd.DataFrame({"monetary": [1.0, 2, 3, 4]}, index=pd.Index(list("abcd"), name="customer_id"))
    labels = pd.Series([0, 0, 1, 1], index=features.index)
    transactions = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", "c", "d", "z"],  # z has no segment and is left out
            "item": ["tea", "cake", "tea", "milk", "tea", "milk", "tea"],
        }
    )
    profile = segment_profiles(features, labels, transactions=transactions)
    assert profile["top_items"].tolist() == ["tea 100%; cake 50%", "milk 100%; tea 50%"]
    assert profile["distinctive_items"].tolist() == ["", ""]  # fewer than 5 customers buy any item
    # tea: 3 of 4 customers overall, so 100% of segment 0 is a lift of 1.33; cake and milk 2.0
    shares = item_shares(transactions, labels)
    assert distinctive_items(shares, min_customers=1).tolist() == ["cake x2.0; tea x1.3", "milk x2.0"]
    assert distinctive_items(item_shares(transactions.assign(item="tea"), labels), min_customers=1).empty


def test_profiles_average_an_amount_target() -> None:
    features = pd.DataFrame({"monetary": [10.0, 30.0, 100.0, 100.0]})
    spend = pd.Series([0.0, 20.0, 250.5, 149.5], name="spend")
    profile = segment_profiles(features, pd.Series([0, 0, 1, 1]), spend)
    assert profile["spend_mean"].tolist() == [10.0, 200.0]
    assert "spend_rate" not in profile


def test_describe_names_the_features_furthest_from_the_middle() -> None:
    assert describe(pd.Series({"a": 0.55, "b": 0.45})) == "average"
    assert describe(pd.Series({"a": 0.9, "b": 0.2, "c": 0.65})) == "high a, low b"
