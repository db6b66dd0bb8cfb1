"""Which patterns a customer's history contains, and where they can end: each pattern's end positions computed
from its parent's (the pattern without its last item), as PrefixSpan projects them."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from crmflow.sequences.prefixspan import Pattern

__all__ = ["HistoryMatcher", "parent_of"]


def parent_of(pattern: Pattern) -> tuple[Pattern, str, int]:
    """The pattern without its last item, how the item extends it ("i": into the last itemset, "s": a new
    itemset after it), and the item."""
    last = pattern[-1]
    if len(last) > 1:
        return (*pattern[:-1], last[:-1]), "i", last[-1]
    return pattern[:-1], "s", last[0]


class HistoryMatcher:
    """Where each pattern can end in one customer's history, computed from its parent's ends and memoised (the
    PrefixSpan projection, one pattern at a time)."""

    def __init__(self, history: list[tuple[int, ...]], days: np.ndarray, max_gap: float | None, gap_unit: str) -> None:
        self.history, self.days, self.max_gap, self.gap_unit = history, days, max_gap, gap_unit
        self.positions: dict[int, list[int]] = defaultdict(list)
        for j, basket in enumerate(history):
            for item in basket:
                self.positions[item].append(j)
        self.memo: dict[Pattern, list[int]] = {}
        self.fired: dict[Pattern, bool] = {}

    def ends(self, pattern: Pattern) -> list[int]:
        """The positions where an occurrence of `pattern` can end (empty: the history does not contain it)."""
        found = self.memo.get(pattern)
        if found is None:
            found = self.memo[pattern] = self._ends(pattern)
        return found

    def _ends(self, pattern: Pattern) -> list[int]:
        parent, kind, item = parent_of(pattern)
        at = self.positions.get(item, [])
        if not parent or not at:
            return at
        before = self.ends(parent)
        if not before:
            return []
        if kind == "i":
            return [j for j in before if item in self.history[j]]
        return [j for j in at if self._follows(before, j)]

    def _follows(self, ends: list[int], j: int) -> bool:
        """Whether position j comes after one of `ends` within the gap."""
        if self.max_gap is None:
            return ends[0] < j
        if self.gap_unit == "baskets":
            return any(0 < j - e <= self.max_gap for e in ends)
        return any(e < j and self.days[j] <= self.days[e] + self.max_gap for e in ends)

    def fires(self, antecedent: Pattern, as_of: float) -> bool:
        """Whether a rule with this antecedent predicts the next basket (position len(history), on `as_of`)."""
        found = self.fired.get(antecedent)
        if found is None:
            found = self.fired[antecedent] = self._fires(antecedent, as_of)
        return found

    def _fires(self, antecedent: Pattern, as_of: float) -> bool:
        ends = self.ends(antecedent)
        if not ends or self.max_gap is None:
            return bool(ends)
        if self.gap_unit == "baskets":
            return len(self.history) - ends[-1] <= self.max_gap
        return as_of <= self.days[ends[-1]] + self.max_gap
