"""Pure cleaning and conversion steps for loaded tables (no I/O, no globals).

Each cleaning step takes a frame in crmflow's standard column names and returns the cleaned
frame (index kept) and the number of rows it dropped (or cells it changed), so the loader can
report and log the counts. Conversions turn one column into its standard dtype and raise
`DataError` naming the config key, the column and an example of the offending value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from crmflow.data.timestamps import parse_timestamps
from crmflow.errors import DataError, did_you_mean

__all__ = [
    "DROP_RETURNS",
    "DROP_ZERO_AMOUNTS",
    "Cleaning",
    "clean_transactions",
    "cleaning_steps",
    "customer_ids",
    "derive_amount",
    "drop_duplicates",
    "drop_missing_customers",
    "drop_returns",
    "drop_zero_amounts",
    "id_strings",
    "mark_missing",
    "parse_numbers",
    "parse_timestamps",
    "require_column",
    "require_finite",
    "require_values",
    "return_rows",
    "text_columns",
    "transaction_converters",
]

_LOCALE_NUMBER = re.compile(r"^\s*[-+]?[\d.,' ]*\d[\d.,' ]*\s*$")  # e.g. "1.234,5": a number in another format
DROP_RETURNS = {"drop": True, "keep": False}  # cleaning.returns -> whether returns are dropped
DROP_ZERO_AMOUNTS = {"drop": True, "keep": False}  # cleaning.zero_amounts -> whether free lines are dropped
Step = Callable[[pd.DataFrame], tuple[pd.DataFrame, int]]


@dataclass(frozen=True)
class Cleaning:
    """`data.transactions.cleaning`: which cleaning steps run."""

    drop_duplicates: bool = False
    returns: str = "drop"
    cancel_prefix: str | None = None
    missing_values: tuple[str, ...] = ()
    drop_missing_customer: bool = True
    zero_amounts: str = "keep"


# --- cleaning steps: DataFrame -> (DataFrame, count) ---------------------------------------------


def mark_missing(frame: pd.DataFrame, columns: Iterable[str], placeholders: Iterable[str]) -> tuple[pd.DataFrame, int]:
    """Replace placeholder strings (e.g. "Unknown") by missing values in `columns`; count the cells."""
    placeholders = list(placeholders)
    columns = [c for c in columns if c in frame.columns]
    if not placeholders or not columns:
        return frame, 0
    out = frame.copy()
    replaced = 0
    for column in columns:
        hit = out[column].isin(placeholders)
        replaced += int(hit.sum())
        out[column] = out[column].mask(hit)
    return out, replaced


def drop_missing_customers(transactions: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Drop rows without a `customer_id`."""
    keep = transactions["customer_id"].notna()
    return transactions[keep], int((~keep).sum())


