"""Recommendations from a rules table: the rules as sparse arrays, matched against many baskets at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from crmflow.rules.baskets import Baskets, encode_baskets

__all__ = ["RuleIndex", "expand_ranges", "matching_rules", "rule_index", "top_recommendations"]


@dataclass
class RuleIndex:
    """The rules as arrays for vectorised matching: antecedents (rules x items), consequent lists."""

    antecedents: sp.csr_matrix
    sizes: np.ndarray
    consequents: sp.csr_matrix
    confidence: np.ndarray
    lift: np.ndarray
    popularity: np.ndarray


def rule_index(rules: pd.DataFrame, items: list[str], item_counts: np.ndarray) -> RuleIndex:
    """Encode the rules' antecedents and consequents over ``items`` for vectorised matching."""
    antecedents, _ = encode_baskets(Baskets(items=list(rules["antecedents"])), items=items)
    consequents, _ = encode_baskets(Baskets(items=list(rules["consequents"])), items=items)
    return RuleIndex(
        antecedents=antecedents,
        sizes=rules["antecedents"].map(len).to_numpy(dtype=np.int64),
        consequents=consequents,
        confidence=rules["confidence"].to_numpy(dtype=np.float64),
        lift=rules["lift"].to_numpy(dtype=np.float64),
        popularity=item_counts,
    )


def top_recommendations(idx: RuleIndex, matrix: sp.csr_matrix, k: int, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k items not in each row's basket (``matrix`` encoded over the ``n_items`` training items).

    Items rank by their best rule's confidence, then lift, then item popularity and index.
    Returns (row, item index) arrays sorted by row, best recommendation first within a row.
    """
    rows, rules = matching_rules(matrix, idx)
    counts = np.diff(idx.consequents.indptr)[rules]
    items = idx.consequents.indices[expand_ranges(idx.consequents.indptr[rules], counts)]
    rows, rules = np.repeat(rows, counts), np.repeat(rules, counts)
    keys = rows.astype(np.int64) * n_items + items
    basket_keys = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr)) * n_items
    fresh = ~np.isin(keys, basket_keys + matrix.indices)
    rows, rules, items, keys = rows[fresh], rules[fresh], items[fresh], keys[fresh]
    order = np.lexsort((items, -idx.popularity[items], -idx.lift[rules], -idx.confidence[rules], rows))
    _, first = np.unique(keys[order], return_index=True)
    best = order[np.sort(first)]
    rows, items = rows[best], items[best]
    rank = np.arange(len(rows)) - np.searchsorted(rows, rows, side="left")
    return rows[rank < k], items[rank < k]


def matching_rules(matrix: sp.csr_matrix, idx: RuleIndex) -> tuple[np.ndarray, np.ndarray]:
    """(row, rule) pairs where the rule's whole antecedent is in the row's basket.

    A rule with an empty antecedent ({} => {item}, rules.min_len 1) matches every row: a popularity
    fallback ranked by its confidence (the item's support) beside the other rules.
    """
    overlap = (matrix.astype(np.int32) @ idx.antecedents.T.astype(np.int32)).tocsr()
    rows = np.repeat(np.arange(overlap.shape[0]), np.diff(overlap.indptr))
    full = overlap.data == idx.sizes[overlap.indices]
    rows, rules = rows[full], overlap.indices[full]
    empty = np.flatnonzero(idx.sizes == 0)
    if len(empty):
        rows = np.concatenate([rows, np.repeat(np.arange(matrix.shape[0]), len(empty))])
        rules = np.concatenate([rules, np.tile(empty, matrix.shape[0])])
    return rows, rules


def expand_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated ranges starts[i] .. starts[i] + counts[i] - 1 (CSR rows to their entries)."""
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + offsets
