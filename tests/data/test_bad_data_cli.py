"""Bad data through the command line: exit code 2, one line naming the key and column, no run started."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import assert_one_line_error, run_cli

GOOD_ROWS = ["1,2024-01-02,10.5,milk", "2,2024-01-09,3.0,bread", "3,2024-02-01,7.25,eggs"]
TX_COLUMNS = "data.transactions.columns={customer_id: cid, timestamp: ts, amount: amt, item: sku}"


def transactions(tmp_path: Path, rows: list[str], header: str = "cid,ts,amt,sku") -> list[str]:
    path = tmp_path / "tx.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return ["data=csv", f"data.transactions.path={path}", TX_COLUMNS]


def customers(tmp_path: Path, text: str, *keys: str) -> list[str]:
    path = tmp_path / "customers.csv"
    path.write_text(text)
    return [
        "data=csv",
        "features=none",
        "segmentation=none",
        "rules=none",
        "data.transactions=null",
        f"+data.customers={{path: {path}, id_column: id, target: plan}}",
        *keys,
    ]


@pytest.mark.parametrize(
    ("rows", "header", "expected"),
    [
        (
            GOOD_ROWS,
            "cid,ts,amount,sku",
            "data.transactions.columns.amount: column 'amt' is not in the file; did you mean 'amount'?",
        ),
        (
            [*GOOD_ROWS, "4,2024-02-03,ten,milk", "5,2024-02-04,12 EUR,milk"],
            "cid,ts,amt,sku",
            "data.transactions.columns.amount: 2 of 5 values in column 'amt' are not numeric; e.g. 'ten'",
        ),
        (
            [*GOOD_ROWS, "4,last tuesday,1.0,milk"],
            "cid,ts,amt,sku",
            "data.transactions.columns.timestamp: 1 of 4 values in column 'ts' cannot be parsed",
        ),
        ([], "cid,ts,amt,sku", "tx.csv' has no rows"),
    ],
    ids=["missing-column", "non-numeric-amount", "unparsable-timestamp", "empty-table"],
)
def test_bad_transactions(tmp_path: Path, rows: list[str], header: str, expected: str) -> None:
    result = run_cli(*transactions(tmp_path, rows, header), cwd=tmp_path)
    assert_one_line_error(result, expected, tmp_path)


def test_timestamps_not_in_the_configured_format(tmp_path: Path) -> None:
    args = [*transactions(tmp_path, GOOD_ROWS), "data.transactions.timestamp_format=%d/%m/%Y"]
    assert_one_line_error(
        run_cli(*args, cwd=tmp_path),
        "data.transactions.columns.timestamp: 3 of 3 values in column 'ts' cannot be parsed as format '%d/%m/%Y'",
        tmp_path,
    )


def test_customer_ids_with_nulls(tmp_path: Path) -> None:
    args = customers(tmp_path, "id,age,plan\n1,30,a\n,41,b\n3,52,a\n")
    assert_one_line_error(
        run_cli(*args, cwd=tmp_path), "data.customers.id_column: 1 rows of column 'id' have no id", tmp_path
    )


def test_classifier_target_with_three_classes(tmp_path: Path) -> None:
    rows = "".join(f"{i},{20 + i % 40},{'abc'[i % 3]}\n" for i in range(60))
    args = customers(tmp_path, "id,age,plan\n" + rows)
    result = run_cli(*args, cwd=tmp_path)
    assert_one_line_error(result, "target 'plan'", tmp_path)
    assert "two classes" in result.stderr and "found 3" in result.stderr