def drop_duplicates(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Drop exact duplicate rows, keeping the first of each."""
    keep = ~frame.duplicated()
    return frame[keep], int((~keep).sum())


def return_rows(transactions: pd.DataFrame, cancel_prefix: str | None = None) -> pd.Series:
    """Rows that are returns: negative `quantity` or `amount`, or a `basket_id` starting with `cancel_prefix`."""
    mask = pd.Series(False, index=transactions.index)
    for column in ("quantity", "amount"):
        if column in transactions:
            mask |= transactions[column].lt(0)
    if cancel_prefix and "basket_id" in transactions:
        mask |= transactions["basket_id"].astype("str").str.startswith(cancel_prefix, na=False)
    return mask


def drop_returns(transactions: pd.DataFrame, cancel_prefix: str | None = None) -> tuple[pd.DataFrame, int]:
    """Drop returns and cancellations (see `return_rows`)."""
    returns = return_rows(transactions, cancel_prefix)
    return transactions[~returns], int(returns.sum())


def drop_zero_amounts(transactions: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Drop lines whose `amount` is 0 (free items, price adjustments); a log without amounts is kept whole."""
    if "amount" not in transactions:
        return transactions, 0
    zero = transactions["amount"].eq(0)
    return transactions[~zero], int(zero.sum())


def cleaning_steps(cleaning: Cleaning) -> list[tuple[str, str, Step]]:
    """The active steps in order: (config key, report key, step)."""
    returns = partial(drop_returns, cancel_prefix=cleaning.cancel_prefix)
    steps = [
        (
            "drop_missing_customer",
            "rows_dropped_missing_customer",
            cleaning.drop_missing_customer,
            drop_missing_customers,
        ),
        ("drop_duplicates", "rows_dropped_duplicates", cleaning.drop_duplicates, drop_duplicates),
        ("returns", "rows_dropped_returns", DROP_RETURNS[cleaning.returns], returns),
        ("zero_amounts", "rows_dropped_zero_amounts", DROP_ZERO_AMOUNTS[cleaning.zero_amounts], drop_zero_amounts),
    ]
    return [(name, report, step) for name, report, active, step in steps if active]


def clean_transactions(tx: pd.DataFrame, cleaning: Cleaning, key: str) -> tuple[pd.DataFrame, dict[str, float]]:
    """Run the active cleaning steps; fail naming the step that leaves no rows."""
    report: dict[str, float] = {}
    for name, report_key, step in cleaning_steps(cleaning):
        before = len(tx)
        tx, report[report_key] = step(tx)
        if tx.empty:
            raise DataError(f"{key}.cleaning.{name}: dropped all {before} remaining rows; no transactions left")
    return tx, {key_: float(value) for key_, value in report.items()}


# --- conversions and checks ----------------------------------------------------------------------


def text_columns(frame: pd.DataFrame) -> list[str]:
    """Columns holding text (the "str" dtype or Python objects)."""
    return [c for c in frame.columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])]


def id_strings(values: pd.Series) -> pd.Series:
    """Ids as text so tables join: integral floats lose their ".0" (17850.0 -> "17850", also when read as the
    text "17850.0" in every row), ints become "1234", text stays as written ("00042"); blank strings become
    missing."""
    if pd.api.types.is_float_dtype(values):
        present = values.dropna()
        if present.eq(present.round()).all():
            values = values.astype("Int64")
    text = values.astype("str")
    present = text.dropna()
    if len(present) and present.str.fullmatch(r"-?\d+\.0*").all():
        text = text.str.replace(r"\.0*$", "", regex=True)
    return text.mask(text.str.strip().eq(""))


def transaction_converters(
    timestamp_format: str | None,
    key: str,
    unit: str | None = None,
    timezone: str | None = None,
    *,
    decimal: str = ".",
    thousands: str | None = None,
) -> dict[str, Callable[[pd.Series], pd.Series]]:
    """Per transaction column role: the conversion of a file column to its standard dtype; errors name
    the keys of the block `key` (`{key}.timestamp_format`, `{key}.timestamp_unit`, `{key}.timezone`).
    Numbers read as text are parsed with the file's `decimal` and `thousands` marks."""
    numbers = {
        role: partial(parse_numbers, key=f"{key}.columns.{role}", decimal=decimal, thousands=thousands)
        for role in ("amount", "quantity", "unit_price")
    }
    timestamps = partial(
        parse_timestamps,
        fmt=timestamp_format,
        key=f"{key}.columns.timestamp",
        format_key=f"{key}.timestamp_format",
        unit=unit,
        unit_key=f"{key}.timestamp_unit",
        timezone=timezone,
        timezone_key=f"{key}.timezone",
    )
    return {**numbers, "timestamp": timestamps, "customer_id": id_strings, "basket_id": id_strings, "item": _text}


def _text(values: pd.Series) -> pd.Series:
    return values.astype("str")


