"""Held-out evaluation of a rule miner as a recommender: leave one item out, recommend it back."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from crmflow.config.constraints import Interval
from crmflow.config.validation import validate
from crmflow.errors import DataError
from crmflow.rules.baskets import Baskets, encode_baskets
from crmflow.rules.protocol import RuleMiner


def evaluate_recommendations(miner: RuleMiner, holdout: Baskets, k: int = 5, seed: int = 0) -> dict[str, float]:
    """Leave-one-out hit rate of ``miner`` on held-out baskets, against a most-popular baseline.

    Every held-out basket with at least 2 items hides one of them (drawn uniformly with
    ``numpy.random.default_rng(seed)`` from the basket's items in sorted order); the miner
    recommends k items from the rest and scores a hit when the hidden item is among them.
    Items never seen in training are fine: they match no rule and can never be hit.
    """
    validate({"k": k}, {"k": [Interval(int, 1, None)]}, "", owner="evaluate_recommendations")
    visible, hidden = _hide_one(holdout, seed)
    matrix, _ = encode_baskets(visible, items=miner.items_)
    target = _item_positions(miner.items_, hidden)
    n = len(hidden)
    rows, cols = miner.recommend_indices(matrix, k)
    hits = int(np.count_nonzero(cols == target[rows]))
    baseline_hits = int(np.count_nonzero(_baseline_hits(miner, matrix, target, k)))
    return {
        f"hit_rate_at_{k}": hits / n,
        f"precision_at_{k}": hits / (k * n),
        "coverage": len(np.unique(rows)) / n,
        f"baseline_hit_rate_at_{k}": baseline_hits / n,
        "n_evaluated": float(n),
    }


def _hide_one(holdout: Baskets, seed: int) -> tuple[Baskets, list[str]]:
    """The evaluable baskets (>= 2 items) without one random item each, and the hidden items."""
    eligible = [sorted(basket) for basket in holdout.items if len(basket) >= 2]
    if not eligible:
        raise DataError(
            f"rules: none of the {len(holdout)} held-out baskets has 2 or more items, so there is nothing "
            "to evaluate; raise the hold-out fraction or check how baskets are formed"
        )
    lengths = np.array([len(basket) for basket in eligible])
    picks = np.random.default_rng(seed).integers(0, lengths)
    hidden = [basket[i] for basket, i in zip(eligible, picks)]
    visible = [frozenset(basket[:i] + basket[i + 1 :]) for basket, i in zip(eligible, picks)]
    return Baskets(items=visible), hidden


def _item_positions(items: list[str], names: list[str]) -> np.ndarray:
    """Column of each name in ``items``, -1 for names unseen in training."""
    column = {item: i for i, item in enumerate(items)}
    return np.array([column.get(name, -1) for name in names], dtype=np.int64)


def _baseline_hits(miner: RuleMiner, matrix: sp.csr_matrix, target: np.ndarray, k: int) -> np.ndarray:
    """Whether each hidden item is among the k most popular training items not in its basket.

    The hidden item's rank among items outside the basket is its popularity rank minus the
    number of basket items more popular than it.
    """
    rank = np.empty(len(miner.items_), dtype=np.int64)
    column = {item: i for i, item in enumerate(miner.items_)}
    rank[[column[item] for item in miner.item_support_.index]] = np.arange(len(rank))
    known = target >= 0
    target_rank = np.where(known, rank[np.maximum(target, 0)], len(rank))
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    ahead = rank[matrix.indices] < target_rank[rows]
    n_ahead = np.bincount(rows[ahead], minlength=matrix.shape[0])
    return known & (target_rank - n_ahead < k)
