"""AssociationRules: frequent itemsets and rules from baskets with mlxtend, thresholds applied exactly."""

from __future__ import annotations

import importlib
import itertools
import logging
import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from crmflow.errors import ConfigError, DataError, did_you_mean
from crmflow.rules.baskets import Baskets, encode_baskets
from crmflow.rules.fptree import Found, capped, fpgrowth_itemsets, fpmax_itemsets

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MinerSpec:
    """How to call one mlxtend.frequent_patterns miner.

    complete: it returns every frequent itemset (False for fpmax: maximal itemsets only, so
        subset supports are counted from the baskets). options: extra keyword arguments.
    tree: enumerates (count, item columns) from the basket matrix (crmflow.rules.fptree), or
        None to call the mlxtend function of that name on a sparse frame.
    """

    complete: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)
    tree: Callable[[sp.csr_matrix, int, int | None], Iterator[Found]] | None = None


# mlxtend.frequent_patterns function name -> how to call it. apriori's low_memory path is
# about 5x faster on Groceries (1.1 s vs 5.9 s, support 0.001) and gives the same itemsets.
# `tree` miners run mlxtend's FP-tree recursion on a tree filled from the sparse matrix (no dense
# frame), stopping at max_itemsets; the others get the sparse frame after the frequent-pairs guard.
ALGORITHMS: dict[str, MinerSpec] = {
    "apriori": MinerSpec(options={"low_memory": True}),
    "fpgrowth": MinerSpec(tree=fpgrowth_itemsets),
    "hmine": MinerSpec(),
    "fpmax": MinerSpec(complete=False, tree=fpmax_itemsets),
}
# rule metric -> valid range of min_threshold
METRICS: dict[str, tuple[float, float]] = {
    "support": (0.0, 1.0),
    "confidence": (0.0, 1.0),
    "lift": (0.0, math.inf),
    "leverage": (-1.0, 1.0),
    "conviction": (0.0, math.inf),
    "zhangs_metric": (-1.0, 1.0),
}
_OPEN_BELOW = {"support", "confidence"}  # a threshold of 0 keeps nothing out: (0, 1]
RULE_COLUMNS = [
    "antecedents", "consequents", "support", "confidence", "lift", "leverage", "conviction", "zhangs_metric",
    "antecedent_count", "support_count",
]  # fmt: skip
# mlxtend compares floats; candidates are pre-filtered this much below the threshold, then exactly.
_SLACK = 1e-9


@dataclass
class _RuleIndex:
    """The rules as arrays for vectorised matching: antecedents (rules x items), consequent lists."""

    antecedents: sp.csr_matrix
    sizes: np.ndarray
    consequents: sp.csr_matrix
    confidence: np.ndarray
    lift: np.ndarray
    popularity: np.ndarray


