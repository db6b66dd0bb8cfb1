"""Load a user's transaction log and/or customer table from CSV or Parquet (`data=csv`).

The config is checked first (unknown keys, bad options: `ConfigError`), then each table is read,
mapped to crmflow's standard columns, validated (`DataError` naming the config key, the column
and what was found) and cleaned by the pure steps of `crmflow.data.cleaning`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from crmflow.data.base import TRANSACTION_COLUMNS, CRMData
from crmflow.data.cleaning import (
    DROP_RETURNS,
    Cleaning,
    clean_transactions,
    customer_ids,
    derive_amount,
    mark_missing,
    parse_numbers,
    parse_timestamps,
    require_column,
    require_values,
    text_columns,
    transaction_converters,
)
from crmflow.errors import ConfigError, DataError, did_you_mean

__all__ = [
    "Cleaning",
    "CustomerSpec",
    "FileSource",
    "TransactionSpec",
    "load_customers",
    "load_transactions",
    "parse_numbers",
    "parse_timestamps",
    "read_table",
]

logger = logging.getLogger(__name__)

DEFAULT_COLUMNS: dict[str, str | int | None] = {
    "customer_id": "customer_id",
    "timestamp": "timestamp",
    "amount": "amount",
    "item": None,
    "quantity": None,
    "basket_id": None,
    "unit_price": None,
}
REQUIRED_ROLES = ("customer_id", "timestamp")
ID_ROLES = ("customer_id", "basket_id", "item")  # text roles: placeholders become missing here
PARQUET_SUFFIXES = {".parquet", ".pq"}
ColumnRef = str | int
Spec = TypeVar("Spec")


@dataclass(frozen=True)
class TableSpec:
    """How to read one file (sep, header, ... are ignored for Parquet)."""

    path: str | None = None
    sep: str = ","
    header: bool = True
    encoding: str = "utf-8"
    decimal: str = "."
    thousands: str | None = None


@dataclass(frozen=True)
class TransactionSpec(TableSpec):
    """`data.transactions`: the file, its column mapping and the cleaning steps."""

    timestamp_format: str | None = None
    columns: Mapping[str, ColumnRef | None] = field(default_factory=lambda: dict(DEFAULT_COLUMNS))
    cleaning: Cleaning = field(default_factory=Cleaning)


@dataclass(frozen=True)
class CustomerSpec(TableSpec):
    """`data.customers`: the file, its id and target columns and column conversions."""

    id_column: ColumnRef | None = None
    target: ColumnRef | None = None
    numeric_columns: tuple[ColumnRef, ...] = ()
    date_columns: tuple[ColumnRef, ...] = ()
    date_format: str | None = None
    drop_columns: tuple[ColumnRef, ...] = ()
    missing_values: tuple[str, ...] = ()

    def column_refs(self) -> dict[str, list[ColumnRef]]:
        """Every column this block names, by config key."""
        refs = {"id_column": (self.id_column,), "target": (self.target,)}
        refs |= {name: getattr(self, name) for name in ("numeric_columns", "date_columns", "drop_columns")}
        return {name: [ref for ref in values if ref is not None] for name, values in refs.items()}


# --- config ---------------------------------------------------------------------------------------


def _check_keys(given: Iterable[str], valid: Iterable[str], key: str, what: str = "key") -> None:
    valid = list(valid)
    for name in sorted(set(given) - set(valid), key=str):
        raise ConfigError(f"{key}: unknown {what} '{name}'{did_you_mean(name, valid)} (valid: {', '.join(valid)})")


def _build(cls: type[Spec], node: Mapping[str, Any] | None, key: str, lists: Iterable[str] = ()) -> Spec:
    """A spec dataclass from a config mapping: unknown keys named, list keys turned into tuples."""
    given = dict(node or {})
    _check_keys(given, [f.name for f in dataclasses.fields(cls)], key)
    for name in lists:
        value = given.get(name)
        if isinstance(value, str) or (value is not None and not isinstance(value, Iterable)):
            raise ConfigError(f"{key}.{name}: expected a list; got {value!r}")
        given[name] = tuple(value or ())
    return cls(**given)


def _check_read_options(spec: TableSpec, key: str) -> None:
    if not isinstance(spec.header, bool):
        raise ConfigError(f"{key}.header: expected true or false; got {spec.header!r}")
    if not isinstance(spec.sep, str) or not spec.sep:
        raise ConfigError(f"{key}.sep: expected a delimiter such as ',' or ';'; got {spec.sep!r}")
    if spec.thousands is not None and spec.thousands == spec.decimal:
        raise ConfigError(f"{key}.thousands: must differ from decimal; both are {spec.decimal!r}")


def _check_ref(ref: ColumnRef | None, header: bool, key: str) -> None:
    """Without a header row, columns are referred to by 0-based position."""
    if ref is not None and not header and (isinstance(ref, bool) or not isinstance(ref, int)):
        raise ConfigError(f"{key}: with header: false, columns are 0-based positions (ints); got {ref!r}")


def transaction_spec(node: Mapping[str, Any], key: str = "data.transactions") -> TransactionSpec:
    """Check and build the transactions block."""
    given = dict(node)
    columns = dict(given.pop("columns", None) or {})
    _check_keys(columns, DEFAULT_COLUMNS, f"{key}.columns", "column role")
    cleaning = _build(Cleaning, given.pop("cleaning", None), f"{key}.cleaning", ["missing_values"])
    spec = _build(TransactionSpec, given, key)
    spec = dataclasses.replace(spec, columns={**DEFAULT_COLUMNS, **columns}, cleaning=cleaning)
    _check_read_options(spec, key)
    for role, ref in spec.columns.items():
        _check_ref(ref, spec.header, f"{key}.columns.{role}")
    for role in REQUIRED_ROLES:
        if spec.columns[role] is None:
            raise ConfigError(f"{key}.columns.{role}: required; name the file's {role} column")
    if cleaning.returns not in DROP_RETURNS:
        raise ConfigError(f"{key}.cleaning.returns: expected one of {list(DROP_RETURNS)}; got {cleaning.returns!r}")
    if cleaning.cancel_prefix and spec.columns["basket_id"] is None:
        raise ConfigError(f"{key}.cleaning.cancel_prefix: needs columns.basket_id (the invoice column)")
    return spec


def customer_spec(node: Mapping[str, Any], key: str = "data.customers") -> CustomerSpec:
    """Check and build the customers block."""
    lists = ["numeric_columns", "date_columns", "drop_columns", "missing_values"]
    spec = _build(CustomerSpec, node, key, lists)
    _check_read_options(spec, key)
    for name, refs in spec.column_refs().items():
        for ref in refs:
            _check_ref(ref, spec.header, f"{key}.{name}")
    kept = {spec.id_column, spec.target} - {None}
    if dropped := kept & set(spec.drop_columns):
        raise ConfigError(f"{key}.drop_columns: cannot drop the id or target column {sorted(map(str, dropped))}")
    return spec


# --- reading --------------------------------------------------------------------------------------


def read_table(
    path: str | Path,
    sep: str,
    key: str,
    header: bool = True,
    encoding: str = "utf-8",
    decimal: str = ".",
    thousands: str | None = None,
) -> pd.DataFrame:
    """Read a CSV (any delimiter) or a Parquet file, chosen by the file extension. Column labels are
    strings; without a header row they are the positions ("0", "1", ...)."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{key}.path: file '{path}' does not exist")
    try:
        if file.suffix.lower() in PARQUET_SUFFIXES:
            table = pd.read_parquet(file)
        else:
            table = pd.read_csv(
                file, sep=sep, header=0 if header else None, encoding=encoding, decimal=decimal,
                thousands=thousands, engine="python" if len(sep) > 1 else "c",
            )  # fmt: skip
    except pd.errors.EmptyDataError:
        table = pd.DataFrame()
    except UnicodeDecodeError as exc:
        raise DataError(f"{key}.encoding: '{path}' is not {encoding} text ({exc.reason} at byte {exc.start})") from exc
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{key}.path: cannot read '{path}' (sep={sep!r}): {first_line}") from exc
    if table.empty:
        raise DataError(f"{key}.path: '{path}' has no rows")
    table.columns = [str(c) for c in table.columns] if header else [str(i) for i in range(table.shape[1])]
    return table


