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


def binary_target(values: pd.Series, column: str) -> pd.Series:
    """Map a two-valued target to 0/1 (the positive class is 1/yes/true or the rarer value)."""
    present = values.dropna()
    classes = sorted(present.unique(), key=str)
    if len(classes) != 2:
        raise DataError(
            f"target '{column}': a classifier needs exactly two classes; found {len(classes)}: "
            f"{[str(c) for c in classes[:10]]}"
        )
    positive_words = {"1", "yes", "true", "y", "t"}
    positive = next((c for c in classes if str(c).strip().lower() in positive_words), None)
    if positive is None:
        positive = present.value_counts().idxmin()
    return values.map(lambda v: pd.NA if pd.isna(v) else int(v == positive)).astype("Int64")


def drop_unlabelled(table: CustomerTable) -> CustomerTable:
    """Keep the rows whose target is known."""
    if table.y is None:
        return table
    known = table.y.notna()
    report = {**table.report, "rows_without_target": float((~known).sum())}
    return CustomerTable(table.X[known], table.y[known].astype("int64"), table.cutoff, report)
