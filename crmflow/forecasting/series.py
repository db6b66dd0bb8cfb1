"""Transactions → a regular time series of revenue, items or baskets per day, week or month."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from crmflow.errors import ConfigError, DataError

__all__ = ["FREQUENCIES", "VALUES", "Frequency", "aggregate"]


@dataclass(frozen=True)
class Frequency:
    """A period length: pandas period alias, the matching start-of-period offset, an adjective."""

    period: str
    offset: str
    adjective: str


FREQUENCIES = {
    "D": Frequency("D", "D", "daily"),
    "W": Frequency("W-SUN", "W-MON", "weekly"),  # weeks run Monday to Sunday, labelled by their Monday
    "M": Frequency("M", "MS", "monthly"),
}
VALUES = ("revenue", "items", "baskets")


def _row_values(transactions: pd.DataFrame, value: str) -> pd.Series:
    """What each transaction row contributes: its amount, its quantity, or its basket key."""
    if value == "revenue":
        return transactions["amount"].astype("float64")
    if value == "items":
        if "quantity" not in transactions or transactions["quantity"].isna().all():
            raise DataError(
                "forecaster.settings.value: 'items' sums the quantity column, but the transactions have none; "
                "map it with data.transactions.columns.quantity or use value=revenue or baskets"
            )
        return transactions["quantity"].fillna(0).astype("float64")
    if "basket_id" in transactions and transactions["basket_id"].notna().all():
        return transactions["basket_id"].astype(str)
    day = transactions["timestamp"].dt.strftime("%Y-%m-%d")
    return transactions["customer_id"].astype(str) + "|" + day


def _complete(periods: pd.PeriodIndex, first: pd.Timestamp, last: pd.Timestamp) -> pd.PeriodIndex:
    """Drop a first or last period that the data covers only in part (e.g. a week cut off by the extract)."""
    keep = (periods.start_time >= first.normalize()) & (periods.end_time.normalize() <= last.normalize())
    return periods[keep]


def aggregate(
    transactions: pd.DataFrame,
    frequency: str,
    value: str,
    groups: pd.Series | None = None,
    complete_periods_only: bool = True,
) -> pd.DataFrame:
    """One column per group (or one column "total"), one row per period; empty periods are 0.

    `groups` is aligned with the transaction rows (e.g. each customer's segment). The index is a
    DatetimeIndex of period starts with a regular frequency.
    """
    if frequency not in FREQUENCIES:
        raise ConfigError(f"forecaster.settings.frequency: expected one of {list(FREQUENCIES)}; got {frequency!r}")
    if value not in VALUES:
        raise ConfigError(f"forecaster.settings.value: expected one of {list(VALUES)}; got {value!r}")
    if transactions is None or transactions.empty:
        raise DataError("forecaster: needs transactions (customer_id, timestamp, amount); the data has none")
    freq = FREQUENCIES[frequency]
    stamps = transactions["timestamp"]
    frame = pd.DataFrame(
        {
            "period": stamps.dt.to_period(freq.period),
            "group": "total" if groups is None else groups.to_numpy(),
            "value": _row_values(transactions, value).to_numpy(),
        }
    )
    grouped = frame.groupby(["period", "group"], sort=True)["value"]
    table = (grouped.nunique() if value == "baskets" else grouped.sum()).unstack("group", fill_value=0)
    periods = pd.period_range(stamps.min(), stamps.max(), freq=freq.period)
    if complete_periods_only:
        periods = _complete(periods, stamps.min(), stamps.max())
    if len(periods) == 0:
        raise DataError(f"forecaster: the transactions span no complete {freq.adjective} period")
    table = table.reindex(periods, fill_value=0).astype("float64")
    table.index = pd.date_range(periods[0].start_time, periods=len(periods), freq=freq.offset)
    table.columns = [str(c) for c in table.columns]
    return table


def series_name(frequency: str, value: str) -> str:
    """E.g. "weekly revenue"."""
    return f"{FREQUENCIES[frequency].adjective} {value}"
