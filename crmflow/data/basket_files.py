"""`data=baskets`: basket files with one basket per line, items separated by a delimiter."""

from __future__ import annotations

import logging
from os import PathLike
from pathlib import Path

import pandas as pd

from crmflow.config.constraints import Encoding, InstanceOf, Text
from crmflow.config.validation import validate_parameters
from crmflow.data.base import CRMData
from crmflow.errors import DataError

__all__ = ["BasketSource", "read_basket_lines"]

logger = logging.getLogger(__name__)


def read_basket_lines(path: str, sep: str = ",", encoding: str = "utf-8") -> pd.DataFrame:
    """One row per (basket, item): `basket_id` is the line number (from 0), items exactly as written.

    Only the line ending is removed and empty fields (e.g. a trailing delimiter) are skipped; spaces
    inside or around item names are kept, so "whole milk" and " whole milk" stay different items.
    A repeated item within a line counts once.
    """
    file = Path(path)
    if file.is_dir():
        raise DataError(f"data.path: '{path}' is a directory; set data.path to one basket file (one basket per line)")
    if not file.is_file():
        raise DataError(f"data.path: file '{path}' does not exist")
    baskets, items = [], []
    with file.open(encoding=encoding, newline="") as lines:
        for number, line in enumerate(lines):
            for item in dict.fromkeys(line.rstrip("\r\n").split(sep)):
                if item:
                    baskets.append(str(number))
                    items.append(item)
    if not items:
        raise DataError(f"data.path: '{path}' has no items")
    return pd.DataFrame({"basket_id": baskets, "item": items})


class BasketSource:
    """Baskets from a file as transactions: one row per item; each basket is its own customer."""

    _parameter_constraints = {
        "path": [
            Text(doc="the path of a basket file (one basket per line)"),
            InstanceOf(PathLike, doc="a pathlib.Path"),
        ],
        "sep": [Text(doc="a non-empty delimiter such as ',' or ';'")],
        "encoding": [Encoding()],
        "name": [str],
    }

    def __init__(self, path: str | None = None, sep: str = ",", encoding: str = "utf-8", name: str = "baskets") -> None:
        self.path = path
        self.sep = sep
        self.encoding = encoding
        self.name = name

    def check(self) -> None:
        """The path, delimiter and encoding, before any file is read."""
        validate_parameters(self, "data")

    def load(self) -> CRMData:
        self.check()
        lines = read_basket_lines(str(self.path), self.sep, self.encoding)
        transactions = lines.assign(customer_id=lines["basket_id"], amount=1.0)
        report = {
            "rows_in": float(len(lines)),
            "baskets": float(lines["basket_id"].nunique()),
            "items": float(lines["item"].nunique()),
        }
        logger.info("%s: %d baskets, %d distinct items", self.name, report["baskets"], report["items"])
        return CRMData(self.name, transactions=transactions, report=report)
