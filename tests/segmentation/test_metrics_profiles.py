"""Segmentation measures and profiles on tiny hand-checked data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmflow.segmentation.metrics import segmentation_metrics
from crmflow.segmentation.profiles import describe, segment_profiles


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
    assert profile.loc[1, "description"] == "low recency, high monetary"


def test_describe_says_average_when_nothing_stands_out() -> None:
    assert describe(pd.Series({"a": 1.05, "b": 0.95})) == "average"
