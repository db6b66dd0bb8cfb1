"""Per-period customer activity from a transaction log: the sequences a hidden Markov model reads.

`period_activity` cuts the log into calendar months (`M`) or weeks (`W`, Monday to Sunday) and counts,
per customer and period, the features of `ACTIVITY_FEATURES`:

- purchases: baskets (distinct `basket_id` when the column has values, else distinct days);
- spend: the sum of `amount`;
- items: distinct `item` values (needs the `item` column).

Only COMPLETE periods before the cutoff are used: the last period is the one before the period holding
the cutoff, so a cutoff inside a month drops that month's first days rather than show a partial month
that would look like a slowdown of every customer (with a cutoff on a period start, nothing is dropped;
this also makes the "on or before" and "before" cutoff conventions agree). Each customer's sequence
runs from the period of their first purchase to that last period, so a customer silent lately ends
with zero-activity periods: that is how "dormant" is seen. X holds the raw values; the estimator
(`crmflow.segmentation.hmm_states.CustomerStates`) transforms them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmflow.config.constraints import Options
from crmflow.config.validation import validate
from crmflow.errors import ConfigError, DataError, did_you_mean

__all__ = ["ACTIVITY_FEATURES", "PERIODS", "ActivityPanel", "period_activity"]

logger = logging.getLogger(__name__)

ACTIVITY_FEATURES = ("purchases", "spend", "items")
PERIODS = ("M", "W")
FEATURES_KEY = "segmentation.features"


@dataclass(frozen=True, eq=False)
class ActivityPanel:
    """Activity sequences stacked customer by customer, each in time order (what hmmlearn's `fit` takes).

    X: (n_rows, n_features) raw activity; lengths: periods per customer (hmmlearn's `lengths=`);
    customers: the customer ids in row order; periods: every period from the first purchase to the
    last complete period before the cutoff (each sequence is a suffix of it); features: X's columns.
    """

    X: np.ndarray
    lengths: np.ndarray
    customers: pd.Index
    periods: pd.PeriodIndex
    features: tuple[str, ...]

    @property
    def index(self) -> pd.MultiIndex:
        """(customer_id, period) of each row of X."""
        starts = len(self.periods) - self.lengths
        positions = np.concatenate([np.arange(s, len(self.periods)) for s in starts])
        customers = np.repeat(self.customers.to_numpy(), self.lengths)
        return pd.MultiIndex.from_arrays([customers, self.periods[positions]], names=["customer_id", "period"])

    def to_frame(self) -> pd.DataFrame:
        """X as a DataFrame indexed by (customer_id, period), columns = features."""
        return pd.DataFrame(self.X, index=self.index, columns=list(self.features))

    def last_rows(self) -> np.ndarray:
        """The row of each customer's last (current) period."""
        return np.cumsum(self.lengths) - 1

    def subset(self, customers: pd.Index) -> ActivityPanel:
        """The sequences of those of `customers` the panel holds, in the panel's order."""
        keep = self.customers.isin(customers)
        rows = np.repeat(keep, self.lengths)
        return ActivityPanel(self.X[rows], self.lengths[keep], self.customers[keep], self.periods, self.features)


def _check_options(transactions: pd.DataFrame, period: str, features: Sequence[str]) -> tuple[str, ...]:
    validate({"period": period}, {"period": [Options(PERIODS)]}, "segmentation")
    if isinstance(features, str) or not features:
        valid = ", ".join(ACTIVITY_FEATURES)
        raise ConfigError(f"{FEATURES_KEY}: must be a non-empty list of {valid}; got {features!r}")
    for name in features:
        if name not in ACTIVITY_FEATURES:
            raise ConfigError(
                f"{FEATURES_KEY}: unknown activity feature {name!r}{did_you_mean(name, ACTIVITY_FEATURES)} "
                f"(valid: {', '.join(ACTIVITY_FEATURES)})"
            )
    if len(set(features)) < len(features):
        raise ConfigError(f"{FEATURES_KEY}: each feature may appear once; got {list(features)}")
    for column in ("customer_id", "timestamp", "amount"):
        if column not in transactions.columns:
            raise DataError(f"segmentation: the transactions have no column '{column}'")
    if "items" in features and ("item" not in transactions or transactions["item"].isna().all()):
        raise DataError(f"{FEATURES_KEY}: 'items' needs the transactions' 'item' column, which has no values")
    return tuple(features)


def _basket_keys(rows: pd.DataFrame) -> pd.Series:
    """One key per basket: the basket_id where present, else the day of the purchase."""
    days = "d" + rows["timestamp"].dt.strftime("%Y-%m-%d")
    if "basket_id" not in rows or rows["basket_id"].isna().all():
        return days
    return ("b" + rows["basket_id"].astype(str)).where(rows["basket_id"].notna(), days)


def _aggregate(rows: pd.DataFrame, features: tuple[str, ...]) -> pd.DataFrame:
    """Per (customer_id, period) totals of the features."""
    frame = rows.assign(_basket=_basket_keys(rows), _amount=pd.to_numeric(rows["amount"], errors="coerce"))
    grouped = frame.groupby(["customer_id", "_period"], sort=True)
    columns = {
        "purchases": lambda: grouped["_basket"].nunique(),
        "spend": lambda: grouped["_amount"].sum(),
        "items": lambda: grouped["item"].nunique(),
    }
    return pd.DataFrame({name: columns[name]() for name in features}).astype(float)


def period_activity(
    transactions: pd.DataFrame,
    cutoff: pd.Timestamp,
    period: str = "M",
    features: Sequence[str] = ("purchases", "spend"),
) -> ActivityPanel:
    """The activity panel of every customer with a purchase in a complete period before `cutoff`."""
    features = _check_options(transactions, period, features)
    cutoff = pd.Timestamp(cutoff)
    timestamps = pd.to_datetime(transactions["timestamp"])
    if timestamps.dt.tz is not None:  # periods are wall-clock months or weeks where the data live
        timestamps = timestamps.dt.tz_localize(None)
        cutoff = cutoff.tz_convert(transactions["timestamp"].dt.tz).tz_localize(None) if cutoff.tz else cutoff
    if pd.isna(cutoff):
        raise DataError("segmentation: period activity needs the features cutoff; got none")
    last = pd.Period(cutoff, freq=period) - 1  # the period holding the cutoff is never complete before it
    before = timestamps < cutoff
    kept = timestamps < (last + 1).start_time
    if not kept.any():
        raise DataError(
            f"segmentation.period: no transaction in a complete period ({period}) before the cutoff {cutoff.date()}; "
            "choose a shorter period (W) or a later features.cutoff"
        )
    if (dropped := int((before & ~kept).sum())) > 0:
        logger.info("period activity: %d transactions of the partial period before the cutoff left out", dropped)
    rows = transactions.loc[kept].assign(timestamp=timestamps[kept], _period=timestamps[kept].dt.to_period(period))
    totals = _aggregate(rows, features)
    periods = pd.period_range(rows["_period"].min(), last, freq=period)
    codes, customers = pd.factorize(totals.index.get_level_values(0), sort=True)
    positions = periods.get_indexer(totals.index.get_level_values(1))
    first = np.full(len(customers), len(periods))
    np.minimum.at(first, codes, positions)
    lengths = len(periods) - first
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    X = np.zeros((int(lengths.sum()), len(features)))
    X[starts[codes] + positions - first[codes]] = totals.to_numpy()
    return ActivityPanel(X, lengths.astype(int), pd.Index(customers, name="customer_id"), periods, features)
