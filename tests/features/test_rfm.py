"""RFM features and the churn label on a tiny log whose answers are computed by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from crmflow.data.base import CRMData
from crmflow.errors import ConfigError, DataError
from crmflow.features.rfm import RFMFeatures, activity_label, rfm_features, spend_target
from crmflow.features.table import customer_target, drop_unlabelled

CUTOFF = pd.Timestamp("2024-01-31")


@pytest.fixture
def log() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["C1", "C1", "C1", "C2", "C1"],
            "basket_id": ["B1", "B1", "B2", "B3", "B4"],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-11", "2024-01-05", "2024-03-01"]),
            "item": ["a", "b", "a", "c", "a"],
            "amount": [10.0, 5.0, 20.0, 7.0, 99.0],
        }
    )


def test_features_before_the_cutoff(log: pd.DataFrame) -> None:
    features = rfm_features(log, CUTOFF)
    c1, c2 = features.loc["C1"], features.loc["C2"]
    assert (c1.recency, c1.frequency, c1.monetary, c1.tenure) == (20, 2, 35, 30)
    assert (c1.avg_basket_value, c1.mean_interpurchase_days, c1.distinct_items) == (17.5, 10, 2)
    assert (c2.recency, c2.frequency, c2.monetary, c2.tenure, c2.avg_basket_value) == (26, 1, 7, 26, 7)
    assert (c1.avg_basket_size, c2.avg_basket_size) == (1.5, 1)  # B1 has two lines, B2 one
    assert math.isnan(c2.mean_interpurchase_days)


def test_baskets_default_to_customer_and_day(log: pd.DataFrame) -> None:
    features = rfm_features(log.drop(columns="basket_id"), CUTOFF)
    assert features.loc["C1", "frequency"] == 2


def test_label_uses_only_the_horizon_after_the_cutoff(log: pd.DataFrame) -> None:
    label = activity_label(log, pd.Index(["C1", "C2"]), CUTOFF, horizon_days=60)
    assert label.to_dict() == {"C1": 0, "C2": 1}
    assert activity_label(log, pd.Index(["C1"]), CUTOFF, horizon_days=20).loc["C1"] == 1


def test_builder_default_cutoff_is_end_minus_horizon(log: pd.DataFrame) -> None:
    table = RFMFeatures(horizon_days=30).build(CRMData("toy", transactions=log))
    assert table.cutoff == pd.Timestamp("2024-01-31")
    assert table.y.to_dict() == {"C1": 0, "C2": 1}


def test_merges_customer_attributes_without_the_target(log: pd.DataFrame) -> None:
    customers = pd.DataFrame(
        {
            "customer_id": ["C1", "C2"],
            "region": ["north", "south"],
            "joined": pd.to_datetime(["2023-12-31", "2024-01-01"]),
            "Churn": ["No", "Yes"],
        }
    )
    data = CRMData("toy", transactions=log, customers=customers, target="Churn")
    table = RFMFeatures(horizon_days=30).build(data)
    assert "Churn" not in table.X.columns
    assert table.X.loc["C2", "region"] == "south"
    assert table.X.loc["C1", "joined_days"] == 31


def test_no_transactions_before_cutoff_is_a_data_error(log: pd.DataFrame) -> None:
    with pytest.raises(
        DataError,
        match=r"^features.cutoff: 2023-01-01 is before the first transaction \(the data spans 2024-01-01 to 2024-03-01\)",
    ):
        RFMFeatures(cutoff="2023-01-01").build(CRMData("toy", transactions=log))


def test_spend_target_sums_the_horizon_after_the_cutoff(log: pd.DataFrame) -> None:
    assert spend_target(log, pd.Index(["C1", "C2"]), CUTOFF, horizon_days=60).to_dict() == {"C1": 99.0, "C2": 0.0}
    assert spend_target(log, pd.Index(["C1"]), CUTOFF, horizon_days=20).loc["C1"] == 0.0  # 2024-03-01 is day 30
    table = RFMFeatures(horizon_days=30, target="spend").build(CRMData("toy", transactions=log))
    assert table.y.name == "spend" and table.y.to_dict() == {"C1": 99.0, "C2": 0.0}
    assert drop_unlabelled(table).y.dtype == "float64"


def test_unknown_target_is_a_config_error(log: pd.DataFrame) -> None:
    expected = (
        "features.target: The 'target' parameter of RFMFeatures must be a str among {'churn', 'spend'}. "
        "Got 'spent' instead; did you mean 'spend'?"
    )
    with pytest.raises(ConfigError) as raised:
        RFMFeatures(target="spent").build(CRMData("toy", transactions=log))
    assert str(raised.value) == expected
    with pytest.raises(ConfigError, match=r"^features.cutoff: The 'cutoff' parameter of RFMFeatures must be a date"):
        RFMFeatures(cutoff="not a date").build(CRMData("toy", transactions=log))
    with pytest.raises(ConfigError, match=r"^features.horizon_days: .* must be an int in the range \[1, inf\)"):
        RFMFeatures(horizon_days=0).build(CRMData("toy", transactions=log))


def test_customer_targets_two_classes_or_numbers() -> None:
    assert customer_target(pd.Series(["No", "Yes", None, "No"]), "Churn").tolist() == [0, 1, pd.NA, 0]
    values = customer_target(pd.Series([3, 10, 7, None]), "value")
    assert values.dtype == "float64" and values.iloc[:3].tolist() == [3.0, 10.0, 7.0]
    with pytest.raises(DataError, match="data.customers.target: target 'plan' needs exactly two classes.*found 3"):
        customer_target(pd.Series(["a", "b", "c"]), "plan")
    with pytest.raises(DataError, match="found 1"):
        customer_target(pd.Series(["No", "No"]), "Churn")
