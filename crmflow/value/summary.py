"""Per-customer frequency / recency / T / monetary value from a transaction log (pure DataFrame steps).

The conventions of Fader, Hardie & Lee: frequency counts the repeat transactions (after the first) in
the calibration period, recency is the time from the first to the last purchase, T the time from the
first purchase to the calibration end (calendar days between the dates, so a first purchase on the last
calibration day has T = 0), and monetary_value the mean amount of the repeat transactions (0 with none).
"""

from __future__ import annotations

import pandas as pd

from crmflow.errors import ConfigError, DataError, did_you_mean

__all__ = ["CALENDAR_DAY", "TIME_UNITS", "customer_summary", "days_per_unit", "holdout_summary"]

TIME_UNITS: dict[str, float] = {"D": 1.0, "W": 7.0}  # days per time unit
CALENDAR_DAY = pd.DateOffset(days=1)  # one calendar day, also across a DST change (24 hours may not be)


def days_per_unit(time_unit: str) -> float:
    """Days in one time unit ("D" 1, "W" 7); ConfigError for any other unit."""
    if time_unit not in TIME_UNITS:
        hint = did_you_mean(time_unit, TIME_UNITS) if isinstance(time_unit, str) else ""
        raise ConfigError(f"value.time_unit: must be one of {sorted(TIME_UNITS)}; got {time_unit!r}{hint}")
    return TIME_UNITS[time_unit]


def _transactions(
    transactions: pd.DataFrame,
    *,
    merge_same_day: bool,
    customer_col: str,
    timestamp_col: str,
    amount_col: str | None,
) -> pd.DataFrame:
    """The log reduced to columns customer, timestamp (and amount), checked; one row per day if merging."""
    columns = [customer_col, timestamp_col] + ([amount_col] if amount_col is not None else [])
    for column in columns:
        if column not in transactions.columns:
            raise DataError(f"value: transactions have no column '{column}' (columns: {list(transactions.columns)})")
    log = transactions[columns].copy()
    log.columns = ["customer", "timestamp"] + (["amount"] if amount_col is not None else [])
    if log["customer"].isna().any():
        raise DataError(f"value: column '{customer_col}' has {int(log['customer'].isna().sum())} missing ids")
    try:
        log["timestamp"] = pd.to_datetime(log["timestamp"])
    except (TypeError, ValueError) as exc:
        raise DataError(f"value: column '{timestamp_col}' is not parsable as timestamps ({exc})") from None
    if log["timestamp"].isna().any():
        raise DataError(f"value: column '{timestamp_col}' has {int(log['timestamp'].isna().sum())} missing timestamps")
    if amount_col is not None:
        amount = pd.to_numeric(log["amount"], errors="coerce")
        bad = amount.isna() | (amount < 0)
        if bad.any():
            example = log.loc[bad, "amount"].iloc[0]
            raise DataError(
                f"value: column '{amount_col}' must hold non-negative numbers; "
                f"{int(bad.sum())} missing or negative, e.g. {example!r}"
            )
        log["amount"] = amount.astype(float)
    if merge_same_day:
        log["timestamp"] = log["timestamp"].dt.normalize()
        if amount_col is None:
            log = log.drop_duplicates(["customer", "timestamp"])
        else:
            log = log.groupby(["customer", "timestamp"], as_index=False, sort=True)["amount"].sum()
    return log.sort_values(["customer", "timestamp"], kind="stable").reset_index(drop=True)


def _check_calibration_end(log: pd.DataFrame, calibration_end: pd.Timestamp, later_ok: bool) -> pd.Timestamp:
    end = pd.Timestamp(calibration_end)
    first, last = log["timestamp"].min(), log["timestamp"].max()
    if log.empty or not first <= end or (end > last and not later_ok):
        raise DataError(f"value.calibration_end: must lie within the data ({first} .. {last}); got {end}")
    return end


