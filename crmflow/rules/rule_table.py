"""The rules table: candidate rules from itemsets, metrics from integer basket counts, one sort order."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import scipy.sparse as sp

from crmflow.rules.baskets import Baskets, encode_baskets
from crmflow.rules.itemsets import frequent_patterns, splits
from crmflow.rules.rule_order import name_ranks, rule_order, set_ranks

__all__ = ["METRICS", "OPEN_BELOW", "RULE_COLUMNS", "count_metrics", "empty_rules", "mine_rules", "rule_metrics"]

# rule metric -> valid range of min_threshold
METRICS: dict[str, tuple[float, float]] = {
    "support": (0.0, 1.0),
    "confidence": (0.0, 1.0),
    "lift": (0.0, math.inf),
    "leverage": (-1.0, 1.0),
    "conviction": (0.0, math.inf),
    "zhangs_metric": (-1.0, 1.0),
}
OPEN_BELOW = {"support", "confidence"}  # a threshold of 0 keeps nothing out: (0, 1]
RULE_COLUMNS = [
    "antecedents", "consequents", "support", "confidence", "lift", "leverage", "conviction", "zhangs_metric",
    "antecedent_count", "support_count",
]  # fmt: skip
# mlxtend compares floats; candidates are pre-filtered this much below the threshold, then exactly.
_SLACK = 1e-9


def mine_rules(
    itemsets: pd.DataFrame,
    matrix: sp.csr_matrix,
    items: list[str],
    *,
    complete: bool,
    metric: str,
    min_threshold: float,
    min_len: int,
    single_consequent: bool,
    max_itemsets: int,
) -> pd.DataFrame:
    """Rules passing min_len, single_consequent and the exact metric threshold, sorted.

    ``complete``: ``itemsets`` holds every frequent itemset (else maximal ones, whose splits are the candidates).
    ``min_len`` 1 adds {} => {item} for the single items among ``itemsets``: support and confidence
    are the item's support, lift 1, leverage 0, conviction 1 (inf at confidence 1), as in arules.
    """
    sizes = itemsets["itemsets"].map(len)
    if not (sizes >= max(2, min_len)).any() and not (min_len <= 1 and (sizes == 1).any()):
        return empty_rules()
    n = matrix.shape[0]
    if not (sizes >= 2).any():
        candidates = pd.DataFrame({"antecedents": [], "consequents": []}, dtype=object)
    elif complete:
        candidates = _candidate_rules(itemsets, n, metric, min_threshold)
    else:  # maximal itemsets lack their subsets' supports: enumerate their splits only
        candidates = splits(itemsets["itemsets"], single_consequent, max_itemsets)[["antecedents", "consequents"]]
    if min_len <= 1:  # arules' minlen 1: {} => {item} for every single item among the itemsets
        singles = itemsets["itemsets"].loc[sizes == 1].to_numpy()
        empty = pd.DataFrame({"antecedents": [frozenset()] * len(singles), "consequents": singles}, dtype=object)
        candidates = pd.concat([empty, candidates], ignore_index=True)
    sizes = candidates["antecedents"].map(len) + candidates["consequents"].map(len)
    keep = sizes >= min_len
    if single_consequent:
        keep &= candidates["consequents"].map(len) == 1
    candidates = candidates.loc[keep].reset_index(drop=True)
    if candidates.empty:
        return empty_rules()
    rules = _with_metrics(candidates, _count_lookup(itemsets, matrix, items), n)
    rules = rules.loc[rules[metric] >= min_threshold]
    return _sort_rules(rules)


def _candidate_rules(itemsets: pd.DataFrame, n: int, metric: str, min_threshold: float) -> pd.DataFrame:
    """Antecedent/consequent pairs from mlxtend, a superset of the rules passing the threshold."""
    association_rules = frequent_patterns().association_rules
    slack = _SLACK * max(1.0, abs(float(min_threshold)))
    found = association_rules(
        itemsets[["support", "itemsets"]], num_itemsets=n, metric=metric,
        min_threshold=min_threshold - slack, return_metrics=["support"],
    )  # fmt: skip
    return found[["antecedents", "consequents"]]


def rule_metrics(rules: pd.DataFrame, baskets: Baskets) -> pd.DataFrame:
    """Support, confidence, lift, ... of the given (antecedents, consequents) rules on ``baskets``.

    Counts come straight from the baskets, so any rule can be scored on any basket set (e.g. a
    segment's rules on all baskets). A rule whose antecedent never occurs gets NaN ratios.
    """
    if rules.empty:
        return empty_rules()
    matrix, items = encode_baskets(baskets)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _with_metrics(rules[["antecedents", "consequents"]], _Counter({}, matrix, items), matrix.shape[0])


def _count_lookup(itemsets: pd.DataFrame, matrix: sp.csr_matrix, items: list[str]) -> _Counter:
    """A basket counter seeded with the mined itemsets' counts."""
    return _Counter(dict(zip(itemsets["itemsets"], itemsets["support_count"])), matrix, items)


class _Counter:
    """Basket counts of itemsets: from the mined itemsets, else counted in the basket matrix."""

    def __init__(self, known: dict[frozenset[str], int], matrix: sp.csr_matrix, items: list[str]) -> None:
        self.known = {frozenset(): matrix.shape[0], **known}  # the empty antecedent is in every basket
        self.matrix, self.columns = matrix, {item: i for i, item in enumerate(items)}

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


def count_metrics(a: np.ndarray, c: np.ndarray, ac: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Rule metrics from the basket counts of antecedent, consequent and both, each a single
    rounding, as arules computes them."""
    a, c, ac = (np.asarray(x, dtype=np.float64) for x in (a, c, ac))
    with np.errstate(divide="ignore", invalid="ignore"):
        conviction = np.where(ac < a, (n - c) * a / (n * (a - ac)), np.inf)
        # Zhang's metric in counts: (n·ac − a·c) / max(ac·(n − a), a·(c − ac))
        zhang = (ac * n - a * c) / np.maximum(ac * (n - a), a * (c - ac))
        return {
            "support": ac / n,
            "confidence": ac / a,
            "lift": (ac * n) / (a * c),
            "leverage": (ac * n - a * c) / (float(n) * n),
            "conviction": conviction,
            "zhangs_metric": np.nan_to_num(zhang, nan=0.0),
            "antecedent_count": a.astype(np.int64),
            "support_count": ac.astype(np.int64),
        }


def _with_metrics(rules: pd.DataFrame, count: _Counter, n: int) -> pd.DataFrame:
    """The rules with their metrics from integer basket counts."""
    a = count(rules["antecedents"])
    c = count(rules["consequents"])
    ac = count(rules["antecedents"].combine(rules["consequents"], frozenset.union))
    return rules.assign(**count_metrics(a, c, ac, n))[RULE_COLUMNS]


def _sort_rules(rules: pd.DataFrame) -> pd.DataFrame:
    """The rules in crmflow.rules.rule_order's order."""
    names = pd.concat([rules["antecedents"], rules["consequents"]]).map(sorted).explode().dropna().unique()
    rank = dict(zip(names, name_ranks(np.asarray(names, dtype=object)).tolist()))
    order = rule_order(
        rules["lift"].to_numpy(), rules["confidence"].to_numpy(), rules["support"].to_numpy(),
        set_ranks(rules["antecedents"], rank), set_ranks(rules["consequents"], rank),
    )  # fmt: skip
    return rules.iloc[order].reset_index(drop=True)


def empty_rules() -> pd.DataFrame:
    """The rules table with no rows and the usual columns and dtypes."""
    dtypes = {"antecedents": object, "consequents": object, "antecedent_count": np.int64, "support_count": np.int64}
    return pd.DataFrame({col: pd.Series(dtype=dtypes.get(col, np.float64)) for col in RULE_COLUMNS})
