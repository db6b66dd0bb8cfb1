"""The rule miners, exact support counts, the itemset cap, and frequent itemsets from mlxtend (engine: mlxtend)."""

from __future__ import annotations

import importlib
import itertools
import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from crmflow.errors import ConfigError
from crmflow.rules.fptree import Found, capped, fpgrowth_itemsets, fpmax_itemsets

__all__ = [
    "ALGORITHMS",
    "MinerSpec",
    "frequent_patterns",
    "is_count",
    "item_support",
    "mine_itemsets",
    "min_support_count",
    "splits",
    "too_many_itemsets",
]


@dataclass(frozen=True)
class MinerSpec:
    """One rule miner.

    complete: it finds every frequent itemset, so crmflow's level-wise engine can mine it
        (crmflow.rules.levels; False for fpmax: maximal itemsets only, whose subsets' supports are
        counted from the baskets). prune: that engine drops candidates with an infrequent subset
        before counting them (Apriori's step). mlxtend: the mlxtend.frequent_patterns function of
        engine: mlxtend, or None. options: its extra keyword arguments. tree: enumerates
        (count, item columns) from the basket matrix (crmflow.rules.fptree) instead of calling it.
    """

    complete: bool = True
    prune: bool = False
    mlxtend: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    tree: Callable[[sp.csr_matrix, int, int | None], Iterator[Found]] | None = None


# Under engine: mlxtend, apriori's low_memory path is about 5x faster on Groceries (1.1 s vs 5.9 s,
# support 0.001) and gives the same itemsets. `tree` miners enumerate (count, columns) from the
# sparse matrix (no dense frame), stopping at max_itemsets: mlxtend's FP-tree recursion on a tree
# filled from the rows; the others get the sparse frame after the frequent-pairs guard.
ALGORITHMS: dict[str, MinerSpec] = {
    "apriori": MinerSpec(prune=True, mlxtend="apriori", options={"low_memory": True}),
    "eclat": MinerSpec(),
    "fpgrowth": MinerSpec(mlxtend="fpgrowth", tree=fpgrowth_itemsets),
    "hmine": MinerSpec(mlxtend="hmine"),
    "fpmax": MinerSpec(complete=False, mlxtend="fpmax", tree=fpmax_itemsets),
}


def frequent_patterns() -> Any:
    """mlxtend.frequent_patterns, imported on first use without keeping the global warning
    filter it sets at import time ("always" for DeprecationWarning)."""
    with warnings.catch_warnings():
        return importlib.import_module("mlxtend.frequent_patterns")


def is_count(value: Any) -> bool:
    """An absolute basket count: an int (not bool) >= 1."""
    return isinstance(value, Integral) and not isinstance(value, bool) and value >= 1


def min_support_count(min_support: float, n: int) -> int:
    """The least basket count whose support reaches ``min_support`` (an int >= 1 is the count), free of float error."""
    if is_count(min_support):
        return int(min_support)
    return max(1, math.ceil(round(min_support * n, 9)))


def item_support(items: list[str], counts: np.ndarray, n: int) -> pd.Series:
    """Support of every item, most frequent first (ties by name)."""
    support = pd.Series(counts / n, index=pd.Index(items, name="item"), name="support")
    return support.sort_values(ascending=False, kind="stable")


def mine_itemsets(
    matrix: sp.csr_matrix,
    items: list[str],
    algorithm: str,
    min_support: float,
    max_len: int | None,
    max_itemsets: int,
) -> pd.DataFrame:
    """Frequent itemsets (support, itemsets, support_count) from the chosen mlxtend miner."""
    n = matrix.shape[0]
    min_count = min_support_count(min_support, n)
    spec = ALGORITHMS[algorithm]
    if spec.tree is not None:
        too_many = too_many_itemsets(min_support, min_count, max_len)
        found = capped(spec.tree(matrix, min_count, max_len), min_count, max_itemsets, too_many)
        counts = np.fromiter((count for count, _ in found), dtype=np.int64, count=len(found))
        itemsets = [frozenset([items[i] for i in columns]) for _, columns in found]
        return pd.DataFrame({"support": counts / n, "itemsets": itemsets, "support_count": counts})
    _guard_itemset_count(matrix, min_count, min_support, max_len, max_itemsets)
    frame = pd.DataFrame.sparse.from_spmatrix(matrix, columns=items)
    miner = getattr(frequent_patterns(), spec.mlxtend)
    # Half a basket below the integer threshold: mlxtend's ceil(min_support * n) and its
    # float comparisons then agree on exactly min_count (0.07 * 100 = 7.000000000000001).
    found = miner(frame, min_support=(min_count - 0.5) / n, use_colnames=True, max_len=max_len, **spec.options)
    counts = np.rint(found["support"].to_numpy(dtype=float) * n).astype(np.int64)
    return pd.DataFrame({"support": counts / n, "itemsets": found["itemsets"].to_numpy(), "support_count": counts})


def too_many_itemsets(min_support: float, min_count: int, max_len: int | None) -> Callable[[int], ConfigError]:
    """The error a tree miner raises once it has found more than max_itemsets itemsets."""
    return lambda limit: ConfigError(
        f"rules.min_support: {min_support} ({min_count} baskets) makes more than rules.max_itemsets={limit} "
        f"frequent itemsets (max_len={max_len}); mining stopped there before memory runs out. "
        "Raise rules.min_support or set a small rules.max_len"
    )


def _guard_itemset_count(
    matrix: sp.csr_matrix, min_count: int, min_support: float, max_len: int | None, max_itemsets: int
) -> None:
    """ConfigError when the frequent item pairs (counted from the sparse co-occurrence matrix) exceed
    max_itemsets."""
    if max_len is not None and max_len < 2:
        return
    frequent = np.flatnonzero(np.asarray(matrix.sum(axis=0)).ravel() >= min_count)
    sub = matrix[:, frequent].astype(np.int32)
    pairs = int((sp.triu(sub.T @ sub, k=1) >= min_count).sum())
    if len(frequent) + pairs > max_itemsets:
        raise ConfigError(
            f"rules.min_support: {min_support} makes {len(frequent)} frequent items and {pairs} frequent "
            f"pairs, above rules.max_itemsets={max_itemsets} before longer itemsets are counted; "
            "raise rules.min_support or set a small rules.max_len"
        )


def splits(itemsets: pd.Series, single_consequent: bool, limit: int) -> pd.DataFrame:
    """Every rule A -> C with A | C one of ``itemsets`` (C a single item when single_consequent).

    A k-itemset has k single-consequent rules but 2**k - 2 splits in all; ConfigError when the
    splits would exceed ``limit``.
    """
    sizes = itemsets.map(len).to_numpy(dtype=np.int64)
    total = 0 if single_consequent else sum(2 ** int(k) - 2 for k in sizes)
    if total > limit:
        raise ConfigError(
            f"rules: the {len(sizes)} maximal itemsets (up to {sizes.max()} items) split into {total} candidate rules, "
            f"above rules.max_itemsets={limit}; set rules.single_consequent: true or a small rules.max_len"
        )
    pairs = []
    for itemset in itemsets:
        ordered = sorted(itemset)
        sizes_c = [1] if single_consequent else range(1, len(ordered))
        for size in sizes_c if len(ordered) > 1 else ():
            pairs.extend((itemset - frozenset(c), frozenset(c)) for c in itertools.combinations(ordered, size))
    return pd.DataFrame(pairs, columns=["antecedents", "consequents"])