class AssociationRules(BaseEstimator):
    """Mine frequent itemsets and association rules (arules conventions, exact thresholds).

    Support is compared as an integer basket count (count >= ceil(min_support * n), or an int
    min_support >= 1 taken as the count itself) and rule metrics are computed from integer counts,
    so ties at a threshold are kept as arules keeps them. `exclude_items` are removed from every
    basket before mining (e.g. carrier bags, postage). `max_itemsets` stops the mining with a
    ConfigError, before memory runs out, when the frequent item pairs alone exceed it.
    """

    def __init__(
        self,
        algorithm: str = "fpgrowth",
        min_support: float = 0.01,
        max_len: int | None = None,
        metric: str = "confidence",
        min_threshold: float = 0.5,
        min_len: int = 2,
        single_consequent: bool = True,
        max_rules: int | None = None,
        exclude_items: Sequence[str] = (),
        max_itemsets: int = 2_000_000,
    ) -> None:
        self.algorithm = algorithm
        self.min_support = min_support
        self.max_len = max_len
        self.metric = metric
        self.min_threshold = min_threshold
        self.min_len = min_len
        self.single_consequent = single_consequent
        self.max_rules = max_rules
        self.exclude_items = exclude_items
        self.max_itemsets = max_itemsets

    def fit(self, baskets: Baskets) -> AssociationRules:
        """Mine itemsets and rules from ``baskets``; learned state ends in ``_``."""
        self.check_params()
        if self.exclude_items:
            excluded = frozenset(self.exclude_items)
            baskets = Baskets(items=[basket - excluded for basket in baskets.items])
        check_baskets(baskets)
        matrix, items = encode_baskets(baskets)
        n = matrix.shape[0]
        item_counts = np.asarray(matrix.sum(axis=0)).ravel().astype(np.int64)
        self.n_baskets_ = n
        self.items_ = items
        self.item_support_ = _item_support(items, item_counts, n)
        self.itemsets_ = self._mine_itemsets(matrix, items)
        rules = self._rules(matrix, items)
        self.n_rules_found_ = len(rules)
        self.rules_ = rules if self.max_rules is None else rules.head(self.max_rules).reset_index(drop=True)
        self._index = _rule_index(self.rules_, items, item_counts)
        logger.debug("mined %d itemsets and %d rules from %d baskets", len(self.itemsets_), len(self.rules_), n)
        return self

    def recommend(self, basket: Iterable[str], k: int = 5) -> list[str]:
        """Top-k items not in ``basket`` from rules whose antecedent it contains.

        Items rank by their best rule's confidence, then lift, then item popularity and name.
        """
        check_is_fitted(self, "rules_")
        matrix, _ = encode_baskets(Baskets(items=[frozenset(basket)]), items=self.items_)
        _, cols = self.recommend_indices(matrix, k)
        return [self.items_[c] for c in cols]

    def recommend_indices(self, matrix: sp.csr_matrix, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Top-k recommendations for every row of ``matrix`` (baskets encoded over ``items_``).

        Returns (row, item index) arrays sorted by row, best recommendation first within a row.
        """
        check_is_fitted(self, "rules_")
        check_int("k", k, 1, owner="AssociationRules.recommend")
        idx = self._index
        rows, rules = _matching_rules(matrix, idx)
        counts = np.diff(idx.consequents.indptr)[rules]
        items = idx.consequents.indices[_expand_ranges(idx.consequents.indptr[rules], counts)]
        rows, rules = np.repeat(rows, counts), np.repeat(rules, counts)
        m = len(self.items_)
        keys = rows.astype(np.int64) * m + items
        basket_keys = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr)) * m
        fresh = ~np.isin(keys, basket_keys + matrix.indices)
        rows, rules, items, keys = rows[fresh], rules[fresh], items[fresh], keys[fresh]
        order = np.lexsort((items, -idx.popularity[items], -idx.lift[rules], -idx.confidence[rules], rows))
        _, first = np.unique(keys[order], return_index=True)
        best = order[np.sort(first)]
        rows, items = rows[best], items[best]
        rank = np.arange(len(rows)) - np.searchsorted(rows, rows, side="left")
        return rows[rank < k], items[rank < k]

    def check_params(self) -> None:
        """Raise ConfigError naming the first invalid parameter, its rule and the value received."""
        _check_choice("algorithm", self.algorithm, ALGORITHMS)
        _check_choice("metric", self.metric, METRICS)
        if not _is_real(self.min_support) or not 0 < self.min_support <= 1 and not _is_count(self.min_support):
            raise _param_error(
                "min_support", "a float in the range (0, 1] or an int basket count >= 1", self.min_support
            )
        low, high = METRICS[self.metric]
        open_below = self.metric in _OPEN_BELOW
        if (
            not _is_real(self.min_threshold)
            or not low <= self.min_threshold <= high
            or (open_below and self.min_threshold == low)
        ):
            rule = (
                f"a float in the range {'(' if open_below else '['}{low:g}, {high:g}{']' if high < math.inf else ')'}"
            )
            raise _param_error("min_threshold", f"{rule} for metric={self.metric!r}", self.min_threshold)
        check_int("min_len", self.min_len, 2)
        check_int("max_len", self.max_len, max(2, self.min_len), allow_none=True)
        check_int("max_rules", self.max_rules, 1, allow_none=True)
        check_int("max_itemsets", self.max_itemsets, 1)
        if isinstance(self.exclude_items, str) or not all(isinstance(i, str) for i in self.exclude_items):
            raise _param_error("exclude_items", "a list of item names", self.exclude_items)
        if not isinstance(self.single_consequent, (bool, np.bool_)):
            raise _param_error("single_consequent", "an instance of 'bool'", self.single_consequent)

    def _mine_itemsets(self, matrix: sp.csr_matrix, items: list[str]) -> pd.DataFrame:
        """Frequent itemsets (support, itemsets, support_count) from the chosen mlxtend miner."""
        n = matrix.shape[0]
        min_count = min_support_count(self.min_support, n)
        tree = ALGORITHMS[self.algorithm].tree
        if tree is not None:
            found = capped(
                tree(matrix, min_count, self.max_len), min_count, self.max_itemsets, self._too_many(min_count)
            )
            counts = np.fromiter((count for count, _ in found), dtype=np.int64, count=len(found))
            itemsets = [frozenset([items[i] for i in columns]) for _, columns in found]
            return pd.DataFrame({"support": counts / n, "itemsets": itemsets, "support_count": counts})
        self._guard_itemset_count(matrix, min_count)
        frame = pd.DataFrame.sparse.from_spmatrix(matrix, columns=items)
        miner = getattr(frequent_patterns(), self.algorithm)
        # Half a basket below the integer threshold: mlxtend's ceil(min_support * n) and its
        # float comparisons then agree on exactly min_count (0.07 * 100 = 7.000000000000001).
        options = ALGORITHMS[self.algorithm].options
        found = miner(frame, min_support=(min_count - 0.5) / n, use_colnames=True, max_len=self.max_len, **options)
        counts = np.rint(found["support"].to_numpy(dtype=float) * n).astype(np.int64)
        return pd.DataFrame({"support": counts / n, "itemsets": found["itemsets"].to_numpy(), "support_count": counts})

    def _too_many(self, min_count: int) -> Callable[[int], ConfigError]:
        """The error a tree miner raises once it has found more than max_itemsets itemsets."""
        return lambda limit: ConfigError(
            f"rules.min_support: {self.min_support} ({min_count} baskets) makes more than rules.max_itemsets={limit} "
            f"frequent itemsets (max_len={self.max_len}); mining stopped there before memory runs out. "
            "Raise rules.min_support or set a small rules.max_len"
        )

    def _guard_itemset_count(self, matrix: sp.csr_matrix, min_count: int) -> None:
        """ConfigError when the frequent item pairs (counted from the sparse co-occurrence matrix) exceed
        max_itemsets."""
        if self.max_len is not None and self.max_len < 2:
            return
        frequent = np.flatnonzero(np.asarray(matrix.sum(axis=0)).ravel() >= min_count)
        sub = matrix[:, frequent].astype(np.int32)
        pairs = int((sp.triu(sub.T @ sub, k=1) >= min_count).sum())
        if len(frequent) + pairs > self.max_itemsets:
            raise ConfigError(
                f"rules.min_support: {self.min_support} makes {len(frequent)} frequent items and {pairs} frequent "
                f"pairs, above rules.max_itemsets={self.max_itemsets} before longer itemsets are counted; "
                "raise rules.min_support or set a small rules.max_len"
            )

    def _rules(self, matrix: sp.csr_matrix, items: list[str]) -> pd.DataFrame:
        """Rules passing min_len, single_consequent and the exact metric threshold, sorted."""
        itemsets = self.itemsets_
        if not (itemsets["itemsets"].map(len) >= max(2, self.min_len)).any():
            return _empty_rules()
        candidates = self._candidate_rules()
        sizes = candidates["antecedents"].map(len) + candidates["consequents"].map(len)
        keep = sizes >= self.min_len
        if self.single_consequent:
            keep &= candidates["consequents"].map(len) == 1
        candidates = candidates.loc[keep].reset_index(drop=True)
        if candidates.empty:
            return _empty_rules()
        rules = _with_metrics(candidates, _count_lookup(itemsets, matrix, items), self.n_baskets_)
        rules = rules.loc[rules[self.metric] >= self.min_threshold]
        return _sort_rules(rules)

    def _candidate_rules(self) -> pd.DataFrame:
        """Antecedent/consequent pairs from mlxtend, a superset of the rules passing the threshold."""
        association_rules = frequent_patterns().association_rules
        frame = self.itemsets_[["support", "itemsets"]]
        if ALGORITHMS[self.algorithm].complete:
            slack = _SLACK * max(1.0, abs(float(self.min_threshold)))
            found = association_rules(
                frame, num_itemsets=self.n_baskets_, metric=self.metric,
                min_threshold=self.min_threshold - slack, return_metrics=["support"],
            )  # fmt: skip
        else:  # maximal itemsets lack their subsets' supports: enumerate their splits only
            found = _splits(self.itemsets_["itemsets"], self.single_consequent, self.max_itemsets)
        return found[["antecedents", "consequents"]]


def _splits(itemsets: pd.Series, single_consequent: bool, limit: int) -> pd.DataFrame:
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


def min_support_count(min_support: float, n: int) -> int:
    """The least basket count whose support reaches ``min_support`` (an int >= 1 is the count), free of float error."""
    if _is_count(min_support):
        return int(min_support)
    return max(1, math.ceil(round(min_support * n, 9)))


def _is_count(value: Any) -> bool:
    """An absolute basket count: an int (not bool) >= 1."""
    return isinstance(value, Integral) and not isinstance(value, bool) and value >= 1


def check_baskets(baskets: Baskets) -> None:
    """DataError when there is nothing to mine."""
    if len(baskets) == 0:
        raise DataError("rules: there are no baskets to mine; the transactions have no rows with an item")
    if max(map(len, baskets.items)) < 2:
        raise DataError(
            f"rules: every one of the {len(baskets)} baskets has fewer than 2 items, so no rule can be "
            "mined; check how baskets are formed (data.transactions.columns.basket_id)"
        )


def _item_support(items: list[str], counts: np.ndarray, n: int) -> pd.Series:
    """Support of every item, most frequent first (ties by name)."""
    support = pd.Series(counts / n, index=pd.Index(items, name="item"), name="support")
    return support.sort_values(ascending=False, kind="stable")


def rule_metrics(rules: pd.DataFrame, baskets: Baskets) -> pd.DataFrame:
    """Support, confidence, lift, ... of the given (antecedents, consequents) rules on ``baskets``.

    Counts come straight from the baskets, so any rule can be scored on any basket set (e.g. a
    segment's rules on all baskets). A rule whose antecedent never occurs gets NaN ratios.
    """
    if rules.empty:
        return _empty_rules()
    matrix, items = encode_baskets(baskets)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _with_metrics(rules[["antecedents", "consequents"]], _Counter({}, matrix, items), matrix.shape[0])


def _count_lookup(itemsets: pd.DataFrame, matrix: sp.csr_matrix, items: list[str]) -> _Counter:
    """A basket counter seeded with the mined itemsets' counts."""
    return _Counter(dict(zip(itemsets["itemsets"], itemsets["support_count"])), matrix, items)


class _Counter:
    """Basket counts of itemsets: from the mined itemsets, else counted in the basket matrix."""

    def __init__(self, known: dict[frozenset[str], int], matrix: sp.csr_matrix, items: list[str]) -> None:
        self.known, self.matrix, self.columns = known, matrix, {item: i for i, item in enumerate(items)}

    def __call__(self, sets: pd.Series) -> np.ndarray:
        counts = np.fromiter((self.known.get(s, -1) for s in sets), dtype=np.int64, count=len(sets))
        missing = np.flatnonzero(counts < 0)
        if len(missing):
            counts[missing] = self._count([sets.iloc[i] for i in missing])
        return counts

    def _count(self, sets: list[frozenset[str]]) -> np.ndarray:
        """Count the baskets holding each set: its overlap with a basket equals its size."""
        unique = list(dict.fromkeys(sets))
        indicator, _ = encode_baskets(Baskets(items=unique), items=list(self.columns))
        overlap = (self.matrix.astype(np.int32) @ indicator.T.astype(np.int32)).tocsc()
        owner = np.repeat(np.arange(len(unique)), np.diff(overlap.indptr))
        sizes = np.array([len(s) for s in unique], dtype=np.int64)
        per_set = np.bincount(owner[overlap.data == sizes[owner]], minlength=len(unique))
        self.known.update(zip(unique, per_set.tolist()))
        return np.array([self.known[s] for s in sets], dtype=np.int64)


def _with_metrics(rules: pd.DataFrame, count: _Counter, n: int) -> pd.DataFrame:
    """Rule metrics from integer counts, each a single rounding, as arules computes them."""
    a = count(rules["antecedents"]).astype(np.float64)
    c = count(rules["consequents"]).astype(np.float64)
    ac = count(rules["antecedents"].combine(rules["consequents"], frozenset.union)).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        conviction = np.where(ac < a, (n - c) * a / (n * (a - ac)), np.inf)
        # Zhang's metric in counts: (n·ac − a·c) / max(ac·(n − a), a·(c − ac))
        zhang = (ac * n - a * c) / np.maximum(ac * (n - a), a * (c - ac))
    out = rules.assign(
        support=ac / n,
        confidence=ac / a,
        lift=(ac * n) / (a * c),
        leverage=(ac * n - a * c) / (float(n) * n),
        conviction=conviction,
        zhangs_metric=np.nan_to_num(zhang, nan=0.0),
        antecedent_count=a.astype(np.int64),
        support_count=ac.astype(np.int64),
    )
    return out[RULE_COLUMNS]


def _sort_rules(rules: pd.DataFrame) -> pd.DataFrame:
    """Lift desc, confidence desc, then support desc and item names, so every miner agrees."""
    names = {col: rules[col].map(lambda s: "\x1f".join(sorted(s))) for col in ("antecedents", "consequents")}
    keyed = rules.assign(_a=names["antecedents"], _c=names["consequents"])
    keyed = keyed.sort_values(
        ["lift", "confidence", "support", "_a", "_c"], ascending=[False, False, False, True, True], kind="stable"
    )
    return keyed.drop(columns=["_a", "_c"]).reset_index(drop=True)


def _empty_rules() -> pd.DataFrame:
    """The rules table with no rows and the usual columns and dtypes."""
    dtypes = {"antecedents": object, "consequents": object, "antecedent_count": np.int64, "support_count": np.int64}
    return pd.DataFrame({col: pd.Series(dtype=dtypes.get(col, np.float64)) for col in RULE_COLUMNS})


def _rule_index(rules: pd.DataFrame, items: list[str], item_counts: np.ndarray) -> _RuleIndex:
    """Encode the rules' antecedents and consequents over ``items`` for vectorised matching."""
    antecedents, _ = encode_baskets(Baskets(items=list(rules["antecedents"])), items=items)
    consequents, _ = encode_baskets(Baskets(items=list(rules["consequents"])), items=items)
    return _RuleIndex(
        antecedents=antecedents,
        sizes=rules["antecedents"].map(len).to_numpy(dtype=np.int64),
        consequents=consequents,
        confidence=rules["confidence"].to_numpy(dtype=np.float64),
        lift=rules["lift"].to_numpy(dtype=np.float64),
        popularity=item_counts,
    )


def _matching_rules(matrix: sp.csr_matrix, idx: _RuleIndex) -> tuple[np.ndarray, np.ndarray]:
    """(row, rule) pairs where the rule's whole antecedent is in the row's basket."""
    overlap = (matrix.astype(np.int32) @ idx.antecedents.T.astype(np.int32)).tocsr()
    rows = np.repeat(np.arange(overlap.shape[0]), np.diff(overlap.indptr))
    full = overlap.data == idx.sizes[overlap.indices]
    return rows[full], overlap.indices[full]


def _expand_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated ranges starts[i] .. starts[i] + counts[i] - 1 (CSR rows to their entries)."""
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + offsets


def _is_real(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, (bool, np.bool_))


def _param_error(name: str, rule: str, value: Any, hint: str = "", owner: str = "AssociationRules") -> ConfigError:
    return ConfigError(f"The '{name}' parameter of {owner} must be {rule}. Got {value!r} instead{hint or '.'}")


def _check_choice(name: str, value: Any, choices: Iterable[str]) -> None:
    if value not in choices:
        options = ", ".join(repr(c) for c in sorted(choices))
        raise _param_error(name, f"a str among {{{options}}}", value, did_you_mean(str(value), choices))


def frequent_patterns() -> Any:
    """mlxtend.frequent_patterns, imported on first use without keeping the global warning
    filter it sets at import time ("always" for DeprecationWarning)."""
    with warnings.catch_warnings():
        return importlib.import_module("mlxtend.frequent_patterns")


def check_int(name: str, value: Any, low: int, owner: str = "AssociationRules", allow_none: bool = False) -> None:
    if allow_none and value is None:
        return
    if isinstance(value, Integral) and not isinstance(value, (bool, np.bool_)) and value >= low:
        return
    rule = f"an int in the range [{low}, inf)" + (" or None" if allow_none else "")
    raise _param_error(name, rule, value, owner=owner)
