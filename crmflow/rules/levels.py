"""Frequent itemsets level by level over packed basket bitsets: a whole level in a few numpy calls.

Every frequent item gets a code, rarest first, and a bitset (bit b of word w is set when basket
64 * w + b holds the item). Level k holds the frequent k-itemsets as rows of ascending codes in
lexicographic order, with their basket counts. Level 2 counts every basket's pairs of frequent items.
Candidates of level k + 1 join two rows of level k that share their first k - 1 codes (one prefix
class, as in Eclat): one AND of their bitsets and a popcount give the candidate's count, in chunks
of a bounded size. ``prune`` (Apriori) first drops candidates with an infrequent k-subset.

Each row also has a key, parent row * n_codes + last code, ascending within a level, so any itemset
given as ascending codes is found with one ``np.searchsorted`` per item (``LevelItemsets.ids``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from crmflow.errors import ConfigError

__all__ = ["Level", "LevelItemsets", "item_bitsets", "mine_levels"]

WORD = 64
CHUNK_ENTRIES = 2**18  # basket-item entries turned into bits, or basket pairs counted, at once
DENSE_PAIRS_LIMIT = 8192  # frequent items up to which pairs are counted in an n x n table (512 MiB at most)
PAIRS_PER_ENTRY = 6  # pairs per basket item above which the sparse product counts the pairs faster
CHUNK_BYTES = 2 * 2**20  # bitsets of the candidates counted at once (about the size of a core's cache)


@dataclass
class Level:
    """The frequent k-itemsets: ``codes`` (n, k) ascending rows in lexicographic order, their basket
    ``counts``, lookup ``keys`` (parent row * n_codes + last code, ascending) and, while the next
    level is being built, their ``bits`` (n, words)."""

    codes: np.ndarray
    counts: np.ndarray
    keys: np.ndarray
    bits: np.ndarray | None = None


@dataclass
class LevelItemsets:
    """Every frequent itemset by size; codes index ``columns`` (the basket matrix's item columns)."""

    columns: np.ndarray
    n_baskets: int
    levels: list[Level] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(len(level.counts) for level in self.levels)

    def ids(self, codes: np.ndarray) -> np.ndarray:
        """Row of each itemset (rows of ascending codes, all of one size k) in level k; -1 if not frequent."""
        rows, size = codes.shape
        if size > len(self.levels):
            return np.full(rows, -1, dtype=np.int64)
        found = np.ones(rows, dtype=bool)
        current = codes[:, 0].astype(np.int64)
        n_codes = len(self.columns)
        for t in range(1, size):
            keys = self.levels[t].keys
            if len(keys) == 0:
                return np.full(rows, -1, dtype=np.int64)
            wanted = current * n_codes + codes[:, t]
            at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
            found &= keys[at] == wanted
            current = np.where(found, at, 0)
        return np.where(found, current, -1)

    def counts(self, codes: np.ndarray) -> np.ndarray:
        """Basket count of each itemset (rows of ascending codes, all frequent; size 0: every basket)."""
        if codes.shape[1] == 0:
            return np.full(len(codes), self.n_baskets, dtype=np.int64)
        ids = self.ids(codes)
        if (ids < 0).any():
            raise AssertionError("a subset of a frequent itemset was not found among the frequent itemsets")
        return self.levels[codes.shape[1] - 1].counts[ids]

    def frame(self, items: list[str]) -> pd.DataFrame:
        """The itemsets as a table: support, itemsets (frozensets of item names), support_count."""
        names = np.asarray(items, dtype=object)[self.columns]
        itemsets = [frozenset(row) for level in self.levels for row in names[level.codes].tolist()]
        counts = np.concatenate([level.counts for level in self.levels]) if self.levels else np.zeros(0, np.int64)
        return pd.DataFrame({"support": counts / self.n_baskets, "itemsets": itemsets, "support_count": counts})


def item_bitsets(matrix: sp.csr_matrix, positions: np.ndarray | None = None) -> np.ndarray:
    """A (columns, ceil(n / 64)) uint64 array: bit b of word w of row i is set when the basket at
    position 64 * w + b (``positions[basket]``, else the basket's own row) holds item column i.

    Each basket's bit is added into its word (the bits of one word are distinct, so adding is OR), a
    few baskets at a time, so the temporary arrays stay small (fresh large allocations cost page faults
    that can outweigh the arithmetic)."""
    n_baskets = matrix.shape[0]
    words = max(1, -(-n_baskets // WORD))
    positions = np.arange(n_baskets, dtype=np.int64) if positions is None else positions.astype(np.int64)
    indptr, sizes = matrix.indptr.astype(np.int64), np.diff(matrix.indptr)
    out = np.zeros((matrix.shape[1], words), dtype=np.uint64)
    flat = out.reshape(-1)
    start = 0
    while start < n_baskets:
        stop = max(start + 1, int(np.searchsorted(indptr, indptr[start] + CHUNK_ENTRIES, side="right")) - 1)
        at = np.repeat(positions[start:stop], sizes[start:stop])
        slots = matrix.indices[indptr[start] : indptr[stop]].astype(np.int64) * words + (at >> 6)
        np.add.at(flat, slots, np.left_shift(np.uint64(1), (at & (WORD - 1)).astype(np.uint64)))
        start = stop
    return out


def mine_levels(
    matrix: sp.csr_matrix,
    min_count: int,
    max_len: int | None,
    limit: int,
    too_many: Callable[[int], ConfigError],
    *,
    prune: bool = False,
) -> LevelItemsets:
    """Every itemset of at most ``max_len`` items held by at least ``min_count`` baskets.

    ``too_many(limit)`` is raised as soon as more than ``limit`` itemsets are found.
    """
    item_counts = np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.int64)
    frequent = np.flatnonzero(item_counts >= min_count)
    columns = frequent[np.argsort(item_counts[frequent], kind="stable")]  # rarest first: small classes
    found = LevelItemsets(columns=columns, n_baskets=matrix.shape[0])
    max_len = np.iinfo(np.int64).max if max_len is None else max_len
    if len(columns) == 0 or max_len < 1:
        return found
    codes = np.arange(len(columns), dtype=np.int64)
    found.levels.append(Level(codes[:, None], item_counts[columns], codes))
    _check(found, limit, too_many)
    by_code = matrix[:, columns]  # column j: the item of code j
    if max_len >= 2:
        found.levels.append(_pairs(by_code, min_count))
        _check(found, limit, too_many)
    if max_len >= 3 and len(found.levels[1].counts) > 1:
        positions, words = _fullest_first(by_code)
        singles = item_bitsets(by_code, positions)[:, : words(3)]
        pairs = found.levels[1]
        pairs.bits = _joined(singles, pairs.codes[:, 0], pairs.codes[:, 1])
        del singles
    while len(found.levels) < max_len and len(found.levels[-1].counts) > 1:
        size = len(found.levels) + 1
        level = _next_level(found, min_count, words(size), words(size + 1) if size < max_len else 0, prune, limit)
        found.levels[-1].bits = None
        if len(level.counts) == 0:
            break
        found.levels.append(level)
        _check(found, limit, too_many)
    found.levels[-1].bits = None
    return found


def _fullest_first(by_code: sp.csr_matrix) -> tuple[np.ndarray, Callable[[int], int]]:
    """Each basket's bit position when the baskets (over the frequent items only) are ordered by size,
    largest first, and the bitset words that hold every basket of at least k items: a k-itemset's bits
    all lie in those words."""
    held = np.diff(by_code.indptr)
    order = np.argsort(-np.minimum(held, 2**15 - 1).astype(np.int16), kind="stable")  # int16: a radix sort
    at_least = np.bincount(held, minlength=2)[::-1].cumsum()[::-1]  # baskets with >= k frequent items
    positions = np.empty(len(order), dtype=np.int64)
    positions[order] = np.arange(len(order))
    return positions, lambda k: max(1, -(-int(at_least[k] if k < len(at_least) else 0) // WORD))


def _check(found: LevelItemsets, limit: int, too_many: Callable[[int], ConfigError]) -> None:
    if len(found) > limit:
        raise too_many(limit)


def _pairs(by_code: sp.csr_matrix, min_count: int) -> Level:
    """The frequent 2-itemsets: every basket's pairs counted into an n x n table, or the sparse
    co-occurrence product when there are many frequent items (n above DENSE_PAIRS_LIMIT) or large
    baskets (the product's cost grows with the pairs at a few ns each plus a cache miss per entry, the
    table's with the pairs at about 12 ns each: measured on Online Retail and 1M synthetic baskets)."""
    n = by_code.shape[1]
    sizes = np.diff(by_code.indptr).astype(np.int64)
    if n <= DENSE_PAIRS_LIMIT and int((sizes * (sizes - 1) // 2).sum()) <= PAIRS_PER_ENTRY * by_code.nnz:
        together = _pair_counts(by_code)
        found = np.flatnonzero(together >= min_count)  # ascending: (first, second) in lexicographic order
        first, second, counts = found // n, found % n, together[found].astype(np.int64)
    else:
        sub = by_code.astype(np.int32)
        product = sp.triu(sub.T @ sub, k=1).tocoo()
        keep = product.data >= min_count
        first, second = product.row[keep].astype(np.int64), product.col[keep].astype(np.int64)
        order = np.lexsort((second, first))
        first, second, counts = first[order], second[order], product.data[keep][order].astype(np.int64)
    return Level(np.column_stack([first, second]), counts, first * n + second)


def _pair_counts(by_code: sp.csr_matrix) -> np.ndarray:
    """Baskets holding each pair of codes (i, j), i < j, at i * n + j of a flat n x n array; the pairs
    are made a bounded number of baskets at a time."""
    n = by_code.shape[1]
    indptr, codes = by_code.indptr.astype(np.int64), by_code.indices
    sizes = np.diff(indptr)
    done = np.cumsum(sizes * (sizes - 1) // 2)  # pairs of the baskets up to each one
    together = np.zeros(n * n, dtype=np.int64)
    start = 0
    while start < len(sizes):
        before = done[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(done, before + CHUNK_ENTRIES, side="right")))
        entries = np.arange(indptr[start], indptr[stop])
        partners = np.repeat(indptr[start + 1 : stop + 1], sizes[start:stop]) - entries - 1
        left = np.repeat(entries, partners)
        right = left + 1 + np.arange(len(left)) - np.repeat(np.cumsum(partners) - partners, partners)
        a, b = codes[left], codes[right]
        np.add.at(together, np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b), 1)
        start = stop
    return together


def _joined(bits: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """bits[left] & bits[right], row by row, built in chunks."""
    out = np.empty((len(left), bits.shape[1]), dtype=np.uint64)
    step = _chunk(bits.shape[1])
    for start in range(0, len(left), step):
        stop = start + step
        np.bitwise_and(bits[left[start:stop]], bits[right[start:stop]], out=out[start:stop])
    return out


def _chunk(words: int) -> int:
    return max(1, CHUNK_BYTES // (8 * words))


def _candidates(level: Level, n_codes: int, chunk: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(left, right) row pairs of ``level`` in one prefix class (left < right), about ``chunk`` at a time."""
    parents = level.keys // n_codes
    partners = np.searchsorted(parents, parents, side="right") - np.arange(len(parents)) - 1
    done = np.cumsum(partners)  # pairs with a left row up to each row
    start = 0
    while start < len(parents):
        before = done[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(done, before + chunk, side="right")))
        lengths = partners[start:stop]
        left = np.repeat(np.arange(start, stop), lengths)
        if len(left):
            offsets = np.arange(len(left)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            yield left, left + 1 + offsets
        start = stop


def _next_level(found: LevelItemsets, min_count: int, words: int, kept_words: int, prune: bool, limit: int) -> Level:
    """Level k + 1 from level k: prefix-class joins counted by AND + popcount over the first ``words``
    words, the frequent ones kept (with their first ``kept_words`` words, for the level after)."""
    level, n_codes = found.levels[-1], len(found.columns)
    keep_bits = kept_words > 0
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]] = []
    kept = 0
    for left, right in _candidates(level, n_codes, _chunk(words)):
        codes = np.column_stack([level.codes[left], level.codes[right, -1]])
        if prune:
            frequent = np.ones(len(left), dtype=bool)
            for drop in range(codes.shape[1] - 2):  # dropping either of the last two codes gives a parent
                frequent &= found.ids(np.delete(codes, drop, axis=1)) >= 0
            left, right, codes = left[frequent], right[frequent], codes[frequent]
        bits = level.bits[left, :words]
        np.bitwise_and(bits, level.bits[right, :words], out=bits)
        counts = np.bitwise_count(bits).sum(axis=1, dtype=np.int64)
        keep = counts >= min_count
        keys = left[keep] * n_codes + codes[keep, -1]
        parts.append((codes[keep], counts[keep], keys, bits[keep, :kept_words] if keep_bits else None))
        kept += int(keep.sum())
        if len(found) + kept > limit:
            break  # the caller raises: more itemsets than the limit
    if not parts:
        return Level(np.zeros((0, level.codes.shape[1] + 1), np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    codes, counts, keys, bits = zip(*parts)
    joined = np.concatenate(bits) if keep_bits else None
    return Level(np.concatenate(codes), np.concatenate(counts), np.concatenate(keys), joined)