def derive_amount(transactions: pd.DataFrame) -> tuple[pd.Series, str]:
    """The amount when no amount column is mapped, and how it was made: quantity × unit_price when a
    unit price is known, else the quantity, else 1.0 per row (then monetary counts items)."""
    if "unit_price" in transactions:
        quantity = transactions.get("quantity", 1.0)
        return (transactions["unit_price"] * quantity).rename("amount"), "quantity × unit_price"
    if "quantity" in transactions:
        return transactions["quantity"].astype("float64").rename("amount"), "quantity (monetary counts items)"
    return pd.Series(1.0, index=transactions.index, name="amount"), "1.0 per row (monetary counts items)"


def require_values(values: pd.Series, key: str) -> None:
    """Fail when a configured column holds no value at all (e.g. an entirely empty amount column)."""
    if values.isna().all():
        raise DataError(f"{key}: column '{values.name}' has no values (all {len(values)} rows are empty)")


def parse_numbers(values: pd.Series, key: str, decimal: str = ".", thousands: str | None = None) -> pd.Series:
    """Convert to float (blank text counts as missing), failing with the count of non-numeric rows. Text is
    read with the file's marks: with decimal ',' and thousands '.', "1.071,79" is 1071.79 and "71,79" 71.79."""
    plain = values
    if not pd.api.types.is_numeric_dtype(values):
        values = values.where(values.astype("str").str.strip().ne(""))
        plain = values.astype("str").str.strip()
        plain = plain.str.replace(thousands, "", regex=False) if thousands else plain
        plain = plain.str.replace(decimal, ".", regex=False) if decimal != "." else plain
        plain = plain.where(values.notna())
    numbers = pd.to_numeric(plain, errors="coerce")
    bad = numbers.isna() & values.notna()
    if bad.any():
        example = values[bad].iloc[0]
        hint = "; set decimal/thousands to the file's number format" if _LOCALE_NUMBER.match(str(example)) else ""
        raise DataError(
            f"{key}: {int(bad.sum())} of {len(values)} values in column '{values.name}' are not numeric; "
            f"e.g. {example!r}{hint}"
        )
    numbers = numbers.astype("float64")
    require_finite(numbers.rename(values.name), key)
    return numbers


def require_finite(values: pd.Series, key: str, fix: str = "leave them empty (missing) or write a number") -> None:
    """Fail when a numeric column holds infinities ("inf" in a CSV is read as one), with the count and a row."""
    if not pd.api.types.is_float_dtype(values):
        return
    infinite = pd.Series(np.isinf(values.to_numpy()), index=values.index)
    if infinite.any():
        row = infinite.idxmax()
        raise DataError(
            f"{key}: {int(infinite.sum())} of {len(values)} values in column '{values.name}' are infinite "
            f"(e.g. row {row}: {values[row]}); {fix}"
        )


def require_column(table: pd.DataFrame, ref: str | int, key: str) -> str:
    """The column `ref` names, or a DataError with the closest names."""
    column = str(ref)
    if column not in table.columns:
        names = [str(c) for c in table.columns]
        shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
        raise DataError(f"{key}: column '{column}' is not in the file{did_you_mean(column, names)} (columns: {shown})")
    return column


def customer_ids(table: pd.DataFrame, column: str | None, key: str) -> pd.Series:
    """Ids from `column` as strings (row numbers "0", "1", ... without one); no nulls, no duplicates."""
    if column is None:
        return pd.Series(pd.RangeIndex(len(table)).astype("str"), index=table.index, name="customer_id")
    ids = id_strings(table[column])
    missing, repeated = ids.isna(), ids.duplicated() & ids.notna()
    if missing.any():
        raise DataError(
            f"{key}.id_column: {int(missing.sum())} rows of column '{column}' have no id (e.g. row {missing.idxmax()})"
        )
    if repeated.any():
        example = ids[repeated].iloc[0]
        raise DataError(
            f"{key}.id_column: {int(repeated.sum())} rows of column '{column}' repeat an id; e.g. {example!r}"
        )
    return ids.rename("customer_id")
