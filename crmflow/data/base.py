"""The in-memory form of a CRM data set that every stage reads."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

TRANSACTION_COLUMNS = ("customer_id", "timestamp", "amount", "item", "quantity", "basket_id")


@dataclass
class CRMData:
    """Transactions and/or customers in crmflow's standard column names.

    transactions: one row per line item with ``customer_id``, ``timestamp`` (datetime64),
        ``amount`` (float) and optionally ``item`` (str), ``quantity``, ``basket_id``.
    customers: one row per customer, ``customer_id`` column plus attributes and optional target.
    target: name of the target column in ``customers`` (None when there is none).
    truth: ground truth known only for generated data (``customer_id``, ``segment``, ...);
        never used as a feature, only by tests and diagnostics.
    """

    name: str
    transactions: pd.DataFrame | None = None
    customers: pd.DataFrame | None = None
    target: str | None = None
    truth: pd.DataFrame | None = field(default=None, repr=False)
    report: dict[str, float] = field(default_factory=dict)

    def has_column(self, column: str) -> bool:
        """Whether the transactions table carries ``column`` with at least one value."""
        tx = self.transactions
        return tx is not None and column in tx.columns and bool(tx[column].notna().any())