def _log_until(
    transactions: pd.DataFrame,
    calibration_end: pd.Timestamp,
    merge_same_day: bool,
    customer_col: str,
    timestamp_col: str,
    amount_col: str | None,
    later_ok: bool = False,
) -> tuple[pd.DataFrame, pd.Timestamp]:
    """The standardised log (`_transactions`) and the checked calibration end (a day when days are merged)."""
    log = _transactions(
        transactions,
        merge_same_day=merge_same_day,
        customer_col=customer_col,
        timestamp_col=timestamp_col,
        amount_col=amount_col,
    )
    end = _check_calibration_end(log, calibration_end, later_ok)
    return log, end.normalize() if merge_same_day else end


def customer_summary(
    transactions: pd.DataFrame,
    calibration_end: pd.Timestamp,
    *,
    time_unit: str = "W",
    merge_same_day: bool = True,
    customer_col: str = "customer_id",
    timestamp_col: str = "timestamp",
    amount_col: str | None = "amount",
    end_after_data: bool = False,
) -> pd.DataFrame:
    """Columns frequency, recency, T (and monetary_value) per customer whose first purchase is by calibration_end.

    Times are in `time_unit` ("D" days, "W" weeks = days / 7). `merge_same_day` counts all of a customer's
    purchases on one calendar day as one transaction, amounts summed (then calibration_end is a day too).
    `amount_col=None` leaves monetary_value out. Amounts must be non-negative; zero spends are kept here
    (a spend model drops customers whose monetary_value is not positive). calibration_end must lie within the
    data, or with `end_after_data` on or after its first day (scoring customers as of a later day).
    """
    unit = days_per_unit(time_unit)
    log, end = _log_until(
        transactions, calibration_end, merge_same_day, customer_col, timestamp_col, amount_col, end_after_data
    )
    calibration = log[log["timestamp"] <= end]
    by_customer = calibration.groupby("customer", sort=True)
    first = by_customer["timestamp"].min()
    last = by_customer["timestamp"].max()
    day = pd.Timedelta(days=1)
    summary = pd.DataFrame(
        {
            "frequency": by_customer.size() - 1,
            "recency": (last - first) / day / unit,
            "T": (end - first) / day / unit,
        }
    )
    if amount_col is not None:
        is_first = calibration.groupby("customer").cumcount() == 0
        repeat_spend = calibration.loc[~is_first].groupby("customer")["amount"].mean()
        summary["monetary_value"] = repeat_spend.reindex(summary.index).fillna(0.0)
    summary["frequency"] = summary["frequency"].astype(int)
    summary.index.name = customer_col
    return summary


def holdout_summary(
    transactions: pd.DataFrame,
    calibration_end: pd.Timestamp,
    horizon: float,
    *,
    time_unit: str = "W",
    merge_same_day: bool = True,
    customer_col: str = "customer_id",
    timestamp_col: str = "timestamp",
) -> pd.DataFrame:
    """Each calibration customer's actual purchases in (calibration_end, calibration_end + horizon].

    Columns frequency_holdout (a count) and duration_holdout (the horizon, in `time_unit`), indexed as
    `customer_summary` (customers with a first purchase by calibration_end; 0 for those with none).
    """
    unit = days_per_unit(time_unit)
    if not horizon > 0:
        raise ConfigError(f"value.horizon: must be a positive number of {time_unit} periods; got {horizon!r}")
    log, end = _log_until(transactions, calibration_end, merge_same_day, customer_col, timestamp_col, None)
    stop = end + pd.Timedelta(days=horizon * unit)
    customers = pd.Index(sorted(log.loc[log["timestamp"] <= end, "customer"].unique()), name=customer_col)
    in_holdout = log[(log["timestamp"] > end) & (log["timestamp"] <= stop)]
    counts = in_holdout.groupby("customer").size().reindex(customers, fill_value=0).astype(int)
    return pd.DataFrame({"frequency_holdout": counts.to_numpy(), "duration_holdout": float(horizon)}, index=customers)
