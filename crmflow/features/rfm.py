"""RFM and customer-value features as of a cutoff date, and a target from the period after it.

Features use only transactions on or before the cutoff; the target (churn, or spend for customer
value) uses only the `horizon_days` after it, so it never leaks into the features.
"""

from __future__ import annotations

import logging
from datetime import date

import numpy as np
import pandas as pd

from crmflow.config.constraints import Boolean, Date, InstanceOf, Interval, Options
from crmflow.config.validation import validate_parameters
from crmflow.data.base import CRMData
from crmflow.errors import DataError
from crmflow.features.attributes import attribute_features
from crmflow.features.cutoff import check_cutoff, default_cutoff
from crmflow.features.table import CustomerTable

logger = logging.getLogger(__name__)
_DAY = np.timedelta64(1, "D")


def basket_keys(transactions: pd.DataFrame) -> list[pd.Series]:
    """Group keys of a basket: customer + `basket_id` when every row has one, else customer + day."""
    if "basket_id" in transactions and transactions["basket_id"].notna().all():
        return [transactions["customer_id"], transactions["basket_id"]]
    return [transactions["customer_id"], transactions["timestamp"].dt.floor("D").rename("day")]


def rfm_features(transactions: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Per-customer features from the rows on or before `cutoff` (index: customer_id).

    recency: days from the last purchase to the cutoff; frequency: distinct baskets;
    monetary: total amount; tenure: days from the first purchase to the cutoff;
    avg_basket_value: monetary / frequency; avg_basket_size: line items per basket;
    mean_interpurchase_days: mean gap between
    baskets (NaN with a single basket); distinct_items: distinct items bought (when known).
    """
    past = transactions[transactions["timestamp"] <= cutoff]
    if past.empty:
        raise DataError(f"features: no transactions on or before the cutoff {cutoff.date()}")
    baskets = (
        past.groupby(basket_keys(past), sort=False, observed=True)
        .agg(time=("timestamp", "min"), amount=("amount", "sum"), lines=("amount", "size"))
        .reset_index(level=0)
    )
    per_customer = baskets.groupby("customer_id", sort=True)
    first, last = per_customer["time"].min(), per_customer["time"].max()
    features = pd.DataFrame(
        {
            "recency": (cutoff - last) / _DAY,
            "frequency": per_customer.size().astype("float64"),
            "monetary": per_customer["amount"].sum(),
            "tenure": (cutoff - first) / _DAY,
        }
    )
    features["avg_basket_value"] = features["monetary"] / features["frequency"]
    features["avg_basket_size"] = per_customer["lines"].sum() / features["frequency"]
    span = (last - first) / _DAY
    features["mean_interpurchase_days"] = (span / (features["frequency"] - 1)).where(features["frequency"] > 1)
    if "item" in past and past["item"].notna().any():
        features["distinct_items"] = past.groupby("customer_id")["item"].nunique().astype("float64")
    features.index.name = "customer_id"
    return features


def activity_label(
    transactions: pd.DataFrame, customers: pd.Index, cutoff: pd.Timestamp, horizon_days: int
) -> pd.Series:
    """1 (churned) for customers with no purchase in (cutoff, cutoff + horizon_days], else 0."""
    end = cutoff + pd.Timedelta(days=horizon_days)
    later = transactions["timestamp"].gt(cutoff) & transactions["timestamp"].le(end)
    active = customers.isin(transactions.loc[later, "customer_id"].unique())
    return pd.Series((~active).astype("int64"), index=customers, name="churn")


def spend_target(transactions: pd.DataFrame, customers: pd.Index, cutoff: pd.Timestamp, horizon_days: int) -> pd.Series:
    """Total amount each customer spends in (cutoff, cutoff + horizon_days]; 0 without purchases."""
    end = cutoff + pd.Timedelta(days=horizon_days)
    later = transactions[transactions["timestamp"].gt(cutoff) & transactions["timestamp"].le(end)]
    spend = later.groupby("customer_id")["amount"].sum()
    return spend.reindex(customers, fill_value=0.0).astype("float64").rename("spend")


TARGETS = {"churn": activity_label, "spend": spend_target}


class RFMFeatures:
    """`features=rfm`: RFM/value features as of a cutoff plus a target from the horizon after it:
    `churn` (no purchase in the horizon, 0/1) or `spend` (amount spent in the horizon)."""

    _parameter_constraints = {
        "horizon_days": [Interval(int, 1, None)],
        "cutoff": [Date(), InstanceOf(date, doc="a date"), None],
        "merge_customers": [Boolean()],
        "target": [Options(TARGETS)],
    }

    def __init__(
        self, horizon_days: int = 90, cutoff: str | None = None, merge_customers: bool = True, target: str = "churn"
    ) -> None:
        self.horizon_days = horizon_days
        self.cutoff = cutoff
        self.merge_customers = merge_customers
        self.target = target

    def resolve_cutoff(self, transactions: pd.DataFrame) -> pd.Timestamp:
        """The configured cutoff, or the last timestamp minus the label horizon."""
        if self.cutoff is not None:  # a date means midnight where the data lives (data.transactions.timezone)
            cutoff, zone = pd.Timestamp(self.cutoff), transactions["timestamp"].dt.tz
            return cutoff.tz_localize(zone) if zone is not None and cutoff.tz is None else cutoff
        return default_cutoff(transactions["timestamp"], self.horizon_days)

    def build(self, data: CRMData) -> CustomerTable:
        """Check the parameters, then the features as of the cutoff and the target after it."""
        validate_parameters(self, "features")
        _require_transactions(data)
        cutoff = self.resolve_cutoff(data.transactions)
        check_cutoff(data.transactions["timestamp"], cutoff, self.horizon_days, configured=self.cutoff is not None)
        table = self._features(data, cutoff)
        y = TARGETS[self.target](data.transactions, table.X.index, cutoff, self.horizon_days)
        logger.info("rfm features for %d customers as of %s; mean %s %.3f", len(y), cutoff.date(), y.name, y.mean())
        return CustomerTable(table.X, y, cutoff, table.report)

    def features_at(self, data: CRMData, cutoff: pd.Timestamp) -> CustomerTable:
        """The features alone as of `cutoff`, without a target: for scoring customers whose future is not
        known yet (`crmflow predict transactions=...`); every customer with a purchase on or before it."""
        validate_parameters(self, "features")
        _require_transactions(data)
        return self._features(data, cutoff)

    def _features(self, data: CRMData, cutoff: pd.Timestamp) -> CustomerTable:
        X = rfm_features(data.transactions, cutoff)
        report = {}
        if self.merge_customers and data.customers is not None:
            X, report["customers_unmatched"] = merge_attributes(X, data.customers, data.target, cutoff)
        return CustomerTable(X, None, cutoff, report)


def _require_transactions(data: CRMData) -> None:
    if data.transactions is None or data.transactions.empty:
        raise DataError("features=rfm: needs a transactions table; the data has none (use features=none)")


def merge_attributes(
    features: pd.DataFrame, customers: pd.DataFrame, target: str | None, cutoff: pd.Timestamp
) -> tuple[pd.DataFrame, float]:
    """Left-join customer attributes onto transaction features; also return the unmatched count."""
    attributes = attribute_features(customers.drop(columns=[target] if target else []), cutoff)
    missing = int((~features.index.isin(attributes.index)).sum())
    if missing:
        logger.warning("features: %d customers with transactions have no row in the customer table", missing)
    return features.join(attributes, how="left"), float(missing)
