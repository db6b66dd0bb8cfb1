"""Frequent itemsets from a sparse basket matrix through mlxtend's FP-tree, with an itemset cap.

mlxtend's `fpgrowth`/`fpmax` build their FP-tree from `DataFrame.values`, which turns a sparse
frame into a dense baskets x items array. Here the tree is filled straight from the CSR rows,
mlxtend's own recursion (`fpg_step`, `fpmax_step`) enumerates the itemsets with their integer
basket counts, and the enumeration stops with a clear message once it passes `limit` itemsets.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp

from crmflow.errors import ConfigError

Found = tuple[int, list[int]]  # (basket count, item columns)
TooMany = Callable[[int], ConfigError]  # limit -> the error to raise


def _mlxtend(module: str) -> Any:
    """A module of mlxtend.frequent_patterns, without keeping the warning filter mlxtend sets on import."""
    with warnings.catch_warnings():
        return importlib.import_module(f"mlxtend.frequent_patterns.{module}")


def fp_tree(matrix: sp.csr_matrix, min_count: int) -> tuple[Any, dict[int, int]]:
    """mlxtend's FPTree of the items with count >= min_count, filled row by row from ``matrix``.

    Items rank by count (rarest first, as mlxtend orders them); each basket is inserted most
    frequent item first. Returns the tree and the rank of every frequent item column.
    """
    fpcommon = _mlxtend("fpcommon")
    counts = np.bincount(matrix.indices, minlength=matrix.shape[1])
    frequent = np.flatnonzero(counts >= min_count)
    order = frequent[np.argsort(counts[frequent], kind="stable")]
    rank_of = np.full(matrix.shape[1], -1, dtype=np.int64)
    rank_of[order] = np.arange(len(order))
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    ranks = rank_of[matrix.indices]
    keep = ranks >= 0
    rows, cols, ranks = rows[keep], matrix.indices[keep], ranks[keep]
    by_row = np.lexsort((-ranks, rows))
    rows, cols = rows[by_row], cols[by_row].tolist()
    bounds = np.searchsorted(rows, np.arange(matrix.shape[0] + 1))
    rank = {int(col): i for i, col in enumerate(order)}
    tree = fpcommon.FPTree(rank)
    for start, stop in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        tree.insert_itemset(cols[start:stop])
    return tree, rank


def capped(found: Iterator[Found], min_count: int, limit: int | None, too_many: TooMany) -> list[Found]:
    """The frequent itemsets of ``found``; ``too_many(limit)`` is raised past ``limit`` of them."""
    kept: list[Found] = []
    for count, itemset in found:
        if count >= min_count:
            kept.append((count, itemset))
            if limit is not None and len(kept) > limit:
                raise too_many(limit)
    return kept


def fpgrowth_itemsets(matrix: sp.csr_matrix, min_count: int, max_len: int | None) -> Iterator[Found]:
    """Every frequent itemset with its basket count (mlxtend's FP-growth recursion)."""
    tree, _ = fp_tree(matrix, min_count)
    return _mlxtend("fpgrowth").fpg_step(tree, min_count, None, max_len, 0)


def fpmax_itemsets(matrix: sp.csr_matrix, min_count: int, max_len: int | None) -> Iterator[Found]:
    """The maximal frequent itemsets with their basket counts (mlxtend's FPMax recursion)."""
    tree, rank = fp_tree(matrix, min_count)
    fpmax = _mlxtend("fpmax")
    return fpmax.fpmax_step(tree, min_count, fpmax.MFITree(rank), None, max_len, 0)
