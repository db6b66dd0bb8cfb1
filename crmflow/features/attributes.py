"""`features=none`: the customer table as it is, with its target."""

from __future__ import annotations

import pandas as pd

from crmflow.data.base import CRMData
from crmflow.errors import DataError
from crmflow.features.table import CustomerTable, customer_target


def attribute_features(customers: pd.DataFrame, reference: pd.Timestamp | None) -> pd.DataFrame:
    """Index by customer id; integers as floats (so missing values fit); dates as days before
    `reference` (default: the column's latest date)."""
    table = customers.set_index("customer_id")
    integers = [
        c for c in table.columns if pd.api.types.is_integer_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])
    ]
    table[integers] = table[integers].astype("float64")
    for column in table.columns[[pd.api.types.is_datetime64_any_dtype(t) for t in table.dtypes]]:
        dates = table.pop(column)
        origin = reference if reference is not None else dates.max()
        table[f"{column}_days"] = (origin - dates).dt.days.astype("float64")
    return table


class CustomerAttributes:
    """Use the customer table's columns as features and its configured target as the label."""

    def build(self, data: CRMData) -> CustomerTable:
        if data.customers is None:
            raise DataError("features=none: needs a customer table (data.customers); the data has none")
        table = data.customers
        if table["customer_id"].duplicated().any():
            raise DataError("data.customers.id_column: customer ids are not unique")
        y = None
        if data.target is not None:
            y = customer_target(table[data.target], data.target)
            y.index = pd.Index(table["customer_id"], name="customer_id")
            table = table.drop(columns=data.target)
        return CustomerTable(attribute_features(table, None), y)
