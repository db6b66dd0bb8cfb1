"""Baskets: the sets of items bought together, built from transactions and encoded for mining."""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from crmflow.config.constraints import Interval
from crmflow.config.validation import validate
from crmflow.errors import DataError

logger = logging.getLogger(__name__)

_NO_ITEM = (
    "rules: the transactions have no 'item' column; association rules need one item per line "
    "(map it with data.transactions.columns.item)"
)
SPLIT_CONSTRAINTS = {"holdout_fraction": [Interval(float, 0, 1, closed="neither")]}


@dataclass
class Baskets:
    """One frozenset of items per basket, with optional aligned timestamps and customer ids."""

    items: list[frozenset[str]]
    timestamps: pd.Series | None = None
    customer_ids: pd.Series | None = None
    # encode_baskets(self): every tuning trial mines the same Baskets, so they are encoded once
    _encoded: tuple[sp.csr_matrix, list[str]] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("timestamps", "customer_ids"):
            column = getattr(self, name)
            if column is not None and len(column) != len(self.items):
                raise DataError(
                    f"rules: Baskets.{name} has {len(column)} values for {len(self.items)} baskets; "
                    "they must be aligned one per basket"
                )

    def __len__(self) -> int:
        return len(self.items)

    def subset(self, positions: Sequence[int] | np.ndarray) -> Baskets:
        """The baskets at ``positions`` (in that order), with their timestamps and customer ids."""
        positions = np.asarray(positions, dtype=np.intp)
        return Baskets(
            items=[self.items[i] for i in positions],
            timestamps=_take(self.timestamps, positions),
            customer_ids=_take(self.customer_ids, positions),
        )

    def split_by_time(self, holdout_fraction: float) -> tuple[Baskets, Baskets]:
        """Split into (training, held-out): the latest ``holdout_fraction`` of baskets are held out.

        Baskets are ordered by timestamp (missing timestamps first, ties in given order); without
        timestamps the given order is used. The held-out size is ceil(fraction * n), clipped so
        that both parts keep at least one basket. Both parts come back in chronological order.
        """
        validate({"holdout_fraction": holdout_fraction}, SPLIT_CONSTRAINTS, "", owner="Baskets.split_by_time")
        n = len(self)
        if n < 2:
            raise DataError(f"rules: cannot split {n} basket(s) into training and held-out sets; need at least 2")
        n_holdout = min(max(math.ceil(round(holdout_fraction * n, 9)), 1), n - 1)
        order = self._chronological_order()
        return self.subset(order[: n - n_holdout]), self.subset(order[n - n_holdout :])

    def _chronological_order(self) -> np.ndarray:
        """Positions sorted by timestamp, stable, missing timestamps first."""
        if self.timestamps is None:
            return np.arange(len(self))
        stamps = self.timestamps.reset_index(drop=True)
        return stamps.sort_values(kind="stable", na_position="first").index.to_numpy()


def _take(column: pd.Series | None, positions: np.ndarray) -> pd.Series | None:
    """Positional take with a fresh 0..n-1 index, passing None through."""
    return None if column is None else column.iloc[positions].reset_index(drop=True)


def baskets_from_transactions(transactions: pd.DataFrame) -> Baskets:
    """Group line items into baskets: by ``basket_id`` when given, else by customer and calendar day.

    Items are kept exactly as written (no whitespace stripping); missing items are dropped and an
    item repeated in a basket counts once. A basket's timestamp is the earliest of its rows.
    Baskets come in order of first appearance. Rows with a missing ``basket_id`` (when the column
    is partly filled) fall back to customer and calendar day.
    """
    if "item" not in transactions.columns:
        raise DataError(_NO_ITEM)
    rows = transactions.loc[transactions["item"].notna()]
    if rows.empty:
        return Baskets(items=[])
    keys = _basket_keys(rows)
    codes, uniques = pd.factorize(rows["item"])
    names = np.array([str(u) for u in uniques], dtype=object)
    pairs = np.sort(keys.astype(np.int64) * len(names) + codes)  # by basket; repeats adjacent
    pairs = pairs[np.r_[True, np.diff(pairs) != 0]]
    basket, item = np.divmod(pairs, len(names))
    bounds = [0, *(np.flatnonzero(np.diff(basket)) + 1).tolist(), len(pairs)]
    flat = names[item].tolist()
    items = [frozenset(flat[start:stop]) for start, stop in itertools.pairwise(bounds)]
    logger.debug("built %d baskets from %d transaction rows", len(items), len(rows))
    return Baskets(
        items=items,
        timestamps=_per_basket(rows, keys, "timestamp", "min"),
        customer_ids=_per_basket(rows, keys, "customer_id", "first"),
    )


