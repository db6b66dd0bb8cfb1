"""The rules table from level-wise itemsets: every split's counts by lookup, metrics in numpy, exact thresholds.

For each itemset size and each choice of consequent positions, the antecedents and consequents of
all itemsets of that size are sliced out of the level's code rows at once and their basket counts
looked up (crmflow.rules.levels.LevelItemsets.counts); metrics come from the integer counts
(crmflow.rules.rule_table.count_metrics) and the threshold is applied to them exactly. Item names
and frozensets are made only for the rules kept.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pandas as pd

from crmflow.rules.levels import LevelItemsets
from crmflow.rules.rule_order import name_ranks, rule_order
from crmflow.rules.rule_table import RULE_COLUMNS, count_metrics, empty_rules

__all__ = ["level_rules"]


def level_rules(
    found: LevelItemsets,
    items: list[str],
    *,
    metric: str,
    min_threshold: float,
    min_len: int,
    single_consequent: bool,
) -> pd.DataFrame:
    """Rules A => C of the frequent itemsets passing ``min_len``, ``single_consequent`` and
    ``metric >= min_threshold``, sorted (crmflow.rules.rule_order); ``min_len`` 1 adds {} => {item}."""
    kept = [
        (antecedents[keep], consequents[keep], a[keep], c[keep], ac[keep])
        for antecedents, consequents, a, c, ac in _splits(found, min_len, single_consequent)
        if (keep := count_metrics(a, c, ac, found.n_baskets)[metric] >= min_threshold).any()
    ]
    if not kept:
        return empty_rules()
    names = np.asarray(items, dtype=object)[found.columns]
    ranks = name_ranks(names)
    a, c, ac = (np.concatenate([batch[i] for batch in kept]) for i in (2, 3, 4))
    metrics = count_metrics(a, c, ac, found.n_baskets)
    sides = {}
    for side, position in (("antecedents", 0), ("consequents", 1)):
        sides[side] = [frozenset(row) for batch in kept for row in names[batch[position]].tolist()]
        sides[f"_{side}_ranks"] = _padded([np.sort(ranks[batch[position]], axis=1) for batch in kept])
    order = rule_order(
        metrics["lift"], metrics["confidence"], metrics["support"],
        sides["_antecedents_ranks"], sides["_consequents_ranks"],
    )  # fmt: skip
    table = pd.DataFrame({"antecedents": sides["antecedents"], "consequents": sides["consequents"], **metrics})
    return table[RULE_COLUMNS].iloc[order].reset_index(drop=True)


def _splits(
    found: LevelItemsets, min_len: int, single_consequent: bool
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """(antecedent codes, consequent codes, antecedent, consequent and rule basket counts) per batch of
    candidate rules: one batch per itemset size and choice of consequent positions."""
    if min_len <= 1 and found.levels:  # arules' minlen 1: {} => {item}
        singles = found.levels[0]
        yield singles.codes[:, :0], singles.codes, found.counts(singles.codes[:, :0]), singles.counts, singles.counts
    for size, level in enumerate(found.levels[1:], start=2):
        if size < min_len or len(level.counts) == 0:
            continue
        sizes = [1] if single_consequent else range(1, size)
        for consequent in (list(c) for k in sizes for c in itertools.combinations(range(size), k)):
            antecedent = [p for p in range(size) if p not in consequent]
            antecedents, consequents = level.codes[:, antecedent], level.codes[:, consequent]
            yield antecedents, consequents, found.counts(antecedents), found.counts(consequents), level.counts


def _padded(blocks: list[np.ndarray]) -> np.ndarray:
    """Row blocks of different widths stacked into one array, padded on the right with -1."""
    out = np.full((sum(map(len, blocks)), max(block.shape[1] for block in blocks)), -1, dtype=np.int64)
    start = 0
    for block in blocks:
        out[start : start + len(block), : block.shape[1]] = block
        start += len(block)
    return out
