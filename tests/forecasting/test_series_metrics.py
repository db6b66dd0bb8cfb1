"""Aggregation into periods, accuracy metrics and rolling-origin windows on hand-checked inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmflow.errors import ConfigError, DataError
from crmflow.forecasting import (
    ETSForecaster,
    NaiveForecaster,
    RollingOrigin,
    backtest,
    forecast_metrics,
)
from crmflow.forecasting.metrics import seasonal_naive_scale
from crmflow.forecasting.series import aggregate


def transactions() -> pd.DataFrame:
    """Wed 2024-01-03 .. Tue 2024-01-23: partial first week, two full weeks, partial last week."""
    rows = [
        ("a", "2024-01-03 10:00", 5.0, 1, "b1"),
        ("a", "2024-01-08 09:00", 10.0, 2, "b2"),
        ("b", "2024-01-08 17:00", 20.0, 1, "b3"),
        ("b", "2024-01-08 17:00", 1.0, 3, "b3"),
        ("a", "2024-01-21 12:00", 7.0, 1, "b4"),
        ("c", "2024-01-23 08:00", 3.0, 4, "b5"),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount", "quantity", "basket_id"])
    return frame.assign(timestamp=pd.to_datetime(frame["timestamp"]))


def test_weekly_revenue_drops_partial_weeks_and_fills_empty_ones() -> None:
    table = aggregate(transactions(), "W", "revenue")
    assert table.index.tolist() == [pd.Timestamp("2024-01-08"), pd.Timestamp("2024-01-15")]
    assert table.index.freqstr == "W-MON"
    assert table["total"].tolist() == [31.0, 7.0]  # 10 + 20 + 1; 7 (2024-01-15 to 01-21)


def test_partial_periods_kept_on_request_and_other_values() -> None:
    table = aggregate(transactions(), "W", "revenue", complete_periods_only=False)
    assert table["total"].tolist() == [5.0, 31.0, 7.0, 3.0]
    assert aggregate(transactions(), "W", "items", complete_periods_only=False)["total"].tolist() == [1, 6, 1, 4]
    assert aggregate(transactions(), "W", "baskets", complete_periods_only=False)["total"].tolist() == [1, 2, 1, 1]


def test_daily_and_monthly_series() -> None:
    daily = aggregate(transactions(), "D", "revenue")
    assert len(daily) == 21 and daily.index.freqstr == "D" and daily["total"].sum() == 46.0
    assert (daily["total"] == 0).sum() == 17
    monthly = aggregate(transactions(), "M", "revenue", complete_periods_only=False)
    assert monthly.index.tolist() == [pd.Timestamp("2024-01-01")] and monthly["total"].tolist() == [46.0]
    with pytest.raises(DataError, match="span no complete monthly period"):
        aggregate(transactions(), "M", "revenue")


def test_groups_split_the_total() -> None:
    frame = transactions()
    groups = frame["customer_id"].map({"a": "0", "b": "1"}).fillna("unassigned")
    table = aggregate(frame, "W", "revenue", groups, complete_periods_only=False)
    assert table.columns.tolist() == ["0", "1", "unassigned"]
    assert table["0"].tolist() == [5.0, 10.0, 7.0, 0.0] and table["unassigned"].tolist() == [0, 0, 0, 3.0]
    np.testing.assert_allclose(table.sum(axis=1), [5.0, 31.0, 7.0, 3.0])


def test_baskets_without_ids_are_customer_days() -> None:
    frame = transactions().drop(columns="basket_id")
    assert aggregate(frame, "W", "baskets", complete_periods_only=False)["total"].tolist() == [1, 2, 1, 1]


@pytest.mark.parametrize(
    ("frequency", "value", "error", "message"),
    [
        ("H", "revenue", ConfigError, r"forecaster.settings.frequency: expected one of \['D', 'W', 'M'\]; got 'H'"),
        ("W", "profit", ConfigError, r"forecaster.settings.value: expected one of .*; got 'profit'"),
    ],
)
def test_bad_settings(frequency: str, value: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        aggregate(transactions(), frequency, value)


def test_items_need_a_quantity_column() -> None:
    with pytest.raises(DataError, match="'items' sums the quantity column.*data.transactions.columns.quantity"):
        aggregate(transactions().drop(columns="quantity"), "W", "items")


def test_metrics_by_hand() -> None:
    table = pd.DataFrame(
        {
            "actual": [10.0, 20.0, 0.0, 40.0],
            "forecast": [12.0, 15.0, 0.0, 50.0],
            "forecast_lower": [9.0, 21.0, -1.0, 30.0],
            "forecast_upper": [15.0, 25.0, 1.0, 39.0],
            "scale": [2.0, 2.0, 4.0, 4.0],
        }
    )
    metrics = forecast_metrics(table)
    errors = np.array([2.0, 5.0, 0.0, 10.0])
    assert metrics["mae"] == pytest.approx(errors.mean())
    assert metrics["rmse"] == pytest.approx(np.sqrt((errors**2).mean()))
    assert metrics["mape"] == pytest.approx(100 * np.mean([0.2, 0.25, 0.25]))  # the zero actual is skipped
    assert metrics["smape"] == pytest.approx(100 * np.mean([4 / 22, 10 / 35, 0.0, 20 / 90]))
    assert metrics["mase"] == pytest.approx(np.mean([1.0, 2.5, 0.0, 2.5]))
    assert metrics["coverage"] == pytest.approx(0.5)  # 20 is below [21, 25], 40 above [30, 39]
    assert seasonal_naive_scale(np.array([1.0, 3.0, 2.0, 6.0]), 2) == pytest.approx(2.0)


def test_rolling_origin_windows_and_the_length_check() -> None:
    windows = RollingOrigin(horizon=4, folds=3, step=2)
    assert windows.train_ends(20) == [12, 14, 16]
    series = pd.Series(
        np.arange(1.0, 21.0), index=pd.date_range("2024-01-01", periods=20, freq="W-MON"), name="weekly revenue"
    )
    windows.check_length(series, NaiveForecaster(), seasonal_period=4)
    with pytest.raises(
        DataError,
        match=(
            r"forecaster: the weekly revenue series has 20 periods; forecaster.settings.horizon=4, folds=3, step=2 "
            r"leave 12 for the first training window, but ETSForecaster\(.*seasonal_period=13\) with "
            r"forecaster.settings.seasonal_period=13 needs at least 26"
        ),
    ):
        windows.check_length(series, ETSForecaster(seasonal="add", seasonal_period=13), seasonal_period=13)


def test_backtest_uses_only_data_before_each_origin() -> None:
    series = pd.Series(np.arange(1.0, 21.0), index=pd.date_range("2024-01-01", periods=20, freq="D"))
    table = backtest(NaiveForecaster(), series, RollingOrigin(horizon=3, folds=2, step=5), 1, 0.9)
    assert table.groupby("fold")["forecast"].first().tolist() == [12.0, 17.0]  # last training values
    assert table.groupby("fold")["actual"].apply(list).tolist() == [[13.0, 14.0, 15.0], [18.0, 19.0, 20.0]]
    assert (table["scale"] == 1.0).all()


def test_mase_is_undefined_for_a_flat_training_window() -> None:
    table = pd.DataFrame(
        {
            "actual": [1.0, 2.0],
            "forecast": [1.0, 3.0],
            "forecast_lower": [0.0, 0.0],
            "forecast_upper": [5.0, 5.0],
            "scale": [0.0, 0.0],
        }
    )
    metrics = forecast_metrics(table)
    assert np.isnan(metrics["mase"]) and metrics["mae"] == 0.5
