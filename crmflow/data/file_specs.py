"""The `data=csv` config blocks as frozen specs: how to read each file, its column mapping, its cleaning.

`transaction_spec` and `customer_spec` check a `data.transactions` / `data.customers` mapping before any
file is read (unknown keys with the closest valid name; read options, cleaning options and column
references by the rules each spec declares in `constraints`) and raise `ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from os import PathLike
from typing import Any, ClassVar, TypeVar

from crmflow.config.constraints import (
    Boolean,
    Constraint,
    Encoding,
    InstanceOf,
    Interval,
    ListOf,
    Options,
    Text,
)
from crmflow.config.validation import validate
from crmflow.data.cleaning import DROP_RETURNS, DROP_ZERO_AMOUNTS, Cleaning
from crmflow.data.timestamps import EPOCH_UNITS
from crmflow.errors import ConfigError, did_you_mean

__all__ = [
    "DEFAULT_COLUMNS",
    "REQUIRED_ROLES",
    "ColumnRef",
    "CustomerSpec",
    "TableSpec",
    "TimeZone",
    "TransactionSpec",
    "customer_spec",
    "transaction_spec",
]

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
ColumnRef = str | int
Spec = TypeVar("Spec")

FORMAT = InstanceOf(str, doc="a strftime format such as '%d/%m/%Y %H:%M'")
# A column is named, or given by its 0-based position (always so without a header row).
POSITION = Interval(int, 0, None, doc="a 0-based column position (header is false)")
COLUMN = {True: [str, int, None], False: [POSITION, None]}
COLUMNS = {
    True: ListOf([str, int], doc="a list of column names or positions"),
    False: ListOf(POSITION, doc="a list of 0-based column positions (header is false)"),
}


def _column(values: Mapping[str, Any]) -> list[Any]:
    """One column reference; an int position when the file has no header row."""
    return COLUMN[values["header"]]


def _columns(values: Mapping[str, Any]) -> ListOf:
    """A list of column references; int positions when the file has no header row."""
    return COLUMNS[values["header"]]


@dataclass(frozen=True)
class TimeZone(Constraint):
    """A time zone name the zoneinfo database knows, e.g. 'UTC' or 'Europe/Berlin'."""

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, str) or not value.strip():
            return False
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            return False
        return True

    def describe(self) -> str:
        return "a time zone name such as 'UTC' or 'Europe/Berlin'"

    def fix(self, value: Any) -> str:
        return did_you_mean(value, sorted(zoneinfo.available_timezones())) if isinstance(value, str) else ""


def _epoch_unit(format_name: str) -> Any:
    """An epoch unit (a column holds epoch numbers) only when no strftime format (date text) is set."""

    def rule(values: Mapping[str, Any]) -> list[Any]:
        if values[format_name] is None:
            return [Options(tuple(EPOCH_UNITS), doc=f"one of {', '.join(EPOCH_UNITS)} (Unix epoch units)"), None]
        return [Options((None,), doc=f"None when {format_name} is set (a column holds epoch numbers or date text)")]

    return rule


def _other_than_decimal(values: Mapping[str, Any]) -> Text:
    """The thousands separator is one character, and not the decimal mark."""
    decimal = values["decimal"]
    return Text(1, 1, exclude=(decimal,), doc=f"a single character other than decimal ({decimal!r})")


READ_OPTIONS: dict[str, list[Any]] = {
    "path": [Text(doc="a file path"), InstanceOf(PathLike, doc="a pathlib.Path")],
    "sep": [Text(doc="a delimiter such as ',' or ';'")],
    "header": [Boolean()],
    "encoding": [Encoding()],
    "decimal": [Text(1, 1)],
    "thousands": [_other_than_decimal, None],
    "timezone": [TimeZone(), None],
}
# `data.transactions.cleaning` (the Cleaning dataclass of crmflow.data.cleaning)
CLEANING: dict[str, list[Any]] = {
    "drop_duplicates": [Boolean()],
    "returns": [Options(DROP_RETURNS)],
    "cancel_prefix": [str, None],
    "missing_values": [ListOf([str, float], doc="a list of placeholder values such as ['Unknown']"), None],
    "drop_missing_customer": [Boolean()],
    "zero_amounts": [Options(DROP_ZERO_AMOUNTS)],
}


@dataclass(frozen=True)
class TableSpec:
    """How to read one file (sep, header, ... are ignored for Parquet)."""

    path: str | None = None
    sep: str = ","
    header: bool = True
    encoding: str = "utf-8"
    decimal: str = "."
    thousands: str | None = None
    timezone: str | None = None  # zone that timestamps with UTC offsets (and epoch times) are converted to

    constraints: ClassVar[dict[str, list[Any]]] = READ_OPTIONS


@dataclass(frozen=True)
class TransactionSpec(TableSpec):
    """`data.transactions`: the file, its column mapping and the cleaning steps."""

    timestamp_format: str | None = None
    timestamp_unit: str | None = None  # the unit of Unix epoch numbers: s, ms, us or ns
    columns: Mapping[str, ColumnRef | None] = field(default_factory=lambda: dict(DEFAULT_COLUMNS))
    cleaning: Cleaning = field(default_factory=Cleaning)

    constraints: ClassVar[dict[str, list[Any]]] = {
        **READ_OPTIONS,
        "timestamp_format": [FORMAT, None],
        "timestamp_unit": [_epoch_unit("timestamp_format")],
    }


@dataclass(frozen=True)
class CustomerSpec(TableSpec):
    """`data.customers`: the file, its id and target columns and column conversions."""

    id_column: ColumnRef | None = None
    target: ColumnRef | None = None
    numeric_columns: tuple[ColumnRef, ...] = ()
    date_columns: tuple[ColumnRef, ...] = ()
    date_format: str | None = None
    date_unit: str | None = None
    drop_columns: tuple[ColumnRef, ...] = ()
    missing_values: tuple[str, ...] = ()

    constraints: ClassVar[dict[str, list[Any]]] = {
        **READ_OPTIONS,
        "id_column": [_column],
        "target": [_column],
        "numeric_columns": [_columns, None],
        "date_columns": [_columns, None],
        "date_format": [FORMAT, None],
        "date_unit": [_epoch_unit("date_format")],
        "drop_columns": [_columns, None],
        "missing_values": [ListOf(str, doc="a list of placeholder strings such as ['Unknown']"), None],
    }

    def column_refs(self) -> dict[str, list[ColumnRef]]:
        """Every column this block names, by config key."""
        refs = {"id_column": (self.id_column,), "target": (self.target,)}
        refs |= {name: getattr(self, name) for name in ("numeric_columns", "date_columns", "drop_columns")}
        return {name: [ref for ref in values if ref is not None] for name, values in refs.items()}


def _check_keys(given: Iterable[str], valid: Iterable[str], key: str, what: str = "key") -> None:
    """ConfigError naming the first unknown key under ``key``, with the closest valid name."""
    valid = list(valid)
    for name in sorted(set(given) - set(valid), key=str):
        raise ConfigError(f"{key}: unknown {what} '{name}'{did_you_mean(name, valid)} (valid: {', '.join(valid)})")


def _build(cls: type[Spec], node: Mapping[str, Any] | None, key: str, constraints: Mapping[str, list[Any]]) -> Spec:
    """A spec dataclass from a config mapping: unknown keys named, values checked against `constraints`,
    list values (None = empty) turned into tuples."""
    given = dict(node or {})
    names = [f.name for f in dataclasses.fields(cls)]
    _check_keys(given, names, key)
    defaults = cls()
    values = {name: given[name] if name in given else getattr(defaults, name) for name in names}
    validate(values, {name: rules for name, rules in constraints.items() if name in values}, key)
    lists = [name for name in names if isinstance(getattr(defaults, name), tuple)]
    return cls(**{**given, **{name: tuple(values[name] or ()) for name in lists if name in given}})


def transaction_spec(node: Mapping[str, Any], key: str = "data.transactions") -> TransactionSpec:
    """Check and build the transactions block."""
    given = dict(node)
    columns = dict(given.pop("columns", None) or {})
    _check_keys(columns, DEFAULT_COLUMNS, f"{key}.columns", "column role")
    cleaning = _build(Cleaning, given.pop("cleaning", None), f"{key}.cleaning", CLEANING)
    spec = _build(TransactionSpec, given, key, TransactionSpec.constraints)
    spec = dataclasses.replace(spec, columns={**DEFAULT_COLUMNS, **columns}, cleaning=cleaning)
    validate(spec.columns, dict.fromkeys(spec.columns, COLUMN[spec.header]), f"{key}.columns")
    for role in REQUIRED_ROLES:
        if spec.columns[role] is None:
            raise ConfigError(f"{key}.columns.{role}: required; name the file's {role} column")
    if cleaning.cancel_prefix and spec.columns["basket_id"] is None:
        raise ConfigError(f"{key}.cleaning.cancel_prefix: needs columns.basket_id (the invoice column)")
    return spec


def customer_spec(node: Mapping[str, Any], key: str = "data.customers") -> CustomerSpec:
    """Check and build the customers block."""
    spec = _build(CustomerSpec, node, key, CustomerSpec.constraints)
    kept = {spec.id_column, spec.target} - {None}
    if dropped := kept & set(spec.drop_columns):
        raise ConfigError(f"{key}.drop_columns: cannot drop the id or target column {sorted(map(str, dropped))}")
    return spec
