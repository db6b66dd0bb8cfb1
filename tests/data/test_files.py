"""`data=csv`: loading the user's files through config alone, refusing bad data clearly, cleaning counts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import compose_config, data_file
from hydra.utils import instantiate
from omegaconf import OmegaConf

from crmflow.data.base import CRMData
from crmflow.data.files import FileSource, load_customers, load_transactions, read_table
from crmflow.errors import ConfigError, DataError
from crmflow.paths import config_dir

TX = "customer_id,timestamp,amount\n1,2024-01-02,10.5\n2,2024-01-03,3\n1,2024-02-01,7.25\n"
CUSTOMERS = "ID,age,since,Churn\n17850,30,2020-01-02,Yes\n13047,41,2021-06-30,No\n12583,,2019-03-15,No\n"


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], str]:
    """Write text to a file under tmp_path and return its path."""

    def _write(text: str, name: str = "tx.csv") -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return _write


def tx_spec(path: str, columns: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    return {"path": path, "columns": columns or {}, **options}


def load_tx(path: str, columns: dict[str, Any] | None = None, **options: Any) -> CRMData:
    return FileSource(transactions=tx_spec(path, columns, **options)).load()


def load_cu(path: str, **options: Any) -> CRMData:
    return FileSource(customers={"path": path, **options}).load()


# --- formats ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_any_delimiter(write: Callable[..., str], sep: str) -> None:
    data = load_tx(write(TX.replace(",", sep)), sep=sep)
    tx = data.transactions
    assert list(tx.columns) == ["customer_id", "timestamp", "amount"]
    assert tx["customer_id"].tolist() == ["1", "2", "1"]
    assert tx["amount"].tolist() == [10.5, 3.0, 7.25]
    assert tx["timestamp"].iloc[1] == pd.Timestamp("2024-01-03")
    assert pd.api.types.is_string_dtype(tx["customer_id"])


def test_headerless_file_with_positional_columns(write: Callable[..., str]) -> None:
    path = write("x,7,2024-01-02,milk,2.5\ny,8,2024-01-03,bread,1\n")
    data = load_tx(path, {"customer_id": 1, "timestamp": 2, "amount": 4, "item": 3}, header=False)
    assert data.transactions["customer_id"].tolist() == ["7", "8"]
    assert data.transactions["item"].tolist() == ["milk", "bread"]
    assert data.transactions["amount"].tolist() == [2.5, 1.0]


def test_headerless_file_rejects_column_names(write: Callable[..., str]) -> None:
    with pytest.raises(
        ConfigError,
        match=r"^data.transactions.columns.timestamp: must be a 0-based column position \(header is false\) or None; got 'when'$",
    ):
        load_tx(write("1,2024-01-02,3\n"), {"customer_id": 0, "timestamp": "when", "amount": 2}, header=False)


def test_decimal_comma_and_thousands_dot(write: Callable[..., str]) -> None:
    path = write('customer_id;timestamp;amount\n1;2024-01-02;"1.234,5"\n2;2024-01-03;0,75\n')
    data = load_tx(path, sep=";", decimal=",", thousands=".")
    assert data.transactions["amount"].tolist() == [1234.5, 0.75]


def test_latin1_encoding(tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    path.write_bytes("customer_id,timestamp,amount,item\n1,2024-01-02,1,crème\n".encode("latin-1"))
    data = load_tx(str(path), {"item": "item"}, encoding="latin-1")
    assert data.transactions["item"].tolist() == ["crème"]
    with pytest.raises(DataError, match=r"^data.transactions.encoding: '.*' is not utf-8 text"):
        load_tx(str(path), {"item": "item"})


@pytest.mark.parametrize("suffix", [".parquet", ".pq"])
def test_parquet_by_extension_ignores_csv_options(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"tx{suffix}"
    pd.DataFrame(
        {
            "CustomerID": [17850.0, np.nan, 13047.0],
            "InvoiceDate": pd.to_datetime(["2010-12-01 08:26", "2010-12-01 08:28", "2010-12-02 09:00"]),
            "Quantity": [6, 2, 3],
            "UnitPrice": [2.55, 1.0, 0.5],
        }
    ).to_parquet(path)
    columns = {"customer_id": "CustomerID", "timestamp": "InvoiceDate", "amount": None}
    data = load_tx(str(path), columns | {"quantity": "Quantity", "unit_price": "UnitPrice"}, sep=";", decimal=",")
    tx = data.transactions
    assert tx["customer_id"].tolist() == ["17850", "13047"]
    assert tx["amount"].tolist() == pytest.approx([15.3, 1.5])
    assert data.report["rows_dropped_missing_customer"] == 1.0
    assert "unit_price" not in tx


def test_timestamp_format(write: Callable[..., str]) -> None:
    path = write("customer_id,timestamp,amount\n1,02/01/2024,1\n2,13/01/2024,1\n")
    data = load_tx(path, timestamp_format="%d/%m/%Y")
    assert data.transactions["timestamp"].tolist() == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-13")]


def test_timestamps_with_offsets_and_a_time_zone(write: Callable[..., str]) -> None:
    text = "customer_id,timestamp,amount\n1,2024-01-05T23:30:00+01:00,1\n2,2024-07-05T23:30:00+02:00,1\n"
    with pytest.raises(DataError, match=r"^data.transactions.columns.timestamp: column 'timestamp' mixes UTC offsets"):
        load_tx(write(text))
    tx = load_tx(write(text), timezone="UTC").transactions
    assert tx["timestamp"].tolist() == [pd.Timestamp("2024-01-05 22:30"), pd.Timestamp("2024-07-05 21:30")]


def test_epoch_timestamps_in_parquet(tmp_path: Path) -> None:
    path = tmp_path / "tx.parquet"
    pd.DataFrame({"customer_id": ["a"], "timestamp": [1_700_000_000], "amount": [1.0]}).to_parquet(path)
    with pytest.raises(DataError, match=r"set data.transactions.timestamp_unit: s$"):
        load_tx(str(path))
    stamps = load_tx(str(path), timestamp_unit="s").transactions["timestamp"]
    assert stamps.tolist() == [pd.Timestamp("2023-11-14 22:13:20")]


def test_customer_date_columns_take_a_unit_and_a_time_zone(write: Callable[..., str]) -> None:
    path = write("id,since,seen\n1,1700000000,2024-07-01T10:00:00+02:00\n2,1688169600,2024-01-01T10:00:00+01:00\n")
    with pytest.raises(DataError, match=r"^data.customers.date_columns: column 'since' holds numbers.*date_unit: s$"):
        load_cu(path, id_column="id", date_columns=["since"])
    with pytest.raises(DataError, match=r"mixes UTC offsets .*; set data.customers.timezone to the zone"):
        load_cu(path, id_column="id", date_columns=["seen"])
    data = load_cu(path, id_column="id", date_columns=["since", "seen"], date_unit="s", timezone="Europe/Berlin")
    assert data.customers["since"].tolist() == [pd.Timestamp("2023-11-14 23:13:20"), pd.Timestamp("2023-07-01 02:00")]
    assert data.customers["seen"].tolist() == [pd.Timestamp("2024-07-01 10:00"), pd.Timestamp("2024-01-01 10:00")]


def test_infinite_values_in_a_customer_table(write: Callable[..., str]) -> None:
    path = write("id,income,Total\n1,10,inf\n2,-inf,5\n")
    with pytest.raises(DataError, match=r"^data.customers: 1 of 2 values in column 'income' are infinite \(e.g. row 1"):
        load_cu(path, id_column="id", drop_columns=["Total"])
    with pytest.raises(
        DataError, match=r"^data.customers.numeric_columns: 1 of 2 values in column 'Total' are infinite"
    ):
        load_cu(path, id_column="id", numeric_columns=["Total"])


# --- amounts and ids -------------------------------------------------------------------------------


GOODS = "cust,when,qty,price\n1,2024-01-02,2,1.5\n2,2024-01-03,3,2\n"
GOODS_COLUMNS = {"customer_id": "cust", "timestamp": "when", "amount": None}


@pytest.mark.parametrize(
    ("extra", "expected", "logged"),
    [
        ({"quantity": "qty", "unit_price": "price"}, [3.0, 6.0], "quantity × unit_price"),
        ({"quantity": "qty"}, [2.0, 3.0], "monetary counts items"),
        ({}, [1.0, 1.0], "monetary counts items"),
    ],
)
def test_amount_fallbacks(
    write: Callable[..., str], caplog: pytest.LogCaptureFixture, extra: dict, expected: list, logged: str
) -> None:
    with caplog.at_level(logging.INFO, logger="crmflow.data.files"):
        data = load_tx(write(GOODS), GOODS_COLUMNS | extra)
    assert data.transactions["amount"].tolist() == expected
    assert logged in caplog.text


def test_float_ids_become_integer_strings_and_join_the_customer_table(write: Callable[..., str]) -> None:
    tx = write("CustomerID,timestamp,amount\n17850.0,2024-01-02,1\n,2024-01-03,1\n13047.0,2024-01-04,1\n")
    customers = write(CUSTOMERS, "customers.csv")
    data = FileSource(
        transactions=tx_spec(tx, {"customer_id": "CustomerID"}),
        customers={"path": customers, "id_column": "ID", "target": "Churn"},
    ).load()
    assert data.transactions["customer_id"].tolist() == ["17850", "13047"]
    assert set(data.transactions["customer_id"]) <= set(data.customers["customer_id"])
    assert data.target == "Churn"


def test_ids_keep_their_leading_zeros_with_and_without_a_header(write: Callable[..., str]) -> None:
    tx = write("CustomerID,timestamp,amount,item\n00042,2024-01-02,1,0007\n42,2024-01-03,1,7\n")
    customers = write("ID,Churn\n00042,yes\n42,no\n", "customers.csv")
    data = FileSource(
        transactions=tx_spec(tx, {"customer_id": "CustomerID", "item": "item"}),
        customers={"path": customers, "id_column": "ID", "target": "Churn"},
    ).load()
    assert data.transactions["customer_id"].tolist() == ["00042", "42"]  # two customers, not one
    assert data.transactions["item"].tolist() == ["0007", "7"]
    assert sorted(data.customers["customer_id"]) == ["00042", "42"]
    no_header = write("00004 1 19970101 2 29.33\n00004 1 19970118 2 29.73\n", "cdnow.txt")
    spec = {**tx_spec(no_header, {"customer_id": 0, "timestamp": 2, "amount": 4}), "sep": r"\s+", "header": False}
    loaded = FileSource(transactions={**spec, "timestamp_format": "%Y%m%d"}).load()
    assert loaded.transactions["customer_id"].tolist() == ["00004", "00004"]


# --- customers ---------------------------------------------------------------------------------------


def test_customers_conversions(write: Callable[..., str]) -> None:
    path = write(
        "ID,Charges,Joined,Plan,leak,y\n1,29.85,02-01-2020,basic,a,yes\n2, ,30-06-2021,Unknown,b,no\n"
        "3,1889.5,15-03-2019,pro,c,no\n",
        "customers.csv",
    )
    data = load_cu(
        path, id_column="ID", target="y", numeric_columns=["Charges"], date_columns=["Joined"],
        date_format="%d-%m-%Y", drop_columns=["leak"], missing_values=["Unknown"],
    )  # fmt: skip
    customers = data.customers
    assert list(customers.columns) == ["customer_id", "Charges", "Joined", "Plan", "y"]
    assert customers["customer_id"].tolist() == ["1", "2", "3"]
    assert customers["Charges"].isna().tolist() == [False, True, False]
    assert customers["Joined"].iloc[1] == pd.Timestamp("2021-06-30")
    assert customers["Plan"].isna().tolist() == [False, True, False]
    assert data.report == {"customers_in": 3.0}


def test_customers_without_id_column_are_numbered(write: Callable[..., str]) -> None:
    data = load_cu(write("age;y\n30;no\n41;yes\n", "bank.csv"), sep=";", target="y")
    assert data.customers["customer_id"].tolist() == ["0", "1"]


def test_headerless_customers_use_positions(write: Callable[..., str]) -> None:
    data = load_cu(write("a,30,yes\nb,41,no\n", "c.csv"), header=False, id_column=0, target=2)
    assert list(data.customers.columns) == ["customer_id", "1", "2"]
    assert data.target == "2"


# --- bad data: one line naming the key, the column and what was found ------------------------------------


def test_missing_mapped_column_suggests_the_closest_name(write: Callable[..., str]) -> None:
    path = write("customer_id,timestamp,amount,Description\n1,2024-01-02,1,milk\n")
    with pytest.raises(
        DataError,
        match=r"^data.transactions.columns.item: column 'Descr' is not in the file; did you mean 'Description'\? "
        r"\(columns: customer_id, timestamp, amount, Description\)$",
    ):
        load_tx(path, {"item": "Descr"})


@pytest.mark.parametrize("role", ["amount", "quantity", "unit_price"])
def test_non_numeric_values(write: Callable[..., str], role: str) -> None:
    path = write("customer_id,timestamp,amount,v\n1,2024-01-02,1,2\n2,2024-01-03,1,two\n3,2024-01-03,1,n/a?\n")
    with pytest.raises(
        DataError, match=rf"^data.transactions.columns.{role}: 2 of 3 values in column 'v' are not numeric; e.g. 'two'$"
    ):
        load_tx(path, {role: "v"})


def test_unparsable_timestamps(write: Callable[..., str]) -> None:
    path = write("customer_id,timestamp,amount\n1,02-01-2014,1\n2,2014-01-03,1\n3,tomorrow,1\n")
    with pytest.raises(
        DataError,
        match=r"^data.transactions.columns.timestamp: 2 of 3 values in column 'timestamp' cannot be parsed as "
        r"format '%d-%m-%Y'; e.g. '2014-01-03'; set data.transactions.timestamp_format to the strftime format$",
    ):
        load_tx(path, timestamp_format="%d-%m-%Y")


@pytest.mark.parametrize("text", ["", "customer_id,timestamp,amount\n"])
def test_empty_file(write: Callable[..., str], text: str) -> None:
    with pytest.raises(DataError, match=r"^data.transactions.path: '.*tx.csv' has no rows$"):
        load_tx(write(text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^data.customers.path: file '.*nope.csv' does not exist$"):
        load_cu(str(tmp_path / "nope.csv"))


def test_cleaning_that_empties_the_table_is_named(write: Callable[..., str]) -> None:
    path = write("customer_id,timestamp,amount\n1,2024-01-02,-1\n2,2024-01-03,-2\n")
    with pytest.raises(DataError, match=r"^data.transactions.cleaning.returns: dropped all 2 remaining rows"):
        load_tx(path)


def test_missing_customer_ids_when_not_dropped(write: Callable[..., str]) -> None:
    path = write("customer_id,timestamp,amount\n1,2024-01-02,1\n,2024-01-03,1\n")
    with pytest.raises(
        DataError,
        match=r"^data.transactions.columns.customer_id: 1 rows of column 'customer_id' have no customer id "
        r"\(e.g. row 1\); set data.transactions.cleaning.drop_missing_customer: true to drop them$",
    ):
        load_tx(path, cleaning={"drop_missing_customer": False})


def test_customer_id_column_with_nulls(write: Callable[..., str]) -> None:
    with pytest.raises(DataError, match=r"^data.customers.id_column: 1 rows of column 'ID' have no id \(e.g. row 1\)$"):
        load_cu(write("ID,age\n1,30\n,41\n", "c.csv"), id_column="ID")


def test_duplicate_customer_ids(write: Callable[..., str]) -> None:
    with pytest.raises(DataError, match=r"^data.customers.id_column: 1 rows of column 'ID' repeat an id; e.g. '7'$"):
        load_cu(write("ID,age\n7,30\n8,41\n7,52\n", "c.csv"), id_column="ID")


@pytest.mark.parametrize(("role", "text"), [("amount", ""), ("amount", " "), ("item", "")])
def test_all_empty_mapped_column(write: Callable[..., str], role: str, text: str) -> None:
    path = write(f"customer_id,timestamp,v\n1,2024-01-02,{text}\n2,2024-01-03,{text}\n")
    with pytest.raises(DataError, match=rf"^data.transactions.columns.{role}: column 'v' has no values \(all 2 rows"):
        load_tx(path, {"amount": "v"} if role == "amount" else {"item": "v", "amount": None})


def test_customer_columns_must_exist_and_hold_values(write: Callable[..., str]) -> None:
    path = write("ID,Churn,Total\n1,No,\n2,Yes,\n", "c.csv")
    with pytest.raises(
        DataError, match=r"^data.customers.target: column 'churn' is not in the file; did you mean 'Churn'"
    ):
        load_cu(path, id_column="ID", target="churn")
    with pytest.raises(DataError, match=r"^data.customers.numeric_columns: column 'Total' has no values"):
        load_cu(path, id_column="ID", numeric_columns=["Total"])


# --- config errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "pattern"),
    [
        ({"timestamp_fromat": "%Y"}, r"^data.transactions: unknown key 'timestamp_fromat'; did you mean 'timestamp_format' or 'timestamp_unit'\?"),
        ({"cleaning": {"drop_duplicate": True}}, r"^data.transactions.cleaning: unknown key 'drop_duplicate'; did you mean 'drop_duplicates'\?"),
        ({"columns": {"itme": "x"}}, r"^data.transactions.columns: unknown column role 'itme'; did you mean 'item'\?"),
        ({"cleaning": {"returns": "discard"}}, r"^data.transactions.cleaning.returns: must be a str among \{'drop', 'keep'\}; got 'discard'$"),
        ({"cleaning": {"missing_values": "Unknown"}}, r"^data.transactions.cleaning.missing_values: must be a list of placeholder values such as \['Unknown'\] or None; got 'Unknown'$"),
        ({"cleaning": {"cancel_prefix": "C"}}, r"^data.transactions.cleaning.cancel_prefix: needs columns.basket_id"),
        ({"columns": {"timestamp": None}}, r"^data.transactions.columns.timestamp: required"),
        ({"header": "no"}, r"^data.transactions.header: must be an instance of 'bool'; got 'no'$"),
        ({"sep": ""}, r"^data.transactions.sep: must be a delimiter such as ',' or ';'; got ''$"),
        ({"decimal": ",", "thousands": ","}, r"^data.transactions.thousands: must be a single character other than decimal \(','\) or None; got ','$"),
        ({"decimal": ",,"}, r"^data.transactions.decimal: must be a single character; got ',,'$"),
        ({"encoding": "utf-9"}, r"^data.transactions.encoding: must be a text encoding such as 'utf-8'.*; got 'utf-9'$"),
        ({"timestamp_format": 1}, r"^data.transactions.timestamp_format: must be a strftime format .* or None; got 1$"),
        ({"cleaning": {"drop_duplicates": "yes"}}, r"^data.transactions.cleaning.drop_duplicates: must be an instance of 'bool'; got 'yes'$"),
        ({"timestamp_unit": "sec"}, r"^data.transactions.timestamp_unit: must be one of s, ms, us, ns \(Unix epoch units\) or None; got 'sec'$"),
        ({"timestamp_unit": "s", "timestamp_format": "%Y"}, r"^data.transactions.timestamp_unit: must be None when timestamp_format is set"),
        ({"timezone": "CEST"}, r"^data.transactions.timezone: must be a time zone name such as 'UTC' or 'Europe/Berlin' or None; got 'CEST'"),
        ({"timezone": "europe/berlin"}, r"got 'europe/berlin'; did you mean 'Europe/Berlin'"),
    ],
)  # fmt: skip
def test_transaction_config_errors(tmp_path: Path, block: dict, pattern: str) -> None:
    """Config errors come before any file is read (the path does not exist)."""
    with pytest.raises(ConfigError, match=pattern):
        FileSource(transactions={"path": str(tmp_path / "absent.csv"), **block}).load()


@pytest.mark.parametrize(
    ("block", "pattern"),
    [
        ({"id_colum": "ID"}, r"^data.customers: unknown key 'id_colum'; did you mean 'id_column'"),
        ({"target": "y", "drop_columns": ["y"]}, r"^data.customers.drop_columns: cannot drop the id or target column"),
        ({"path": None}, r"^data.customers.path: must be a file path or a pathlib.Path; got None$"),
        (
            {"numeric_columns": "Total"},
            r"^data.customers.numeric_columns: must be a list of column names or positions or None; got 'Total'$",
        ),
        (
            {"header": False, "id_column": "ID"},
            r"^data.customers.id_column: must be a 0-based column position \(header is false\) or None; got 'ID'$",
        ),
    ],
)
def test_customer_config_errors(tmp_path: Path, block: dict, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        FileSource(customers={"path": str(tmp_path / "absent.csv"), **block}).load()


def test_a_source_needs_a_table() -> None:
    with pytest.raises(ConfigError, match=r"^data: set data.transactions.path and/or data.customers.path"):
        FileSource().load()


# --- cleaning report ---------------------------------------------------------------------------------


def test_report_counts(write: Callable[..., str], caplog: pytest.LogCaptureFixture) -> None:
    path = write(
        "cust,when,inv,item,qty,price\n"
        "1,2024-01-02,100,milk,1,2\n"
        "1,2024-01-02,100,milk,1,2\n"  # duplicate
        ",2024-01-02,101,bread,1,1\n"  # no customer
        "2,2024-01-03,C102,milk,1,2\n"  # cancellation
        "2,2024-01-03,103,Unknown,-1,2\n"  # return (negative quantity)
        "3,2024-01-04,104,Unknown,2,1.5\n"
    )
    columns = {"customer_id": "cust", "timestamp": "when", "amount": None, "item": "item", "quantity": "qty"}
    columns |= {"basket_id": "inv", "unit_price": "price"}
    cleaning = {"drop_duplicates": True, "cancel_prefix": "C", "missing_values": ["Unknown"]}
    with caplog.at_level(logging.INFO, logger="crmflow.data.files"):
        data = load_tx(path, columns, cleaning=cleaning)
    assert data.report == {
        "rows_in": 6.0,
        "rows_dropped_missing_customer": 1.0,
        "rows_dropped_duplicates": 1.0,
        "rows_dropped_returns": 2.0,
        "rows_out": 2.0,
    }
    assert all(isinstance(v, float) for v in data.report.values())
    tx = data.transactions
    assert list(tx.columns) == ["customer_id", "timestamp", "amount", "item", "quantity", "basket_id"]
    assert tx["basket_id"].tolist() == ["100", "104"] and pd.isna(tx["item"].iloc[1])
    assert tx["amount"].tolist() == [2.0, 3.0]
    assert "rows_dropped_returns = 2" in caplog.text


def test_report_leaves_out_steps_that_are_off(write: Callable[..., str]) -> None:
    data = load_tx(write(TX), cleaning={"returns": "keep", "drop_missing_customer": False})
    assert data.report == {"rows_in": 3.0, "rows_out": 3.0}


def test_load_helpers_return_their_counts(write: Callable[..., str]) -> None:
    tx, report = load_transactions({"path": write(TX)})
    assert len(tx) == 3 and report["rows_in"] == 3.0
    customers, target, report = load_customers({"path": write(CUSTOMERS, "c.csv"), "id_column": "ID"})
    assert target is None and report == {"customers_in": 3.0} and customers["customer_id"].iloc[0] == "17850"
    assert read_table(write(TX), ",", "k").shape == (3, 3)


# --- the config files -----------------------------------------------------------------------------------


def test_csv_yaml_keys_are_the_accepted_keys(write: Callable[..., str]) -> None:
    path = write(TX)
    cfg = compose_config(["data=csv", f"data.transactions.path={path}"])
    data = instantiate(cfg.data).load()
    assert data.report["rows_out"] == 3.0


def test_every_experiment_data_block_passes_the_config_check() -> None:
    for recipe in sorted((config_dir().parent / "experiments").glob("*.yaml")):
        cfg = compose_config([f"+experiment={recipe.stem}"])
        node = OmegaConf.to_container(cfg.data, resolve=True)
        if node.pop("_target_") == "crmflow.data.files.FileSource":
            FileSource(**node).check()


# --- real data (README counts) -------------------------------------------------------------------------

ONLINE_RETAIL_COLUMNS = {
    "customer_id": "CustomerID", "timestamp": "InvoiceDate", "amount": None, "item": "Description",
    "quantity": "Quantity", "basket_id": "InvoiceNo", "unit_price": "UnitPrice",
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.real_data
def test_online_retail() -> None:
    path = data_file("online_retail.parquet")
    cleaning = {"drop_duplicates": True, "cancel_prefix": "C", "missing_values": ["Unknown"]}
    data = load_tx(str(path), ONLINE_RETAIL_COLUMNS, cleaning=cleaning)
    raw = pd.read_parquet(path)
    with_customer = raw[raw["CustomerID"].notna()]
    mapped = [column for column in ONLINE_RETAIL_COLUMNS.values() if column is not None]
    unique = with_customer[~with_customer[mapped].duplicated()]
    cancelled = unique["InvoiceNo"].str.startswith("C")
    assert data.report["rows_in"] == 541_909
    assert data.report["rows_dropped_missing_customer"] == 135_080 == raw["CustomerID"].isna().sum()
    assert data.report["rows_dropped_duplicates"] == len(with_customer) - len(unique) == 5_261
    assert (
        data.report["rows_dropped_returns"] == (cancelled | unique["Quantity"].lt(0)).sum() == cancelled.sum() == 8_871
    )
    assert data.report["rows_out"] == 392_697
    tx = data.transactions
    assert tx["customer_id"].nunique() == 4_339 and tx["customer_id"].str.fullmatch(r"\d{5}").all()
    assert (tx["amount"] >= 0).all() and not tx["basket_id"].str.startswith("C").any()


@pytest.mark.slow
@pytest.mark.real_data
def test_groceries_duplicates() -> None:
    path = str(data_file("Groceries_dataset.csv"))
    columns = {"customer_id": "Member_number", "timestamp": "Date", "amount": None, "item": "itemDescription"}
    data = load_tx(path, columns, timestamp_format="%d-%m-%Y", cleaning={"drop_duplicates": True})
    assert data.report["rows_in"] == 38_765
    assert data.report["rows_dropped_duplicates"] == 759
    assert data.report["rows_out"] == 38_765 - 759
    tx = data.transactions
    assert tx["customer_id"].nunique() == 3_898
    assert tx["timestamp"].min() == pd.Timestamp("2014-01-01") and tx["timestamp"].max() == pd.Timestamp("2015-12-30")
    assert (tx["amount"] == 1.0).all()


@pytest.mark.slow
@pytest.mark.real_data
def test_telco_customers() -> None:
    path = str(data_file("WA_Fn-UseC_-Telco-Customer-Churn.csv"))
    data = load_cu(path, id_column="customerID", target="Churn", numeric_columns=["TotalCharges"])
    assert data.report == {"customers_in": 7_043}
    assert data.customers["TotalCharges"].dtype == np.float64
    assert data.customers["TotalCharges"].isna().sum() == 11
    assert data.customers["customer_id"].is_unique and data.target == "Churn"


@pytest.mark.slow
@pytest.mark.real_data
def test_marketing_campaign_customers() -> None:
    path = str(data_file("marketing_campaign.csv"))
    data = load_cu(
        path, sep="\t", id_column="ID", target="Response", date_columns=["Dt_Customer"], date_format="%d-%m-%Y"
    )
    customers = data.customers
    assert data.report == {"customers_in": 2_240}
    assert customers["Income"].isna().sum() == 24
    assert customers["Dt_Customer"].min() == pd.Timestamp("2012-07-30")
    assert customers["Dt_Customer"].max() == pd.Timestamp("2014-06-29")


@pytest.mark.slow
@pytest.mark.real_data
def test_bank_customers_numbered_by_row() -> None:
    path = str(data_file("bank.csv"))
    data = load_cu(path, sep=";", target="y", drop_columns=["duration"])
    customers = data.customers
    assert data.report == {"customers_in": 4_521}
    assert customers["customer_id"].tolist() == [str(i) for i in range(4_521)]
    assert "duration" not in customers and customers["y"].value_counts().to_dict() == {"no": 4_000, "yes": 521}
