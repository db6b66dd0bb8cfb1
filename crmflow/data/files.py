"""Load a user's transaction log and/or customer table from CSV or Parquet (`data=csv`).

The config is checked first (`crmflow.data.file_specs`: unknown keys, bad options: `ConfigError`),
then each table is read, mapped to crmflow's standard columns, validated (`DataError` naming the
config key, the column and what was found) and cleaned by the pure steps of `crmflow.data.cleaning`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import pandas as pd

from crmflow.config.constraints import InstanceOf
from crmflow.config.validation import validate_parameters
from crmflow.data.base import TRANSACTION_COLUMNS, CRMData
from crmflow.data.cleaning import (
    clean_transactions,
    customer_ids,
    derive_amount,
    mark_missing,
    parse_numbers,
    parse_timestamps,
    require_column,
    require_finite,
    require_values,
    text_columns,
    transaction_converters,
)
from crmflow.data.file_specs import CustomerSpec, TableSpec, TransactionSpec, customer_spec, transaction_spec
from crmflow.data.tables import read_table
from crmflow.errors import ConfigError, DataError

__all__ = [
    "FileSource",
    "load_customers",
    "load_transactions",
    "map_transactions",
    "read_table",
]

logger = logging.getLogger(__name__)

ID_ROLES = ("customer_id", "basket_id", "item")  # text roles: placeholders become missing here


# --- reading --------------------------------------------------------------------------------------


def _read(
    spec: TableSpec, key: str, text_columns: Sequence[str | int] = (), date_columns: Sequence[str | int] = ()
) -> pd.DataFrame:
    """The file of ``spec``, its id columns (``text_columns``) as written: "00042" keeps its zeros; its
    ``date_columns`` without the decimal and thousands marks: "01.01.2023" stays a date."""
    return read_table(
        spec.path, spec.sep, key, spec.header, spec.encoding, spec.decimal, spec.thousands, sep_key=f"{key}.sep",
        text_columns=text_columns, date_columns=date_columns,
    )  # fmt: skip


# --- transactions ---------------------------------------------------------------------------------


def map_transactions(raw: pd.DataFrame, spec: TransactionSpec, key: str) -> pd.DataFrame:
    """Select, convert and validate the mapped columns; derive the amount when none is mapped."""
    sources = {
        role: require_column(raw, ref, f"{key}.columns.{role}") for role, ref in spec.columns.items() if ref is not None
    }
    placeholders = [sources[role] for role in ID_ROLES if role in sources]
    raw, marked = mark_missing(raw, placeholders, spec.cleaning.missing_values)
    if marked:
        logger.info("%s.cleaning.missing_values: %d placeholder values treated as missing", key, marked)
    converters = transaction_converters(
        spec.timestamp_format, key, spec.timestamp_unit, spec.timezone, decimal=spec.decimal, thousands=spec.thousands
    )
    out = pd.DataFrame(index=raw.index)
    for role, column in sources.items():
        values = converters[role](raw[column])
        require_values(values.rename(column), f"{key}.columns.{role}")
        out[role] = values
    if "amount" not in out:
        out["amount"], how = derive_amount(out)
        logger.info("%s.columns.amount is null: amount = %s", key, how)
    missing, column = out["customer_id"].isna(), sources["customer_id"]
    if missing.any() and not spec.cleaning.drop_missing_customer:
        raise DataError(
            f"{key}.columns.customer_id: {int(missing.sum())} rows of column '{column}' have no customer id "
            f"(e.g. row {missing.idxmax()}); set {key}.cleaning.drop_missing_customer: true to drop them"
        )
    return out


def load_transactions(
    spec: Mapping[str, Any] | TransactionSpec, key: str = "data.transactions"
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Read, map, validate and clean a transaction log; return it and its cleaning counts."""
    spec = spec if isinstance(spec, TransactionSpec) else transaction_spec(spec, key)
    ids = [spec.columns[role] for role in ID_ROLES if spec.columns.get(role) is not None]
    raw = _read(spec, key, ids, [spec.columns["timestamp"]])
    tx, report = clean_transactions(map_transactions(raw, spec, key), spec.cleaning, key)
    report = {"rows_in": float(len(raw)), **report, "rows_out": float(len(tx))}
    return tx[[c for c in TRANSACTION_COLUMNS if c in tx]].reset_index(drop=True), report


