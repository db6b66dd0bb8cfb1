"""Frequent sequential patterns over customers' baskets, the rules `prefix -> next itemset`, and next-basket
recommendations from them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from crmflow.config.constraints import Interval, Options
from crmflow.config.validation import validate_parameters
from crmflow.errors import DataError
from crmflow.sequences.histories import Histories
from crmflow.sequences.matching import HistoryMatcher
from crmflow.sequences.prefixspan import GAP_UNITS, Pattern, frequent_patterns

__all__ = ["SequentialPatterns", "pattern_text"]


def pattern_text(pattern: Pattern, items: list[str]) -> str:
    """E.g. "{A} -> {B, C}"."""
    return " -> ".join("{" + ", ".join(items[i] for i in itemset) + "}" for itemset in pattern)


class SequentialPatterns(BaseEstimator):
    """PrefixSpan over customers' baskets in time order (crmflow.sequences.prefixspan).

    `min_support` is the share of customers whose sequence contains a pattern; `max_pattern_length` counts its
    items; `max_gap` bounds the distance between consecutive itemsets of an occurrence, in `gap_unit` (baskets or
    days), and between a rule's antecedent and the basket it predicts. Learned: `items_`, `n_customers_`,
    `patterns_` and `rules_` (tables), `item_customers_` (customers per item).
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "min_support": [Interval(float, 0, 1, closed="right")],
        "max_pattern_length": [Interval(int, 2, None)],
        "max_gap": [Interval(float, 0, None, closed="neither"), None],
        "gap_unit": [Options(GAP_UNITS)],
        "min_confidence": [Interval(float, 0, 1)],
        "max_patterns": [Interval(int, 1, None)],
    }

    def __init__(
        self,
        min_support: float = 0.02,
        max_pattern_length: int = 3,
        max_gap: float | None = None,
        gap_unit: str = "baskets",
        min_confidence: float = 0.1,
        max_patterns: int = 1_000_000,
    ) -> None:
        self.min_support = min_support
        self.max_pattern_length = max_pattern_length
        self.max_gap = max_gap
        self.gap_unit = gap_unit
        self.min_confidence = min_confidence
        self.max_patterns = max_patterns

    def fit(self, histories: Histories) -> SequentialPatterns:
        validate_parameters(self, "sequences")
        if not len(histories):
            raise DataError("sequences: no customer has a basket to learn from")
        n = len(histories)
        self.items_ = sorted({item for baskets in histories.baskets for basket in baskets for item in basket})
        db = histories.encode(self.items_)
        min_count = max(1, math.ceil(round(self.min_support * n, 9)))
        counts = frequent_patterns(db, min_count, self.max_pattern_length, self.max_gap, self.gap_unit,
                                   self.max_patterns)  # fmt: skip
        self.n_customers_ = n
        self.item_customers_ = {p[0][0]: c for p, c in counts.items() if len(p) == 1 and len(p[0]) == 1}
        self.patterns_ = self._pattern_table(counts)
        self.rules_ = self._rule_table(counts)
        return self

    def _pattern_table(self, counts: dict[Pattern, int]) -> pd.DataFrame:
        rows = [(p, pattern_text(p, self.items_), len(p), sum(map(len, p)), c, c / self.n_customers_)
                for p, c in counts.items()]  # fmt: skip
        columns = ["pattern", "pattern_text", "n_itemsets", "length", "count", "support"]
        table = pd.DataFrame(rows, columns=columns)
        return table.sort_values(["support", "pattern_text"], ascending=[False, True], kind="stable", ignore_index=True)

    def _rule_table(self, counts: dict[Pattern, int]) -> pd.DataFrame:
        """`prefix -> last itemset` of every pattern of two itemsets or more: confidence = count / prefix count,
        lift = confidence / the share of customers who ever buy the itemset."""
        n, rows = self.n_customers_, []
        for pattern, count in counts.items():
            if len(pattern) < 2:
                continue
            prefix, last = pattern[:-1], pattern[-1]
            confidence = count / counts[prefix]
            if confidence >= self.min_confidence:
                base = counts[(last,)] / n
                rows.append((prefix, last, pattern_text(prefix, self.items_), pattern_text((last,), self.items_),
                             count / n, confidence, confidence / base, count))  # fmt: skip
        columns = ["antecedent", "consequent", "antecedent_text", "consequent_text", "support", "confidence", "lift",
                   "count"]  # fmt: skip
        table = pd.DataFrame(rows, columns=columns)
        order = ["confidence", "lift", "support", "antecedent_text", "consequent_text"]
        return table.sort_values(order, ascending=[False, False, False, True, True], kind="stable", ignore_index=True)

    def recommend(self, histories: Histories, k: int, as_of: float) -> list[list[str]]:
        """Up to k items for each customer's next basket (on `as_of`, days since the epoch): the consequents of the
        rules their history fires, by the best rule's confidence, then lift, then the item's popularity.

        A rule can fire only where the history holds every item of its antecedent: one sparse product finds those
        rules for a chunk of customers; they are then checked in the rules' order (confidence, lift), each with
        the order of its itemsets and the gap, until k items are found and no later rule can tie them."""
        check_is_fitted(self, "rules_")
        db = histories.encode(self.items_)
        antecedents, consequents = list(self.rules_["antecedent"]), list(self.rules_["consequent"])
        keys = list(zip(self.rules_["confidence"], self.rules_["lift"]))
        popularity = np.array([self.item_customers_.get(i, 0) for i in range(len(self.items_))])
        distinct = list(dict.fromkeys(antecedents))  # rules share antecedents: match each once
        position = {a: i for i, a in enumerate(distinct)}
        rule_antecedent = np.array([position[a] for a in antecedents], dtype=np.int64)
        needed = _item_matrix([sorted({i for s in a for i in s}) for a in distinct], len(self.items_))
        sizes = np.diff(needed.indptr)
        out: list[list[str]] = []
        for start in range(0, len(db.sequences), CHUNK):
            chunk = db.sequences[start : start + CHUNK]
            held = _item_matrix([sorted({i for s in seq for i in s}) for seq in chunk], len(self.items_))
            overlap = (held @ needed.T).tocsr()
            for row, sequence in enumerate(chunk):
                cells = slice(overlap.indptr[row], overlap.indptr[row + 1])
                possible = np.zeros(len(distinct), dtype=bool)
                possible[overlap.indices[cells][overlap.data[cells] == sizes[overlap.indices[cells]]]] = True
                candidates = np.flatnonzero(possible[rule_antecedent])  # in the rules' order
                matcher = HistoryMatcher(sequence, db.times[start + row], self.max_gap, self.gap_unit)
                best = _best_items(candidates, antecedents, consequents, keys, matcher, k, as_of)
                ranked = sorted(best, key=lambda i: (-best[i][0], -best[i][1], -popularity[i], i))
                out.append([self.items_[i] for i in ranked[:k]])
        return out


