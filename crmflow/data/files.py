"""Load a user's transaction log and/or customer table from CSV or Parquet (`data=csv`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from crmflow.data.base import CRMData
from crmflow.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

REQUIRED_TRANSACTION_COLUMNS = ("customer_id", "timestamp", "amount")
OPTIONAL_TRANSACTION_COLUMNS = ("item", "quantity", "basket_id")


def read_table(path: str | Path, sep: str, key: str) -> pd.DataFrame:
    """Read a CSV (any delimiter) or a Parquet file, chosen by the file extension."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{key}.path: file '{path}' does not exist")
    if file.suffix.lower() in {".parquet", ".pq"}:
        table = pd.read_parquet(file)
    else:
        table = pd.read_csv(file, sep=sep)
    if table.empty:
        raise DataError(f"{key}.path: '{path}' has no rows")
    return table


def _require_column(table: pd.DataFrame, column: str, key: str) -> None:
    if column not in table.columns:
        shown = ", ".join(map(str, table.columns[:20]))
        raise DataError(f"{key}: column '{column}' is not in the file; its columns are: {shown}")


def parse_timestamps(values: pd.Series, fmt: str | None, key: str) -> pd.Series:
    """Parse dates, failing with the number of unparsable rows and an example value."""
    parsed = pd.to_datetime(values, format=fmt, errors="coerce")
    bad = parsed.isna() & values.notna()
    if bad.any():
        example = values[bad].iloc[0]
        expected = f"format '{fmt}'" if fmt else "a date (set timestamp_format to the strftime format)"
        raise DataError(
            f"{key}: {int(bad.sum())} timestamps cannot be parsed as {expected}; e.g. {example!r}"
        )
    return parsed


def parse_numbers(values: pd.Series, key: str) -> pd.Series:
    """Convert to float (blank text counts as missing), failing with the count of non-numeric rows."""
    if not pd.api.types.is_numeric_dtype(values):
        values = values.where(values.astype(str).str.strip() != "")
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna()
    if bad.any():
        raise DataError(f"{key}: {int(bad.sum())} values are not numeric; e.g. {values[bad].iloc[0]!r}")
    return numbers.astype("float64")


def load_transactions(spec: Mapping[str, Any], key: str = "data.transactions") -> pd.DataFrame:
    """Read and map a transaction log to crmflow's standard columns."""
    columns = dict(spec.get("columns") or {})
    for name in sorted(set(columns) - set(REQUIRED_TRANSACTION_COLUMNS + OPTIONAL_TRANSACTION_COLUMNS)):
        raise ConfigError(f"{key}.columns: unknown column role '{name}'")
    raw = read_table(spec["path"], spec.get("sep", ","), key)
    out = pd.DataFrame(index=raw.index)
    for role in REQUIRED_TRANSACTION_COLUMNS + OPTIONAL_TRANSACTION_COLUMNS:
        source = columns.get(role, role if role in REQUIRED_TRANSACTION_COLUMNS else None)
        if source is None:
            continue
        _require_column(raw, source, f"{key}.columns.{role}")
        out[role] = raw[source]
    out["customer_id"] = out["customer_id"].astype("string").astype(str)
    out["timestamp"] = parse_timestamps(out["timestamp"], spec.get("timestamp_format"), f"{key}.columns.timestamp")
    out["amount"] = parse_numbers(out["amount"], f"{key}.columns.amount")
    if "quantity" in out:
        out["quantity"] = parse_numbers(out["quantity"], f"{key}.columns.quantity")
    for role in ("item", "basket_id"):
        if role in out:
            out[role] = out[role].astype("string").astype(object).where(out[role].notna())
    return out


def load_customers(spec: Mapping[str, Any], key: str = "data.customers") -> tuple[pd.DataFrame, str | None]:
    """Read a customer table; rename its id column to `customer_id`; return it and the target name."""
    raw = read_table(spec["path"], spec.get("sep", ","), key)
    id_column = spec.get("id_column") or "customer_id"
    _require_column(raw, id_column, f"{key}.id_column")
    target = spec.get("target")
    if target is not None:
        _require_column(raw, target, f"{key}.target")
    table = raw.rename(columns={id_column: "customer_id"})
    for column in spec.get("numeric_columns") or []:
        _require_column(table, column, f"{key}.numeric_columns")
        table[column] = parse_numbers(table[column], f"{key}.numeric_columns.{column}")
    table["customer_id"] = table["customer_id"].astype("string").astype(str)
    return table, target


class FileSource:
    """Transactions and/or customers read from files; either may be null."""

    def __init__(
        self,
        name: str = "csv",
        transactions: Mapping[str, Any] | None = None,
        customers: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.transactions = transactions
        self.customers = customers

    def load(self) -> CRMData:
        if self.transactions is None and self.customers is None:
            raise ConfigError("data: set data.transactions.path and/or data.customers.path; both are null")
        for key, spec in (("data.transactions", self.transactions), ("data.customers", self.customers)):
            if spec is not None and not spec.get("path"):
                raise ConfigError(f"{key}.path: expected a file path; got {spec.get('path')!r}")
        transactions = load_transactions(self.transactions) if self.transactions is not None else None
        customers, target = load_customers(self.customers) if self.customers is not None else (None, None)
        logger.info(
            "loaded %s: %s transaction rows, %s customer rows",
            self.name,
            "no" if transactions is None else len(transactions),
            "no" if customers is None else len(customers),
        )
        return CRMData(self.name, transactions, customers, target)
