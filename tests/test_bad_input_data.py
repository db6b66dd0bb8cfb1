"""The catalogue of bad data: each case writes input files, makes one CLI call and must stop before any run
(exit 2, no `mlruns`) with one `crmflow: error:` line naming the key or column and what would fix it.
A new case is one entry in CASES; its writer puts the files into the run's folder (the CLI's working
directory), so overrides name them by relative path and messages show them that way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import assert_one_line_error, run_cli

CSV = ["data=csv", "data.transactions.path=tx.csv"]
PARQUET = ["data=csv", "data.transactions.path=tx.parquet"]
CUSTOMERS_ONLY = [
    "data=csv",
    "features=none",
    "segmentation=none",
    "rules=none",
    "data.transactions=null",
    "+data.customers={path: customers.csv, id_column: id, target: plan}",
]
TX_COLUMNS = "data.transactions.columns={customer_id: cid, timestamp: ts, amount: amt, item: sku}"


def log() -> pd.DataFrame:
    """60 purchases, 2024-01-01 .. 2024-06-02: customer c`c` buys on days 7c, 7c + 10 and 7c + 20 (c < 20)."""
    rows = [(f"c{c}", pd.Timestamp("2024-01-01") + pd.Timedelta(days=c * 7 + k * 10), 10.0 + c, "ab"[k % 2])
            for c in range(20) for k in range(3)]  # fmt: skip
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount", "item"])


def write_csv(frame: pd.DataFrame, name: str = "tx.csv", **options: object) -> Callable[[Path], None]:
    """A writer of `frame` as a CSV file `name` in the run's folder."""
    return lambda folder: frame.to_csv(folder / name, index=False, **options)


def write_text(text: str, name: str = "tx.csv") -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_text(text)


def write_parquet(frame: pd.DataFrame, name: str = "tx.parquet") -> Callable[[Path], None]:
    return lambda folder: frame.to_parquet(folder / name, index=False)


def with_column(column: str, values: object) -> pd.DataFrame:
    return log().assign(**{column: values})


def offsets() -> pd.DataFrame:
    """Local times with the offset of the season, as a Berlin shop exports them: +01:00 in winter, +02:00 in summer."""
    times = log()["timestamp"].dt.tz_localize("Europe/Berlin")
    return with_column("timestamp", times.map(lambda t: t.isoformat()))


def infinite_amounts() -> pd.DataFrame:
    frame = log()
    frame.loc[[3, 7], "amount"] = np.inf
    return frame


def epoch_seconds() -> pd.DataFrame:
    return with_column("timestamp", (log()["timestamp"] - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1))


def repeated_header(folder: Path) -> None:
    rows = "".join(f"{r.customer_id},{r.timestamp.date()},{r.amount},{r.amount * 2}\n" for r in log().itertuples())
    (folder / "tx.csv").write_text("customer_id,timestamp,amount,amount\n" + rows)


def folder_of_parquet_files(folder: Path) -> None:
    (folder / "tx").mkdir()
    log().to_parquet(folder / "tx" / "part-0.parquet")


def customers_with_infinity(folder: Path) -> None:
    income = ["inf" if i == 4 else str(1000 + i) for i in range(30)]
    rows = "".join(f"{i},{income[i]},{'ab'[i % 2]}\n" for i in range(30))
    (folder / "customers.csv").write_text("id,income,plan\n" + rows)


def rows(*lines: str) -> Callable[[Path], None]:
    """The small log with the columns cid, ts, amt, sku (as the older CLI tests wrote it)."""
    good = ["1,2024-01-02,10.5,milk", "2,2024-01-09,3.0,bread", "3,2024-02-01,7.25,eggs"]
    return write_text("\n".join(["cid,ts,amt,sku", *good, *lines]) + "\n")


@dataclass(frozen=True)
class Case:
    id: str
    write: Callable[[Path], None]
    overrides: list[str]
    expected: str
    marks: list[pytest.MarkDecorator] = field(default_factory=list)


