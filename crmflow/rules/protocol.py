"""RuleMiner: what the rules stage, the evaluation and the segment scores need from a fitted rule miner."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from crmflow.rules.baskets import Baskets

__all__ = ["RuleMiner"]


@runtime_checkable
class RuleMiner(Protocol):
    """A rule miner: ``fit(baskets)`` learns ``rules_``, ``itemsets_``, ``items_`` and ``item_support_``
    (items by training support, most frequent first, used by the most-popular baseline), then recommends."""

    rules_: pd.DataFrame
    itemsets_: pd.DataFrame
    items_: list[str]
    item_support_: pd.Series

    def fit(self, baskets: Baskets) -> RuleMiner:
        """Mine ``baskets`` and return ``self``."""
        ...

    def recommend(self, basket: Iterable[str], k: int = 5) -> list[str]:
        """Top-k items not in ``basket``."""
        ...

    def recommend_indices(self, matrix: sp.csr_matrix, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (row, item index) pairs for every row of ``matrix`` (baskets encoded over ``items_``)."""
        ...
