"""The customer table that segmentation and prediction read."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from crmflow.errors import DataError


@dataclass
class CustomerTable:
    """One row per customer (index `customer_id`): features `X` and an optional target `y`."""

    X: pd.DataFrame
    y: pd.Series | None = None
    cutoff: pd.Timestamp | None = None
    report: dict[str, float] = field(default_factory=dict)

    @property
    def target_name(self) -> str | None:
        return None if self.y is None else str(self.y.name)


def customer_target(values: pd.Series, column: str) -> pd.Series:
    """A customer-table target: two classes mapped to 0/1 (the positive class is 1/yes/true or the
    rarer value), or numbers with more than two values kept as amounts (a regression target)."""
    present = values.dropna()
    classes = sorted(present.unique(), key=str)
    if len(classes) > 2 and pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present):
        return values.astype("float64")
    if len(classes) != 2:
        raise DataError(
            f"data.customers.target: target '{column}' needs exactly two classes for a classifier (or more than "
            f"two numbers for a regressor); found {len(classes)}: {[str(c) for c in classes[:10]]}"
        )
    positive_words = {"1", "yes", "true", "y", "t"}
    positive = next((c for c in classes if str(c).strip().lower() in positive_words), None)
    if positive is None:
        positive = present.value_counts().idxmin()
    return values.map(lambda v: pd.NA if pd.isna(v) else int(v == positive)).astype("Int64")


def drop_unlabelled(table: CustomerTable) -> CustomerTable:
    """Keep the rows whose target is known (class labels as int64, amounts as float64)."""
    if table.y is None:
        return table
    known = table.y.notna()
    report = {**table.report, "rows_without_target": float((~known).sum())}
    y = table.y[known]
    y = y.astype("int64" if pd.api.types.is_integer_dtype(y) else "float64")
    return CustomerTable(table.X[known], y, table.cutoff, report)
