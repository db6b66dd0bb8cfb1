"""AssociationRules: frequent itemsets and rules from baskets, thresholds applied exactly."""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from crmflow.config.constraints import Boolean, Interval, ListOf, Options
from crmflow.config.validation import validate, validate_parameters
from crmflow.errors import DataError
from crmflow.rules.baskets import Baskets, encode_baskets
from crmflow.rules.engines import ENGINES, MiningParams, itemset_table, mine
from crmflow.rules.itemsets import ALGORITHMS, item_support
from crmflow.rules.recommend import rule_index, top_recommendations
from crmflow.rules.rule_table import METRICS, OPEN_BELOW

__all__ = ["AssociationRules", "check_baskets"]

logger = logging.getLogger(__name__)


def _threshold_range(params: Mapping[str, Any]) -> Interval:
    """min_threshold's range depends on the metric: (0, 1] for confidence, [0, inf) for lift, ..."""
    metric = params["metric"]
    low, high = METRICS[metric]
    interval = Interval(float, low, high, closed="right" if metric in OPEN_BELOW else "both")
    return dataclasses.replace(interval, doc=f"{interval} for metric={metric!r}")


def _engines(params: Mapping[str, Any]) -> Options:
    """engine: mlxtend only for the miners mlxtend has."""
    if ALGORITHMS[params["algorithm"]].mlxtend is None:
        return Options(("crmflow",), hint=f" (mlxtend has no {params['algorithm']}; use engine: crmflow)")
    return Options(ENGINES)


def _max_len_range(params: Mapping[str, Any]) -> Interval:
    """max_len may not be below min_len (max_len 1 with min_len 1: only the rules {} => {item})."""
    return Interval(int, params["min_len"], None, doc=f"an int >= min_len ({params['min_len']})")


