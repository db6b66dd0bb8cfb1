"""`data=baskets`: one basket per line, items exactly as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmflow.data.basket_files import BasketSource
from crmflow.errors import ConfigError, DataError


def test_items_are_taken_as_written(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text("whole milk,butter,\n whole milk;x,butter,butter\r\n\nyogurt\n")
    data = BasketSource(str(path)).load()
    tx = data.transactions
    assert tx.groupby("basket_id")["item"].apply(list).to_dict() == {
        "0": ["whole milk", "butter"],
        "1": [" whole milk;x", "butter"],
        "3": ["yogurt"],
    }
    assert (tx["customer_id"] == tx["basket_id"]).all()
    assert data.report == {"rows_in": 5.0, "baskets": 3.0, "items": 4.0}


def test_other_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "b.txt"
    path.write_text("a|b c\n")
    assert BasketSource(str(path), sep="|").load().transactions["item"].tolist() == ["a", "b c"]


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match="^data.path: The 'path' parameter of BasketSource must be the path of a basket file"
    ):
        BasketSource().load()
    with pytest.raises(DataError, match="data.path: file '.*nope.csv' does not exist"):
        BasketSource(str(tmp_path / "nope.csv")).load()
    (tmp_path / "empty.csv").write_text("\n,\n")
    with pytest.raises(DataError, match="has no items"):
        BasketSource(str(tmp_path / "empty.csv")).load()
