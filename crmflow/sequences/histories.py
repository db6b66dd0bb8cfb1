"""Customers' baskets in time order, split at a cutoff into their history and their next basket."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmflow.errors import DataError
from crmflow.rules.baskets import Baskets
from crmflow.sequences.prefixspan import SequenceDB

__all__ = ["Histories", "customer_histories"]

DAY = pd.Timedelta(days=1)


@dataclass
class Histories:
    """Per customer (ids in `customers`), the baskets in time order and their times as days since the epoch."""

    customers: list[str]
    baskets: list[list[frozenset[str]]]
    days: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.customers)

    def before(self, cutoff: pd.Timestamp) -> Histories:
        """Each customer's baskets on or before `cutoff` (as the features count them; customers with none left out)."""
        limit = as_days(cutoff)
        kept = [(c, b, d, int(np.searchsorted(d, limit, side="right"))) for c, b, d in self._rows()]
        return Histories([c for c, _, _, n in kept if n], [b[:n] for _, b, _, n in kept if n],
                         [d[:n] for _, _, d, n in kept if n])  # fmt: skip

    def next_baskets(self, cutoff: pd.Timestamp, end: pd.Timestamp | None = None) -> dict[str, frozenset[str]]:
        """Each customer's first basket after `cutoff` (and on or before `end`), for those with one."""
        start, stop = as_days(cutoff), np.inf if end is None else as_days(end)
        found = {}
        for customer, baskets, days in self._rows():
            i = int(np.searchsorted(days, start, side="right"))
            if i < len(days) and days[i] <= stop:
                found[customer] = baskets[i]
        return found

    def encode(self, items: list[str]) -> SequenceDB:
        """The sequences over item codes (positions in `items`; other items are left out, empty baskets kept)."""
        code = {item: i for i, item in enumerate(items)}
        sequences = [[tuple(sorted(code[i] for i in basket if i in code)) for basket in baskets]
                     for baskets in self.baskets]  # fmt: skip
        return SequenceDB(sequences, list(self.days))

    def subset(self, customers: set[str]) -> Histories:
        rows = [row for row in self._rows() if row[0] in customers]
        return Histories([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])

    def _rows(self) -> zip:
        return zip(self.customers, self.baskets, self.days)


def as_days(when: pd.Timestamp) -> float:
    stamp = pd.Timestamp(when)
    if stamp.tz is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return float((stamp - pd.Timestamp(0)) / DAY)


def customer_histories(baskets: Baskets) -> Histories:
    """Group the run's baskets by customer, in time order (ties in the given order)."""
    if baskets.customer_ids is None or baskets.timestamps is None:
        raise DataError("sequences: the baskets have no customer ids or timestamps, so no customer has a sequence")
    stamps = pd.to_datetime(baskets.timestamps.reset_index(drop=True))
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    frame = pd.DataFrame(
        {"customer": baskets.customer_ids.reset_index(drop=True).astype(str), "days": (stamps - pd.Timestamp(0)) / DAY}
    )
    frame = frame[frame["days"].notna()].sort_values(["customer", "days"], kind="stable")
    customers, baskets_by, days_by = [], [], []
    for customer, rows in frame.groupby("customer", sort=True):
        customers.append(str(customer))
        baskets_by.append([baskets.items[i] for i in rows.index])
        days_by.append(rows["days"].to_numpy(dtype=float))
    return Histories(customers, baskets_by, days_by)