CHUNK = 512  # customers per sparse product in `recommend`


def _item_matrix(rows: list[list[int]], n_items: int) -> sp.csr_matrix:
    """A 0/1 rows x items matrix (int32) with the given items per row."""
    indptr = np.cumsum([0, *map(len, rows)])
    indices = np.fromiter((i for row in rows for i in row), dtype=np.int32, count=int(indptr[-1]))
    return sp.csr_matrix((np.ones(len(indices), dtype=np.int32), indices, indptr), shape=(len(rows), n_items))


def _best_items(candidates: np.ndarray, antecedents: list[Pattern], consequents: list[tuple[int, ...]],
                keys: list[tuple[float, float]], matcher: HistoryMatcher, k: int,
                as_of: float) -> dict[int, tuple[float, float]]:  # fmt: skip
    """Each recommended item's (confidence, lift) of the best rule that fires; the scan stops once k items are
    found and the rules left score below the k-th (rules come in descending (confidence, lift) order)."""
    best: dict[int, tuple[float, float]] = {}
    kth: tuple[float, float] | None = None
    for rule in candidates:
        if kth is not None and keys[rule] < kth:
            break
        if not matcher.fires(antecedents[rule], as_of):
            continue
        for item in consequents[rule]:
            best.setdefault(item, keys[rule])
        if len(best) >= k:
            kth = sorted(best.values(), reverse=True)[k - 1]
    return best