# --- customers ------------------------------------------------------------------------------------


def _customer_columns(raw: pd.DataFrame, spec: CustomerSpec, key: str) -> dict[str, list[str]]:
    """Every column the customers block names, checked against the file: config key -> columns."""
    return {name: [require_column(raw, r, f"{key}.{name}") for r in refs] for name, refs in spec.column_refs().items()}


def load_customers(
    spec: Mapping[str, Any] | CustomerSpec, key: str = "data.customers"
) -> tuple[pd.DataFrame, str | None, dict[str, float]]:
    """Read a customer table with a `customer_id` column first; return it, the target name and its counts."""
    spec = spec if isinstance(spec, CustomerSpec) else customer_spec(spec, key)
    raw = _read(spec, key, [] if spec.id_column is None else [spec.id_column], spec.date_columns)
    columns = _customer_columns(raw, spec, key)
    id_column = next(iter(columns["id_column"]), None)
    if id_column != "customer_id" and "customer_id" in raw.columns:
        raise DataError(f"{key}.id_column: the file has a 'customer_id' column; set id_column: customer_id")
    table, marked = mark_missing(raw.drop(columns=columns["drop_columns"]), text_columns(raw), spec.missing_values)
    if marked:
        logger.info("%s.missing_values: %d placeholder values treated as missing", key, marked)
    ids = customer_ids(table, id_column, key)
    converters = {
        "numeric_columns": partial(parse_numbers, decimal=spec.decimal, thousands=spec.thousands),
        "date_columns": partial(
            parse_timestamps,
            fmt=spec.date_format,
            format_key=f"{key}.date_format",
            unit=spec.date_unit,
            unit_key=f"{key}.date_unit",
            timezone=spec.timezone,
            timezone_key=f"{key}.timezone",
        ),
    }
    for name, convert in converters.items():
        for column in columns[name]:
            table[column] = convert(table[column], key=f"{key}.{name}")
    for name in ("target", *converters):
        for column in columns[name]:
            require_values(table[column], f"{key}.{name}")
    table = table.drop(columns=columns["id_column"])
    for column in [c for c in table.columns if c not in columns["numeric_columns"]]:  # those: checked when parsed
        fix = f"leave them empty (missing), write a number, or add '{column}' to {key}.drop_columns"
        require_finite(table[column], key, fix)
    table.insert(0, "customer_id", ids)
    return table.reset_index(drop=True), next(iter(columns["target"]), None), {"customers_in": float(len(raw))}


# --- source ---------------------------------------------------------------------------------------


class FileSource:
    """Transactions and/or customers read from files; either may be null."""

    _parameter_constraints = {
        "name": [str],
        "transactions": [InstanceOf(Mapping, doc="a mapping of read options"), None],
        "customers": [InstanceOf(Mapping, doc="a mapping of read options"), None],
    }

    def __init__(
        self,
        name: str = "csv",
        transactions: Mapping[str, Any] | None = None,
        customers: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.transactions = transactions
        self.customers = customers

    def check(self) -> tuple[TransactionSpec | None, CustomerSpec | None]:
        """Validate the whole data config before any file is read; return the parsed blocks."""
        if self.transactions is None and self.customers is None:
            raise ConfigError("data: set data.transactions.path and/or data.customers.path; both are null")
        validate_parameters(self, "data")
        tx = None if self.transactions is None else transaction_spec(self.transactions)
        customers = None if self.customers is None else customer_spec(self.customers)
        return tx, customers

    def load(self) -> CRMData:
        """Read, validate and clean the configured tables; counts go to `CRMData.report`."""
        tx_block, customer_block = self.check()
        report: dict[str, float] = {}
        transactions = customers = target = None
        if tx_block is not None:
            transactions, counts = load_transactions(tx_block)
            report.update(counts)
        if customer_block is not None:
            customers, target, counts = load_customers(customer_block)
            report.update(counts)
        for key, value in report.items():
            logger.info("%s: %s = %d", self.name, key, value)
        return CRMData(self.name, transactions, customers, target, report=report)
