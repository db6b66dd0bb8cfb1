"""Frequent itemsets by Eclat over packed bitsets: each item's baskets as bits of uint64 words.

Depth first over prefix classes: the class of a prefix P holds the bitsets of P + {e} for its
extensions e (items after P's last item, rarest first). Each member becomes a prefix in turn: one
``np.bitwise_and`` of its bitset with all later members' bitsets and one ``np.bitwise_count`` give
the supports of the whole next class at once; only the frequent ones are kept and recursed into.
No Python loop runs per basket; a frequent itemset costs one numpy call at most.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp

from crmflow.rules.fptree import Found

__all__ = ["eclat_itemsets", "item_bitsets"]

WORD = 64


def item_bitsets(matrix: sp.csr_matrix, columns: np.ndarray) -> np.ndarray:
    """A (len(columns), ceil(n / 64)) uint64 array: bit b of word w of row i is set when basket
    64 * w + b holds item ``columns[i]``."""
    n_baskets = matrix.shape[0]
    words = max(1, -(-n_baskets // WORD))
    row_of = np.full(matrix.shape[1], -1, dtype=np.int64)
    row_of[columns] = np.arange(len(columns))
    baskets = np.repeat(np.arange(n_baskets, dtype=np.int64), np.diff(matrix.indptr))
    rows = row_of[matrix.indices]
    keep = rows >= 0
    baskets, rows = baskets[keep], rows[keep]
    bits = np.zeros(len(columns) * words, dtype=np.uint64)
    bits_of = np.left_shift(np.uint64(1), (baskets % WORD).astype(np.uint64))
    np.bitwise_or.at(bits, rows * words + baskets // WORD, bits_of)
    return bits.reshape(len(columns), words)


def eclat_itemsets(matrix: sp.csr_matrix, min_count: int, max_len: int | None) -> Iterator[Found]:
    """Every itemset held by at least ``min_count`` baskets (up to ``max_len`` items), with its count.

    Yields (basket count, item columns) lazily, each itemset before its extensions, so a caller
    stopping at an itemset cap (crmflow.rules.fptree.capped) stops the mining there.
    """
    counts = np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.int64)
    frequent = np.flatnonzero(counts >= min_count)
    columns = frequent[np.argsort(counts[frequent], kind="stable")]  # rarest first: small classes
    if len(columns) == 0 or (max_len is not None and max_len < 1):
        return iter(())
    return _classes([], item_bitsets(matrix, columns), counts[columns], columns, min_count, max_len)


def _classes(
    prefix: list[int],
    bits: np.ndarray,
    counts: np.ndarray,
    columns: np.ndarray,
    min_count: int,
    max_len: int | None,
) -> Iterator[Found]:
    """The itemsets of one prefix class (``bits``, ``counts`` of prefix + each of ``columns``) and,
    depth first, of the classes below it."""
    deeper = max_len is None or len(prefix) + 1 < max_len
    found_counts, found_columns = counts.tolist(), columns.tolist()
    for i, (count, column) in enumerate(zip(found_counts, found_columns)):
        itemset = [*prefix, column]
        yield count, itemset
        if not deeper or i + 1 == len(found_columns):
            continue
        joined = np.bitwise_and(bits[i], bits[i + 1 :])
        supports = np.bitwise_count(joined).sum(axis=1, dtype=np.int64)
        keep = np.flatnonzero(supports >= min_count)
        if len(keep):
            yield from _classes(itemset, joined[keep], supports[keep], columns[i + 1 :][keep], min_count, max_len)