CASES = [
    # --- timestamps ---
    Case(
        "mixed UTC offsets",
        write_csv(offsets()),
        CSV,
        "data.transactions.columns.timestamp: column 'timestamp' mixes UTC offsets (+01:00 in 36 rows, +02:00 in 24 "
        "rows); set data.transactions.timezone to the zone to convert them to (e.g. UTC or Europe/Berlin",
    ),
    Case(
        "unknown time zone",
        write_csv(offsets()),
        [*CSV, "data.transactions.timezone=Europe/Berln"],
        "data.transactions.timezone: must be a time zone name such as 'UTC' or 'Europe/Berlin' or None; "
        "got 'Europe/Berln'; did you mean 'Europe/Berlin'",
    ),
    Case(
        "integer epoch seconds in Parquet",
        write_parquet(epoch_seconds()),
        PARQUET,
        "data.transactions.columns.timestamp: column 'timestamp' holds numbers (int64), not dates, e.g. 1704067200; "
        "they would be read as nanoseconds after 1970; if they are Unix epoch times, they look like seconds "
        "(2024-01-01 to 2024-06-02): set data.transactions.timestamp_unit: s",
    ),
    Case(
        "epoch seconds read as milliseconds",
        write_parquet(epoch_seconds()),
        [*PARQUET, "data.transactions.timestamp_unit=ms"],
        "column 'timestamp' read as Unix times in milliseconds (data.transactions.timestamp_unit=ms) spans "
        "1970-01-20 to 1970-01-20; they look like seconds (2024-01-01 to 2024-06-02): set "
        "data.transactions.timestamp_unit: s",
    ),
    Case(
        "an epoch unit with a date format",
        write_parquet(epoch_seconds()),
        [*PARQUET, "data.transactions.timestamp_unit=s", "data.transactions.timestamp_format=%Y"],
        "data.transactions.timestamp_unit: must be None when timestamp_format is set",
    ),
    Case(
        "dates written as digits",
        write_csv(with_column("timestamp", log()["timestamp"].dt.strftime("%Y%m%d").astype(int))),
        CSV,
        "column 'timestamp' holds numbers (int64), not dates, e.g. 20240101; they would be read as nanoseconds "
        "after 1970; they look like dates written as digits: set data.transactions.timestamp_format: '%Y%m%d'",
    ),
    Case(
        "unparsable timestamp",
        rows("4,last tuesday,1.0,milk"),
        [*CSV, TX_COLUMNS],
        "data.transactions.columns.timestamp: 1 of 4 values in column 'ts' cannot be parsed",
    ),
    Case(
        "timestamps not in the configured format",
        rows(),
        [*CSV, TX_COLUMNS, "data.transactions.timestamp_format=%d/%m/%Y"],
        "data.transactions.columns.timestamp: 3 of 3 values in column 'ts' cannot be parsed as format '%d/%m/%Y'",
    ),
    # --- numbers ---
    Case(
        "infinite amounts",
        write_csv(infinite_amounts()),
        CSV,
        "data.transactions.columns.amount: 2 of 60 values in column 'amount' are infinite (e.g. row 3: inf); "
        "leave them empty (missing) or write a number",
    ),
    Case(
        "an infinite customer attribute",
        customers_with_infinity,
        CUSTOMERS_ONLY,
        "data.customers: 1 of 30 values in column 'income' are infinite (e.g. row 4: inf); leave them empty "
        "(missing), write a number, or add 'income' to data.customers.drop_columns",
    ),
    Case(
        "non-numeric amount",
        rows("4,2024-02-03,ten,milk", "5,2024-02-04,12 EUR,milk"),
        [*CSV, TX_COLUMNS],
        "data.transactions.columns.amount: 2 of 5 values in column 'amt' are not numeric; e.g. 'ten'",
    ),
    # --- the file's layout ---
    Case(
        "a repeated header",
        repeated_header,
        CSV,
        "data.transactions.path: 'tx.csv' repeats the header 'amount' (0-based positions 2, 3); give each column "
        "a unique name in the file",
    ),
    Case(
        "semicolons read with commas",
        write_csv(log(), sep=";"),
        CSV,
        "data.transactions.sep: 'tx.csv' reads as one column with sep=','; its first line has 3 ';' and no ',': "
        "set \"data.transactions.sep=';'\"",
    ),
    Case(
        "tabs read with commas",
        write_csv(log(), sep="\t"),
        CSV,
        "data.transactions.sep: 'tx.csv' reads as one column with sep=','; its first line has 3 \"\\t\" and no ',': "
        'set data.transactions.sep="\\t"',
    ),
    Case(
        "customers with pipes read with commas",
        write_text("id|income|plan\n1|10|a\n2|20|b\n", "customers.csv"),
        CUSTOMERS_ONLY,
        "data.customers.sep: 'customers.csv' reads as one column with sep=','; its first line has 2 '|' and no ',': "
        "set \"data.customers.sep='|'\"",
    ),
    Case(
        "a missing mapped column",
        write_text("cid,ts,amount,sku\n1,2024-01-02,10.5,milk\n"),
        [*CSV, TX_COLUMNS],
        "data.transactions.columns.amount: column 'amt' is not in the file; did you mean 'amount'?",
    ),
    Case("a missing file", rows(), [*CSV, "data.transactions.path=sales.csv"], "file 'sales.csv' does not exist"),
    Case("an empty file", write_text(""), CSV, "data.transactions.path: 'tx.csv' has no rows"),
    Case("a header and no rows", write_text("cid,ts,amt,sku\n"), [*CSV, TX_COLUMNS], "'tx.csv' has no rows"),
    Case(
        "a folder as the transactions file",
        folder_of_parquet_files,
        [*CSV, "data.transactions.path=tx"],
        "data.transactions.path: 'tx' is a directory; set data.transactions.path to one CSV or Parquet file such "
        "as 'tx/part-0.parquet'",
    ),
    Case(
        "a folder as the basket file",
        lambda folder: (folder / "baskets").mkdir(),
        ["+experiment=arules_groceries", "data.path=baskets"],
        "data.path: 'baskets' is a directory; set data.path to one basket file (one basket per line)",
    ),
    # --- the cutoff ---
    Case(
        "a cutoff after the data",
        write_csv(log()),
        [*CSV, "features.cutoff=2030-01-01"],
        "features.cutoff: 2030-01-01 is on or after the last transaction (the data spans 2024-01-01 to 2024-06-02), "
        "so no purchases follow it to make the target from; set features.cutoff between 2024-01-01 and 2024-03-04 "
        "(last day - horizon_days), or null",
    ),
    Case(
        "a cutoff before the data",
        write_csv(log()),
        [*CSV, "features.cutoff=2020-01-01"],
        "features.cutoff: 2020-01-01 is before the first transaction (the data spans 2024-01-01 to 2024-06-02)",
    ),
    Case(
        "a horizon longer than the data",
        write_csv(log()),
        [*CSV, "features.horizon_days=400"],
        "features.horizon_days: 400 days is longer than the data (it spans 2024-01-01 to 2024-06-02), so the "
        "default cutoff 2023-04-29 (last day - horizon_days) is before the first transaction; set "
        "features.horizon_days to at most 153",
    ),
    Case(
        "all transactions on one day",
        write_csv(with_column("timestamp", "2024-03-01")),
        CSV,
        "features: all 60 transactions are on one day (2024-03-01); features=rfm needs purchases on or before "
        "features.cutoff and in the features.horizon_days after it, so at least two days of data",
    ),
    # --- customer tables ---
    Case(
        "customer ids with nulls",
        write_text("id,age,plan\n1,30,a\n,41,b\n3,52,a\n", "customers.csv"),
        CUSTOMERS_ONLY,
        "data.customers.id_column: 1 rows of column 'id' have no id",
    ),
    Case(
        "a classifier target with three classes",
        write_text(
            "id,age,plan\n" + "".join(f"{i},{20 + i % 40},{'abc'[i % 3]}\n" for i in range(60)), "customers.csv"
        ),
        CUSTOMERS_ONLY,
        "target 'plan' needs exactly two classes for a classifier (or more than two numbers for a regressor); found 3",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_bad_data_gets_one_line(case: Case, tmp_path: Path) -> None:
    case.write(tmp_path)
    result = run_cli(*case.overrides, cwd=tmp_path)
    assert "Traceback" not in result.stderr, result.stderr
    assert_one_line_error(result, case.expected, tmp_path)
    assert result.stderr.startswith("crmflow: error: "), result.stderr


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
