"""Next-basket evaluation: sequential rules, basket rules, popularity and each customer's own favourites recommend
k items for each customer's first basket after a cutoff, from their history before it; scored on the same
customers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmflow.errors import DataError
from crmflow.rules.baskets import Baskets, encode_baskets
from crmflow.rules.estimator import AssociationRules
from crmflow.sequences.histories import Histories, as_days

__all__ = [
    "NextBaskets",
    "basket_rule_recommendations",
    "comparison_scores",
    "next_basket_scores",
    "personal_favourites",
    "popular_items",
    "split_next",
]


@dataclass
class NextBaskets:
    """The histories to learn from (before `cutoff`), and the evaluated customers' histories and next baskets."""

    train: Histories
    evaluated: Histories
    actual: list[frozenset[str]]
    as_of: float  # the cutoff in days since the epoch


def split_next(histories: Histories, cutoff: pd.Timestamp, end: pd.Timestamp | None, key: str) -> NextBaskets:
    """Histories up to `cutoff` (on or before it, as the features count), and every customer with one who buys
    again after it (up to `end`)."""
    train = histories.before(cutoff)
    following = histories.next_baskets(cutoff, end)
    evaluated = train.subset(set(following))
    if not len(evaluated):
        raise DataError(
            f"{key}: no customer with baskets before {pd.Timestamp(cutoff).date()} buys again after it, so no next "
            "basket can be predicted; choose an earlier cutoff"
        )
    return NextBaskets(train, evaluated, [following[c] for c in evaluated.customers], as_days(cutoff))


def next_basket_scores(recommended: Sequence[Sequence[str]], actual: Sequence[frozenset[str]], k: int,
                       prefix: str = "") -> dict[str, float]:  # fmt: skip
    """hit-rate@k (a recommended item is in the next basket), precision@k (share of the k slots that are),
    coverage (share of customers given any recommendation)."""
    hits = np.array([len(set(r) & basket) for r, basket in zip(recommended, actual)], dtype=float)
    n = max(len(actual), 1)
    return {
        f"{prefix}hit_rate_at_{k}": float(np.count_nonzero(hits) / n),
        f"{prefix}precision_at_{k}": float(hits.sum() / (k * n)),
        f"{prefix}coverage": float(sum(1 for r in recommended if r) / n),
    }


def popular_items(train: Histories, k: int) -> list[str]:
    """The k items bought by the most customers (ties by name)."""
    counts = Counter(item for baskets in train.baskets for item in set().union(*baskets))
    return [item for item, _ in sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:k]]


def personal_favourites(evaluated: Histories, k: int) -> list[list[str]]:
    """Each customer's own k most bought items (in most baskets; ties: the latest bought first, then by name)."""
    out = []
    for baskets in evaluated.baskets:
        counts: Counter[str] = Counter()
        last: dict[str, int] = {}
        for position, basket in enumerate(baskets):
            counts.update(basket)
            last.update(dict.fromkeys(basket, position))
        out.append(sorted(counts, key=lambda item: (-counts[item], -last[item], item))[:k])
    return out


def basket_rule_recommendations(miner: AssociationRules, train: Histories, evaluated: Histories,
                                k: int) -> list[list[str]]:  # fmt: skip
    """Basket rules mined on the training baskets, recommending from each customer's last basket."""
    miner.fit(Baskets(items=[basket for baskets in train.baskets for basket in baskets]))
    matrix, _ = encode_baskets(Baskets(items=[baskets[-1] for baskets in evaluated.baskets]), items=miner.items_)
    rows, cols = miner.recommend_indices(matrix, k)
    out: list[list[str]] = [[] for _ in range(len(evaluated))]
    for row, col in zip(rows, cols):
        out[row].append(miner.items_[col])
    return out


def comparison_scores(split: NextBaskets, miner: AssociationRules, k: int) -> dict[str, float]:
    """The popularity baseline's and the basket rules' scores on the split's customers (they do not depend on
    the sequential miner, so a stage computes them once per split)."""
    popular = popular_items(split.train, k)
    scores = next_basket_scores([popular] * len(split.evaluated), split.actual, k, "baseline_")
    scores.update(next_basket_scores(personal_favourites(split.evaluated, k), split.actual, k, "personal_baseline_"))
    rules = basket_rule_recommendations(miner, split.train, split.evaluated, k)
    scores.update(next_basket_scores(rules, split.actual, k, "basket_rules_"))
    scores["basket_rules_n_rules"] = float(len(miner.rules_))
    scores["n_evaluated"] = float(len(split.evaluated))
    return scores