def _per_basket(rows: pd.DataFrame, keys: np.ndarray, column: str, how: str) -> pd.Series | None:
    """One value of ``column`` per basket (aggregated with ``how``), or None without the column."""
    if column not in rows.columns:
        return None
    return rows[column].groupby(keys, sort=True).agg(how).reset_index(drop=True).rename(column)


def _basket_keys(rows: pd.DataFrame) -> np.ndarray:
    """Basket number 0..n-1 of every row, numbered in order of first appearance."""
    if "basket_id" in rows.columns and rows["basket_id"].notna().any():
        codes = pd.factorize(rows["basket_id"])[0]
        missing = codes < 0
        if missing.any():
            fallback = _customer_day_keys(rows.loc[missing])
            codes = codes.copy()
            codes[missing] = codes.max() + 1 + fallback
    else:
        codes = _customer_day_keys(rows)
    return pd.factorize(codes)[0]


def _customer_day_keys(rows: pd.DataFrame) -> np.ndarray:
    """Group number of every row by (customer_id, calendar day of timestamp)."""
    for column in ("customer_id", "timestamp"):
        if column not in rows.columns:
            raise DataError(
                f"rules: the transactions have no 'basket_id' and no '{column}' column; baskets are "
                "customer_id + calendar day of timestamp when basket_id is absent (map them with "
                f"data.transactions.columns.{column} or data.transactions.columns.basket_id)"
            )
    stamps = rows["timestamp"]
    if not pd.api.types.is_datetime64_any_dtype(stamps):
        raise DataError(
            f"rules: the 'timestamp' column must be datetime64 to form daily baskets; got {stamps.dtype} "
            "(set data.transactions.timestamp_format)"
        )
    customer = pd.factorize(rows["customer_id"], use_na_sentinel=False)[0].astype(np.int64)
    day, days = pd.factorize(stamps.dt.normalize(), use_na_sentinel=False)
    return pd.factorize(customer * len(days) + day)[0]


def encode_baskets(baskets: Baskets, items: Sequence[str] | None = None) -> tuple[sp.csr_matrix, list[str]]:
    """A baskets x items boolean CSR matrix and its column names.

    Columns are the sorted items seen, or exactly ``items`` in the given order (items of the
    baskets that are not in ``items`` are ignored). The sorted encoding is kept on ``baskets`` (treat
    both as read-only).
    """
    if items is None and baskets._encoded is not None:
        return baskets._encoded
    lengths = np.fromiter(map(len, baskets.items), dtype=np.int64, count=len(baskets))
    every_item = itertools.chain.from_iterable(baskets.items)
    if items is None:
        flat = np.fromiter(every_item, dtype=object, count=int(lengths.sum()))
        cols, uniques = pd.factorize(flat, sort=True)
        names = [str(u) for u in uniques]
    else:
        names = list(items)
        column_of = {name: i for i, name in enumerate(names)}
        if len(column_of) != len(names):
            raise ValueError("encode_baskets: 'items' must not contain duplicates")
        cols = np.fromiter((column_of.get(item, -1) for item in every_item), dtype=np.int64, count=int(lengths.sum()))
        known = cols >= 0
        lengths = np.bincount(np.repeat(np.arange(len(baskets)), lengths)[known], minlength=len(baskets))
        cols = cols[known]
    indptr = np.zeros(len(baskets) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    # CSR straight from the rows: a basket is a set, so no entry repeats
    matrix = sp.csr_matrix((np.ones(len(cols), dtype=bool), cols, indptr), shape=(len(baskets), len(names)))
    matrix.sort_indices()
    if items is None:
        baskets._encoded = (matrix, names)
    return matrix, names