class AssociationRules(BaseEstimator):
    """Mine frequent itemsets and association rules (arules conventions, exact thresholds).

    Support is compared as an integer basket count (count >= ceil(min_support * n), or an int
    min_support >= 1 taken as the count itself) and rule metrics are computed from integer counts,
    so ties at a threshold are kept as arules keeps them. ``min_len=1`` (arules' default ``minlen``)
    adds the rules {} => {item} of the frequent single items whose support reaches the threshold
    (confidence = support, lift 1); recommendations treat them as a popularity fallback that
    fires for every basket. `exclude_items` are removed from every
    basket before mining (e.g. carrier bags, postage). `max_itemsets` stops the mining with a
    ConfigError, before memory runs out, when the frequent item pairs alone exceed it.
    `max_basket_size` drops the baskets with more items (outliers such as a wholesale order) before
    mining, so supports are shares of the kept baskets; ``n_baskets_dropped_`` counts them;
    ``oversize_baskets="truncate"`` keeps them with their ``max_basket_size`` most frequent items
    instead (``n_baskets_truncated_``). ``engine`` (crmflow.rules.engines): "crmflow" mines every
    complete miner over packed bitsets, "mlxtend" runs mlxtend's own algorithm, for comparison.
    """

    _parameter_constraints = {
        "algorithm": [Options(ALGORITHMS)],
        "engine": [_engines],
        "min_support": [Interval(float, 0, 1, closed="right"), Interval(int, 1, None, doc="an int basket count >= 1")],
        "max_len": [_max_len_range, None],
        "metric": [Options(METRICS)],
        "min_threshold": [_threshold_range],
        "min_len": [Interval(int, 1, None)],
        "single_consequent": [Boolean()],
        "max_rules": [Interval(int, 1, None), None],
        "exclude_items": [ListOf(str, doc="a list of item names")],
        "max_itemsets": [Interval(int, 1, None)],
        "max_basket_size": [Interval(int, 2, None), None],
        "oversize_baskets": [Options(("drop", "truncate"))],
    }

    def __init__(
        self,
        algorithm: str = "fpgrowth",
        min_support: float = 0.01,
        max_len: int | None = 10,
        metric: str = "confidence",
        min_threshold: float = 0.5,
        min_len: int = 2,
        single_consequent: bool = True,
        max_rules: int | None = None,
        exclude_items: Sequence[str] = (),
        max_itemsets: int = 2_000_000,
        max_basket_size: int | None = None,
        oversize_baskets: str = "drop",
        engine: str = "crmflow",
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
        self.max_basket_size = max_basket_size
        self.oversize_baskets = oversize_baskets
        self.engine = engine

    def fit(self, baskets: Baskets) -> AssociationRules:
        """Mine itemsets and rules from ``baskets``; learned state ends in ``_``."""
        self.check_params()
        if self.exclude_items:
            excluded = frozenset(self.exclude_items)
            baskets = Baskets(items=[basket - excluded for basket in baskets.items])
        self.n_baskets_dropped_ = self.n_baskets_truncated_ = 0
        if self.max_basket_size is not None and self.oversize_baskets == "truncate":
            baskets, self.n_baskets_truncated_ = _truncate_large(baskets, self.max_basket_size)
        else:
            baskets, self.n_baskets_dropped_ = _drop_large(baskets, self.max_basket_size)
        check_baskets(baskets)
        matrix, items = encode_baskets(baskets)
        n = matrix.shape[0]
        item_counts = np.asarray(matrix.sum(axis=0)).ravel().astype(np.int64)
        self.n_baskets_ = n
        self.items_ = items
        self.item_support_ = item_support(items, item_counts, n)
        names = [f.name for f in dataclasses.fields(MiningParams)]
        self._itemsets, rules = mine(matrix, items, MiningParams(**{name: getattr(self, name) for name in names}))
        self.n_itemsets_ = len(self._itemsets)
        self.n_rules_found_ = len(rules)
        self.rules_ = rules if self.max_rules is None else rules.head(self.max_rules).reset_index(drop=True)
        self._index = rule_index(self.rules_, items, item_counts)
        logger.debug("mined %d itemsets and %d rules from %d baskets", self.n_itemsets_, len(self.rules_), n)
        return self

    @property
    def itemsets_(self) -> pd.DataFrame:
        """The frequent itemsets (support, itemsets, support_count), made into a table on first use."""
        check_is_fitted(self, "rules_")
        self._itemsets = itemset_table(self._itemsets, self.items_)
        return self._itemsets

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
        validate({"k": k}, {"k": [Interval(int, 1, None)]}, "", owner="AssociationRules.recommend")
        return top_recommendations(self._index, matrix, k, len(self.items_))

    def check_params(self) -> None:
        """Raise ConfigError naming the first invalid parameter, its rule and the value received."""
        validate_parameters(self, "rules")


def _drop_large(baskets: Baskets, max_size: int | None) -> tuple[Baskets, int]:
    """The baskets of at most ``max_size`` items (all without a limit), and how many were dropped."""
    if max_size is None:
        return baskets, 0
    kept = [basket for basket in baskets.items if len(basket) <= max_size]
    if baskets.items and not kept:
        raise DataError(
            f"rules.max_basket_size: all {len(baskets)} baskets have more than {max_size} items, so none is "
            "left to mine; raise rules.max_basket_size or set it to null"
        )
    return Baskets(items=kept), len(baskets) - len(kept)


def _truncate_large(baskets: Baskets, max_size: int) -> tuple[Baskets, int]:
    """Baskets of more than ``max_size`` items cut to their ``max_size`` most frequent items (ties by
    name), and how many were cut."""
    if all(len(basket) <= max_size for basket in baskets.items):
        return baskets, 0
    frequency = Counter(item for basket in baskets.items for item in basket)
    kept = [
        basket if len(basket) <= max_size else frozenset(sorted(basket, key=lambda i: (-frequency[i], i))[:max_size])
        for basket in baskets.items
    ]
    cut = sum(len(basket) > max_size for basket in baskets.items)
    return dataclasses.replace(baskets, items=kept), cut


def check_baskets(baskets: Baskets) -> None:
    """DataError when there is nothing to mine."""
    if len(baskets) == 0:
        raise DataError("rules: there are no baskets to mine; the transactions have no rows with an item")
    if max(map(len, baskets.items)) < 2:
        raise DataError(
            f"rules: every one of the {len(baskets)} baskets has fewer than 2 items, so no rule can be "
            "mined; check how baskets are formed (data.transactions.columns.basket_id)"
        )