def _read(spec: TableSpec, key: str) -> pd.DataFrame:
    return read_table(spec.path, spec.sep, key, spec.header, spec.encoding, spec.decimal, spec.thousands)


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
    converters = transaction_converters(spec.timestamp_format, key)
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
    raw = _read(spec, key)
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
    raw = _read(spec, key)
    columns = _customer_columns(raw, spec, key)
    id_column = next(iter(columns["id_column"]), None)
    if id_column != "customer_id" and "customer_id" in raw.columns:
        raise DataError(f"{key}.id_column: the file has a 'customer_id' column; set id_column: customer_id")
    table, marked = mark_missing(raw.drop(columns=columns["drop_columns"]), text_columns(raw), spec.missing_values)
    if marked:
        logger.info("%s.missing_values: %d placeholder values treated as missing", key, marked)
    ids = customer_ids(table, id_column, key)
    converters = {
        "numeric_columns": parse_numbers,
        "date_columns": partial(parse_timestamps, fmt=spec.date_format, format_key="date_format"),
    }
    for name, convert in converters.items():
        for column in columns[name]:
            table[column] = convert(table[column], key=f"{key}.{name}")
    for name in ("target", *converters):
        for column in columns[name]:
            require_values(table[column], f"{key}.{name}")
    table = table.drop(columns=columns["id_column"])
    table.insert(0, "customer_id", ids)
    return table.reset_index(drop=True), next(iter(columns["target"]), None), {"customers_in": float(len(raw))}


# --- source ---------------------------------------------------------------------------------------


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

    def check(self) -> tuple[TransactionSpec | None, CustomerSpec | None]:
        """Validate the whole data config before any file is read; return the parsed blocks."""
        if self.transactions is None and self.customers is None:
            raise ConfigError("data: set data.transactions.path and/or data.customers.path; both are null")
        tx = None if self.transactions is None else transaction_spec(self.transactions)
        customers = None if self.customers is None else customer_spec(self.customers)
        for key, spec in (("data.transactions", tx), ("data.customers", customers)):
            if spec is not None and not spec.path:
                raise ConfigError(f"{key}.path: expected a file path; got {spec.path!r}")
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
