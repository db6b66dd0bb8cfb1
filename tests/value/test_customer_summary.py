"""customer_summary and holdout_summary on a toy log whose answers were computed by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from crmflow.errors import ConfigError, DataError
from crmflow.value.summary import customer_summary, holdout_summary

END = pd.Timestamp("2024-01-29")


@pytest.fixture
def log() -> pd.DataFrame:
    """A: two purchases on 01-01 (10 + 5), then 01-08 (20), 01-15 (30), and 02-01 after the end (100).
    B: one purchase (40), a holdout one on 02-05. C: first buys after the end. D: two on the end day."""
    rows = [
        ("A", "2024-01-01", 10.0),
        ("A", "2024-01-01", 5.0),
        ("A", "2024-01-08", 20.0),
        ("A", "2024-01-15", 30.0),
        ("A", "2024-02-01", 100.0),
        ("B", "2024-01-10", 40.0),
        ("B", "2024-02-05", 7.0),
        ("C", "2024-02-03", 9.0),
        ("D", "2024-01-29", 12.0),
        ("D", "2024-01-29", 8.0),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    return frame


def test_days_with_same_day_merge(log: pd.DataFrame) -> None:
    summary = customer_summary(log, END, time_unit="D")
    expected = pd.DataFrame(
        {
            "frequency": [2, 0, 0],  # A: 01-01 (merged), 01-08, 01-15
            "recency": [14.0, 0.0, 0.0],  # 01-15 - 01-01
            "T": [28.0, 19.0, 0.0],  # 01-29 - first purchase
            "monetary_value": [25.0, 0.0, 0.0],  # A: (20 + 30) / 2, the merged first day left out
        },
        index=pd.Index(["A", "B", "D"], name="customer_id"),
    )
    pd.testing.assert_frame_equal(summary, expected)


def test_weeks_are_days_over_seven(log: pd.DataFrame) -> None:
    summary = customer_summary(log, END, time_unit="W")
    assert summary.loc["A", ["recency", "T"]].tolist() == [2.0, 4.0]
    assert summary.loc["B", "T"] == pytest.approx(19 / 7)


def test_without_merge_every_row_is_a_transaction(log: pd.DataFrame) -> None:
    summary = customer_summary(log, END, time_unit="D", merge_same_day=False)
    assert summary.loc["A"].tolist() == [3, 14.0, 28.0, pytest.approx((5 + 20 + 30) / 3)]
    assert summary.loc["D"].tolist() == [1, 0.0, 0.0, 8.0]


def test_no_amount_column_needed_without_spend(log: pd.DataFrame) -> None:
    summary = customer_summary(log.drop(columns="amount"), END, time_unit="D", amount_col=None)
    assert list(summary.columns) == ["frequency", "recency", "T"]
    assert summary["frequency"].tolist() == [2, 0, 0]


def test_custom_column_names(log: pd.DataFrame) -> None:
    renamed = log.rename(columns={"customer_id": "cid", "timestamp": "when", "amount": "value"})
    summary = customer_summary(renamed, END, customer_col="cid", timestamp_col="when", amount_col="value")
    assert summary.index.name == "cid" and summary.loc["A", "monetary_value"] == 25.0


def test_holdout_counts_purchases_after_the_end(log: pd.DataFrame) -> None:
    week = holdout_summary(log, END, 1, time_unit="W")  # (01-29, 02-05]
    assert week["frequency_holdout"].to_dict() == {"A": 1, "B": 1, "D": 0}
    assert (week["duration_holdout"] == 1.0).all()
    days = holdout_summary(log, END, 3.5, time_unit="D")  # (01-29, 02-01 12:00]
    assert days["frequency_holdout"].to_dict() == {"A": 1, "B": 0, "D": 0}


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("column", ["customer_id", "timestamp", "amount"])
def test_missing_column_is_named(log: pd.DataFrame, column: str) -> None:
    with pytest.raises(DataError) as error:
        customer_summary(log.drop(columns=column), END)
    assert f"'{column}'" in one_line(error)


@pytest.mark.parametrize("end", ["2023-12-31", "2024-03-01"])
def test_calibration_end_outside_the_data(log: pd.DataFrame, end: str) -> None:
    with pytest.raises(DataError) as error:
        customer_summary(log, pd.Timestamp(end))
    assert one_line(error).startswith("value.calibration_end: must lie within the data")


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "x"])
def test_bad_amounts_are_named(log: pd.DataFrame, bad: object) -> None:
    log["amount"] = log["amount"].astype(object)
    log.loc[2, "amount"] = bad
    with pytest.raises(DataError) as error:
        customer_summary(log, END)
    assert "'amount'" in one_line(error)


def test_missing_timestamp_is_named(log: pd.DataFrame) -> None:
    log.loc[1, "timestamp"] = pd.NaT
    with pytest.raises(DataError, match="'timestamp'"):
        customer_summary(log, END)


def test_unknown_time_unit(log: pd.DataFrame) -> None:
    with pytest.raises(ConfigError) as error:
        customer_summary(log, END, time_unit="M")
    assert one_line(error).startswith("value.time_unit: must be one of ['D', 'W']; got 'M'")
