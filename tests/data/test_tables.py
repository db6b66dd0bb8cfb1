"""`read_table` refuses what pandas would read wrongly: folders, repeated headers, the wrong delimiter."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crmflow.data.tables import read_table, require_unique
from crmflow.errors import DataError

TX = "customer_id,timestamp,amount\n1,2024-01-02,10.5\n2,2024-01-03,3\n"


def write(folder: Path, text: str, name: str = "tx.csv") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_a_repeated_header_is_named_with_its_positions(tmp_path: Path) -> None:
    path = write(tmp_path, "customer_id,amount,timestamp,amount\n1,2,2024-01-02,3\n")
    with pytest.raises(
        DataError,
        match=r"^k.path: '.*tx.csv' repeats the header 'amount' \(0-based positions 1, 3\); give each column a "
        r"unique name in the file \(only the first would be read\)$",
    ):
        read_table(path, ",", "k")


def test_every_repeated_header_is_named() -> None:
    with pytest.raises(DataError, match=r"'a' \(0-based positions 0, 2\), 'b' \(0-based positions 1, 3, 4\);"):
        require_unique(["a", "b", "a", "b", "b", "c"], "f.csv", "k.path")


def test_a_header_that_looks_renamed_is_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "amount,amount.1\n1,2\n")  # two distinct names, as written
    assert list(read_table(path, ",", "k").columns) == ["amount", "amount.1"]


def test_a_folder_is_named_as_one(tmp_path: Path) -> None:
    (tmp_path / "sales").mkdir()
    with pytest.raises(DataError, match=r"^k.path: '.*sales' is a directory; set k.path to one CSV or Parquet file$"):
        read_table(tmp_path / "sales", ",", "k")
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "sales" / "part-1.parquet")
    (tmp_path / "sales" / "_SUCCESS").write_text("")
    with pytest.raises(DataError, match=r"is a directory; set k.path to one CSV or Parquet file such as '.*part-1"):
        read_table(tmp_path / "sales", ",", "k")


# ';' and '|' are shell syntax: the advice is quoted whole so that it works pasted into bash
SHELL_SAFE = [(";", "';'", "\"k.sep=';'\""), ("|", "'|'", "\"k.sep='\\|'\""), ("\t", '"\\\\t"', 'k.sep="\\\\t"')]


@pytest.mark.parametrize(("sep", "shown", "advice"), SHELL_SAFE)
def test_one_column_names_the_delimiter_the_file_has(tmp_path: Path, sep: str, shown: str, advice: str) -> None:
    path = write(tmp_path, TX.replace(",", sep))
    with pytest.raises(
        DataError,
        match=rf"^k.sep: '.*tx.csv' reads as one column with sep=','; its first line has 2 {shown} and no ',': "
        rf"set {advice}$",
    ):
        read_table(path, ",", "k", sep_key="k.sep")


def test_headerless_one_column_gets_the_hint_too(tmp_path: Path) -> None:
    path = write(tmp_path, "1;2024-01-02;10\n2;2024-01-03;3\n")
    with pytest.raises(DataError, match=r"""its first line has 2 ';' and no ',': set "k.sep=';'"$"""):
        read_table(path, ",", "k", header=False, sep_key="k.sep")


def test_a_parse_error_gets_the_hint(tmp_path: Path) -> None:
    # the commas split the data rows unevenly (2 fields, then 3) and not the header: pandas cannot read it
    path = write(tmp_path, "customer_id;amount\n1;10,5\n2;3,25,1\n")
    with pytest.raises(
        DataError, match=r"^k.path: cannot read .*: Error tokenizing data.*; its first line has 1 ';' and no ','"
    ):
        read_table(path, ",", "k", sep_key="k.sep")


def test_a_real_single_column_is_read(tmp_path: Path) -> None:
    assert read_table(write(tmp_path, "id\n1\n2\n"), ",", "k", sep_key="k.sep").shape == (2, 1)
    # without sep_key (e.g. `crmflow predict`, which has no sep key) a one-column read is left to the caller
    assert read_table(write(tmp_path, TX.replace(",", ";")), ",", "k").shape == (2, 1)
