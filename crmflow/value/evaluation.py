"""How the value stage scores a purchase model on the holdout period, beside a naive baseline (pure functions).

The baseline predicts each customer's calibration rate times the horizon: frequency / T * horizon (0 for a
customer first seen on the calibration end, T = 0). The cumulative curve is the classic check of a
purchase model: repeat purchases of the calibration customers per period, actual vs the model's
unconditional expectation E[X(t)] summed over the customers from their first purchase on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmflow.value.base import PurchaseModel
from crmflow.value.summary import days_per_unit

__all__ = [
    "FREQUENCY_CAP",
    "HOLDOUT_METRICS",
    "baseline_purchases",
    "cumulative_purchases",
    "holdout_by_frequency",
    "holdout_metrics",
    "p_alive_matrix",
    "repeat_transactions",
]

HOLDOUT_METRICS = ("holdout_mae", "holdout_rmse", "holdout_total_error_pct")
FREQUENCY_CAP = 7  # calibration frequencies of 7 and more are one group ("7+") in the holdout plot


def holdout_metrics(predicted: pd.Series, actual: pd.Series, prefix: str = "") -> dict[str, float]:
    """MAE and RMSE per customer and the total's signed % error (100 * (predicted - actual) / actual)."""
    error = predicted.to_numpy(dtype=float) - actual.to_numpy(dtype=float)
    total = float(actual.sum())
    return {
        f"{prefix}holdout_mae": float(np.mean(np.abs(error))),
        f"{prefix}holdout_rmse": float(np.sqrt(np.mean(error**2))),
        f"{prefix}holdout_total_error_pct": float(100 * error.sum() / total) if total else float("nan"),
    }


def baseline_purchases(summary: pd.DataFrame, horizon: float) -> pd.Series:
    """Each customer's calibration purchase rate times the horizon: frequency / T * horizon (0 where T = 0)."""
    T = summary["T"].to_numpy(dtype=float)
    rate = np.divide(summary["frequency"].to_numpy(dtype=float), T, out=np.zeros(len(T)), where=T > 0)
    return pd.Series(rate * horizon, index=summary.index, name="baseline_purchases")


def repeat_transactions(transactions: pd.DataFrame, end: pd.Timestamp, merge_same_day: bool) -> pd.DataFrame:
    """The repeat transactions (every one after a customer's first) of the customers first seen by `end`,
    before and after it: columns customer_id, timestamp, amount (one per day and customer when merging)."""
    log = transactions[["customer_id", "timestamp", "amount"]]
    if merge_same_day:
        log = log.assign(timestamp=log["timestamp"].dt.normalize())
        log = log.groupby(["customer_id", "timestamp"], as_index=False, sort=False)["amount"].sum()
    log = log.sort_values(["customer_id", "timestamp"], kind="stable")
    first = log.groupby("customer_id")["timestamp"].transform("min")
    log = log[first <= end]
    return log[log.groupby("customer_id").cumcount() > 0].reset_index(drop=True)


def holdout_by_frequency(frequency: pd.Series, actual: pd.Series, predicted: pd.Series) -> pd.DataFrame:
    """Mean actual and predicted holdout purchases per calibration frequency 0 .. FREQUENCY_CAP ("7+")."""
    groups = np.minimum(frequency.to_numpy(dtype=int), FREQUENCY_CAP)
    frame = pd.DataFrame({"frequency": groups, "actual": actual.to_numpy(), "predicted": predicted.to_numpy()})
    table = frame.groupby("frequency").agg(
        customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean")
    )
    labels = [str(f) if f < FREQUENCY_CAP else f"{FREQUENCY_CAP}+" for f in table.index]
    return table.set_axis(pd.Index(labels, name="frequency")).reset_index()


def cumulative_purchases(
    model: PurchaseModel,
    summary: pd.DataFrame,
    repeats: pd.DataFrame,
    end: pd.Timestamp,
    horizon: float,
    time_unit: str,
) -> pd.DataFrame:
    """Cumulative repeat purchases at each whole period since the earliest first purchase, to the horizon's end:
    columns period, actual, expected (the model's E[X(t)] summed over customers by first-purchase time),
    calibration (whether the period ends by the calibration end)."""
    unit = days_per_unit(time_unit)
    T = summary["T"].to_numpy(dtype=float)
    start = end - pd.Timedelta(days=float(T.max()) * unit)  # the earliest first purchase
    offsets, counts = np.unique(T.max() - T, return_counts=True)  # first purchases, in periods after start
    periods = np.arange(0, int(np.floor(T.max() + horizon)) + 1, dtype=float)
    expected = [float(np.dot(counts, model.expected_purchases_new(np.clip(t - offsets, 0, None)))) for t in periods]
    times = np.sort(((repeats["timestamp"] - start) / pd.Timedelta(days=1) / unit).to_numpy(dtype=float))
    actual = np.searchsorted(times, periods, side="right")
    return pd.DataFrame(
        {"period": periods, "actual": actual, "expected": expected, "calibration": periods <= T.max() + 1e-9}
    )


def p_alive_matrix(model: PurchaseModel, summary: pd.DataFrame, time_unit: str, columns: int = 50) -> pd.DataFrame:
    """P(alive) of a customer with T = the longest T, for frequency 0 .. max (rows) x recency 0 .. T (columns);
    NaN where no history fits (recency > 0 without a repeat purchase)."""
    T = float(summary["T"].max())
    frequencies = np.arange(int(summary["frequency"].max()) + 1)
    recencies = np.linspace(0.0, T, columns)
    x, t_x = (grid.ravel() for grid in np.meshgrid(frequencies, recencies, indexing="ij"))
    grid = pd.DataFrame({"frequency": x, "recency": np.where(x > 0, t_x, 0.0), "T": T})
    values = model.probability_alive(grid).to_numpy().reshape(len(frequencies), columns).copy()
    values[0, 1:] = np.nan
    return pd.DataFrame(
        values, index=pd.Index(frequencies, name="frequency"), columns=pd.Index(recencies, name=time_unit)
    )
