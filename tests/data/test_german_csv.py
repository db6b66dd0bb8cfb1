"""German number and date formats: decimal ',' and thousands '.' apply to numbers, never to dates."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crmflow.data.cleaning import parse_numbers
from crmflow.data.files import load_customers, load_transactions
from crmflow.errors import DataError

GERMAN = {"sep": ";", "decimal": ",", "timestamp_format": "%d.%m.%Y"}
COLUMNS = {"customer_id": "customer", "timestamp": "date", "amount": "amount"}


def write(tmp_path: Path, text: str, name: str = "sales.csv") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("thousands", [".", None])
def test_readme_example_reads_dates_and_decimal_commas(tmp_path: Path, thousands: str | None) -> None:
    path = write(tmp_path, "customer;date;amount\nc1;01.01.2023;71,79\nc2;15.02.2023;0,5\n")
    tx, _ = load_transactions({"path": path, **GERMAN, "thousands": thousands, "columns": COLUMNS})
    assert tx["timestamp"].tolist() == [pd.Timestamp("2023-01-01"), pd.Timestamp("2023-02-15")]
    assert tx["amount"].tolist() == [71.79, 0.5]


def test_thousands_dot_is_not_applied_to_the_date(tmp_path: Path) -> None:
    # read_csv with thousands='.' alone would make the date 01.01.2023 the number 1012023
    path = write(tmp_path, "customer;date;amount\nc1;01.01.2023;1.071,79\nc2;02.01.2023;71,79\n")
    tx, _ = load_transactions({"path": path, **GERMAN, "thousands": ".", "columns": COLUMNS})
    assert tx["timestamp"].tolist() == [pd.Timestamp("2023-01-01"), pd.Timestamp("2023-01-02")]
    assert tx["amount"].tolist() == [1071.79, 71.79]


def test_digit_only_dates_keep_their_leading_zero(tmp_path: Path) -> None:
    # as a number, 01022023 would lose its zero and %d%m%Y would read 10 Feb 2023
    path = write(tmp_path, "customer;date;amount\nc1;01022023;5\nc2;15022023;6\n")
    tx, _ = load_transactions({"path": path, "sep": ";", "timestamp_format": "%d%m%Y", "columns": COLUMNS})
    assert tx["timestamp"].tolist() == [pd.Timestamp("2023-02-01"), pd.Timestamp("2023-02-15")]


def test_unit_price_times_quantity_in_german_format(tmp_path: Path) -> None:
    # 2 × 1071.79 = 2143.58; 1 × 71.79
    path = write(tmp_path, "customer;date;unit_price;qty\nc1;01.01.2023;1.071,79;2\nc2;02.01.2023;71,79;1\n")
    columns = {"customer_id": "customer", "timestamp": "date", "amount": None, "unit_price": "unit_price"}
    tx, _ = load_transactions({"path": path, **GERMAN, "thousands": ".", "columns": columns | {"quantity": "qty"}})
    assert tx["amount"].tolist() == pytest.approx([2143.58, 71.79])


def test_without_thousands_a_grouped_number_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "customer;date;amount\nc1;01.01.2023;1.071,79\nc2;02.01.2023;71,79\n")
    with pytest.raises(DataError) as error:
        load_transactions({"path": path, **GERMAN, "columns": COLUMNS})
    # only the grouped value is refused: '71,79' reads as 71.79 with decimal ','
    assert str(error.value) == (
        "data.transactions.columns.amount: 1 of 2 values in column 'amount' are not numeric; e.g. '1.071,79'; "
        "set decimal/thousands to the file's number format"
    )


def test_epoch_timestamps_stay_numbers_with_thousands_set(tmp_path: Path) -> None:
    path = write(tmp_path, "customer;date;amount\nc1;1700000000;1.000,5\n")
    spec = {"path": path, "sep": ";", "decimal": ",", "thousands": ".", "timestamp_unit": "s", "columns": COLUMNS}
    tx, _ = load_transactions(spec)
    assert tx["timestamp"].tolist() == [pd.Timestamp("2023-11-14 22:13:20")]  # 1.7e9 s after 1970-01-01 UTC
    assert tx["amount"].tolist() == [1000.5]


def test_customer_dates_and_numbers_in_german_format(tmp_path: Path) -> None:
    path = write(tmp_path, "id;income;since\n1;1.200,50;01.02.2020\n2;950,25;31.12.2021\n", "customers.csv")
    spec = {
        "path": path,
        "sep": ";",
        "decimal": ",",
        "thousands": ".",
        "id_column": "id",
        "numeric_columns": ["income"],
        "date_columns": ["since"],
        "date_format": "%d.%m.%Y",
    }
    table, _, _ = load_customers(spec)
    assert table["income"].tolist() == [1200.5, 950.25]
    assert table["since"].tolist() == [pd.Timestamp("2020-02-01"), pd.Timestamp("2021-12-31")]


@pytest.mark.parametrize(
    ("text", "decimal", "thousands", "expected"),
    [
        (["71,79", "1.071,79", " 2 "], ",", ".", [71.79, 1071.79, 2.0]),
        (["71,79", "0,5"], ",", None, [71.79, 0.5]),
        (["1,071.79", "3"], ".", ",", [1071.79, 3.0]),
        (["1 071,5", ""], ",", " ", [1071.5, None]),
    ],
)
def test_parse_numbers_uses_the_marks(text: list[str], decimal: str, thousands: str | None, expected: list) -> None:
    numbers = parse_numbers(pd.Series(text, name="x", dtype="str"), "k", decimal=decimal, thousands=thousands)
    assert [None if pd.isna(v) else v for v in numbers] == expected
