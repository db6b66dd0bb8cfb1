"""The two mining engines: crmflow's level-wise bitsets for every complete miner, or mlxtend's miners.

``engine: crmflow`` (the default) mines apriori, eclat, fpgrowth and hmine with
crmflow.rules.levels and builds the rules table in numpy (crmflow.rules.level_rules); the four give
the same itemsets by definition, apriori also prunes candidates with an infrequent subset before
counting. ``engine: mlxtend`` calls mlxtend's own algorithm and association_rules, for comparison.
fpmax (maximal itemsets only) uses mlxtend's FPMax under both engines.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import scipy.sparse as sp

from crmflow.rules.itemsets import ALGORITHMS, min_support_count, mine_itemsets, too_many_itemsets
from crmflow.rules.level_rules import level_rules
from crmflow.rules.levels import LevelItemsets, mine_levels
from crmflow.rules.rule_table import mine_rules

__all__ = ["ENGINES", "MiningParams", "itemset_table", "mine"]

ENGINES = ("crmflow", "mlxtend")


@dataclass(frozen=True)
class MiningParams:
    """What to mine: the miner and engine, the itemset and rule thresholds, the itemset cap."""

    algorithm: str
    engine: str
    min_support: float
    max_len: int | None
    metric: str
    min_threshold: float
    min_len: int
    single_consequent: bool
    max_itemsets: int


def mine(
    matrix: sp.csr_matrix, items: list[str], params: MiningParams
) -> tuple[LevelItemsets | pd.DataFrame, pd.DataFrame]:
    """(frequent itemsets, rules table) of the basket matrix; the itemsets as a table, or by level
    (crmflow engine) until ``itemset_table`` makes the table of them."""
    spec = ALGORITHMS[params.algorithm]
    rule_params = {
        "metric": params.metric,
        "min_threshold": params.min_threshold,
        "min_len": params.min_len,
        "single_consequent": params.single_consequent,
    }
    if params.engine == "crmflow" and spec.complete:
        min_count = min_support_count(params.min_support, matrix.shape[0])
        too_many = too_many_itemsets(params.min_support, min_count, params.max_len)
        found = mine_levels(matrix, min_count, params.max_len, params.max_itemsets, too_many, prune=spec.prune)
        return found, level_rules(found, items, **rule_params)
    itemsets = mine_itemsets(matrix, items, params.algorithm, params.min_support, params.max_len, params.max_itemsets)
    rules = mine_rules(itemsets, matrix, items, complete=spec.complete, max_itemsets=params.max_itemsets, **rule_params)
    return itemsets, rules


def itemset_table(itemsets: LevelItemsets | pd.DataFrame, items: list[str]) -> pd.DataFrame:
    """The itemsets as a table: support, itemsets (frozensets of item names), support_count."""
    return itemsets.frame(items) if isinstance(itemsets, LevelItemsets) else itemsets
