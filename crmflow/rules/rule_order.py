"""The one order of every rules table: lift, confidence, support (each descending), then item names.

Ties are broken by the antecedent's items, then the consequent's, each itemset compared item by
item in name order (a shorter itemset first when it is a prefix of the other), so every miner and
engine lists the same rules in the same order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["name_ranks", "rule_order", "set_ranks"]


def name_ranks(names: np.ndarray) -> np.ndarray:
    """The rank of each name in alphabetical order."""
    ranks = np.empty(len(names), dtype=np.int64)
    ranks[np.argsort(names, kind="stable")] = np.arange(len(names))
    return ranks


def set_ranks(sets: pd.Series, rank: dict[str, int]) -> np.ndarray:
    """Each itemset as its ascending name ranks, padded with -1 to the longest one."""
    rows = [sorted(rank[item] for item in itemset) for itemset in sets]
    width = max(map(len, rows), default=0)
    padded = np.full((len(rows), width), -1, dtype=np.int64)
    for i, row in enumerate(rows):
        padded[i, : len(row)] = row
    return padded


def rule_order(
    lift: np.ndarray, confidence: np.ndarray, support: np.ndarray, antecedents: np.ndarray, consequents: np.ndarray
) -> np.ndarray:
    """Positions that sort rules: ``antecedents``/``consequents`` are rows of ascending name ranks
    padded with -1 (see ``set_ranks``)."""
    names = [consequents[:, j] for j in reversed(range(consequents.shape[1]))]
    names += [antecedents[:, j] for j in reversed(range(antecedents.shape[1]))]
    return np.lexsort([*names, -support, -confidence, -lift])
