"""What comparing a segment's rules with all baskets costs in memory, and the passes that keep it in budget.

`rule_metrics(rules, baskets)` encodes the baskets, then counts the baskets holding the rules'
antecedents, then their consequents, then both (each itemset once, in the first of these that holds
it), matching every basket against every itemset it shares an item with. Per segment this runs on
all baskets, so it is the costly step of per-segment rules (5-10 times the memory of mining the
segment itself). Measured with tracemalloc on synthetic data (40k-240k baskets, 40-200 items):
encoding peaks at 71-83 bytes per basket item; counting at 16 bytes per basket item (the encoded
baskets) plus 19-27 bytes per (basket, itemset) pair of the bound below, for the largest of the three.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from crmflow.errors import ConfigError
from crmflow.rules.baskets import Baskets

__all__ = ["BUDGET_KEY", "check_compare_budget", "compare_memory_gib", "compare_passes", "least_gib", "over_budget"]

ENCODE_BYTES = 84  # per basket item: encoding all baskets
RESIDENT_BYTES = 16  # per basket item: the encoded baskets, kept while itemsets are counted
PAIR_BYTES = 28  # per (basket, itemset) pair sharing an item, in the largest of the three counts
GIB = 2**30
BUDGET_KEY = "rules.settings.segment_memory_budget_gib"
NONE = 3  # the category of an itemset not counted yet

Rule = tuple[frozenset, frozenset, frozenset]  # antecedent, consequent, both


class _Pass:
    """The rules of one pass and, per category (antecedents, consequents, both), the pairs it will match;
    an itemset is counted once, in the first category holding it, as `rule_metrics` counts it."""

    def __init__(self, item_counts: Mapping[str, int]) -> None:
        self.item_counts, self.rows = item_counts, []
        self.category: dict[frozenset, int] = {}
        self.pairs = [0, 0, 0, 0]

    def _bound(self, itemset: frozenset) -> int:
        """At most the baskets sharing an item with `itemset`: its items' basket counts, summed."""
        return sum(self.item_counts.get(item, 0) for item in itemset)

    def with_rule(self, rule: Rule) -> tuple[list[int], dict[frozenset, int]]:
        """The pairs per category, and the itemsets changing category, once `rule` joins the pass."""
        pairs, moves = list(self.pairs), {}
        for category, itemset in enumerate(rule):
            before = moves.get(itemset, self.category.get(itemset, NONE))
            if category < before:
                bound = self._bound(itemset)
                pairs[before] -= bound  # pairs[NONE] is a sink for itemsets not counted before
                pairs[category] += bound
                moves[itemset] = category
        return pairs, moves

    def add(self, row: int, pairs: list[int], moves: dict[frozenset, int]) -> None:
        self.rows.append(row)
        self.pairs = pairs
        self.category.update(moves)


def _peak_gib(pairs: list[int], basket_items: int) -> float:
    """One pass's peak: encoding the baskets, or the largest count beside the encoded baskets."""
    counting = RESIDENT_BYTES * basket_items + PAIR_BYTES * max(pairs[:NONE])
    return max(ENCODE_BYTES * basket_items, counting) / GIB


def _rules(rules: pd.DataFrame) -> list[Rule]:
    return [(a, c, a | c) for a, c in zip(rules["antecedents"], rules["consequents"])]


def least_gib(basket_items: int) -> float:
    """What every pass needs, whatever its rules: encoding all baskets (`basket_items` items in all)."""
    return _peak_gib([0, 0, 0], basket_items)


def check_compare_budget(baskets: Baskets, budget_gib: float) -> None:
    """ConfigError, before any run, when no pass over a segment's rules could fit ``budget_gib``."""
    basket_items = sum(map(len, baskets.items))
    if least_gib(basket_items) > budget_gib:
        raise ConfigError(
            f"{BUDGET_KEY}: comparing each segment's rules with all {len(baskets)} baskets needs at least "
            f"{least_gib(basket_items):.2g} GiB (encoding their {basket_items} items), above the budget of "
            f"{budget_gib:g} GiB; raise {BUDGET_KEY} or set rules.settings.per_segment=false"
        )


def compare_memory_gib(rules: pd.DataFrame, item_counts: Mapping[str, int]) -> float:
    """Estimated peak memory (GiB) of scoring all ``rules`` in one pass on baskets with ``item_counts``."""
    one = _Pass(item_counts)
    for row, rule in enumerate(_rules(rules)):
        one.add(row, *one.with_rule(rule))
    return _peak_gib(one.pairs, sum(item_counts.values()))


def compare_passes(rules: pd.DataFrame, item_counts: Mapping[str, int], budget_gib: float) -> list[np.ndarray] | None:
    """Row positions of ``rules`` for each pass, in order, every pass estimated within ``budget_gib``;
    None when one rule alone (or encoding the baskets) is over it."""
    basket_items = sum(item_counts.values())
    if least_gib(basket_items) > budget_gib:
        return None
    passes = [_Pass(item_counts)]
    for row, rule in enumerate(_rules(rules)):
        pairs, moves = passes[-1].with_rule(rule)
        if _peak_gib(pairs, basket_items) > budget_gib:
            if not passes[-1].rows:
                return None
            passes.append(_Pass(item_counts))
            pairs, moves = passes[-1].with_rule(rule)
            if _peak_gib(pairs, basket_items) > budget_gib:
                return None
        passes[-1].add(row, pairs, moves)
    return [np.asarray(one.rows, dtype=np.intp) for one in passes]


def over_budget(rules: pd.DataFrame, item_counts: Mapping[str, int], n_baskets: int, budget_gib: float) -> str:
    """Why a segment's rules cannot be compared within the budget: the estimates and the key to raise."""
    least = least_gib(sum(item_counts.values()))
    return (
        f"not mined: comparing its {len(rules)} rules with all {n_baskets} baskets needs about "
        f"{compare_memory_gib(rules, item_counts):.2g} GiB in one pass and at least {least:.2g} GiB in any pass, "
        f"above {BUDGET_KEY}={budget_gib:g}; raise {BUDGET_KEY}"
    )
