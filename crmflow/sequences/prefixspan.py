"""PrefixSpan (Pei et al. 2001) over customers' sequences of itemsets, with an optional max gap.

Depth-first pattern growth over pseudo-projections: a pattern's projection holds, in every sequence that
contains it, all the positions where an occurrence of the pattern can end. All of them, not only the earliest:
under a max gap a later end may reach an itemset that an earlier one cannot. A pattern grows by an
itemset-extension (an item above the last itemset's largest, at the same end) or a sequence-extension (a new
itemset {i} at a later position within the gap). Items below min_count are dropped from every itemset first,
which is exact. The itemsets are flattened into numpy arrays (``_Layout``), so that a projection is one array
of entries and a node's candidate items are counted, once per sequence, in a few vectorised calls.
"""

from __future__ import annotations

import numbers
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from crmflow.errors import ConfigError, DataError, did_you_mean

__all__ = ["GAP_UNITS", "Pattern", "SequenceDB", "contains", "frequent_patterns", "pattern_length"]

Pattern = tuple[tuple[int, ...], ...]
GAP_UNITS = ("baskets", "days")


@dataclass(frozen=True)
class SequenceDB:
    """Customers' sequences of itemsets as item codes, with each itemset's time (days, float) for day gaps."""

    sequences: list[list[tuple[int, ...]]]
    times: list[np.ndarray] | None = None


def pattern_length(pattern: Pattern) -> int:
    """The number of items in the pattern (Pei et al.'s length)."""
    return sum(len(itemset) for itemset in pattern)


def contains(
    sequence: Sequence[tuple[int, ...]],
    pattern: Pattern,
    times: np.ndarray | None = None,
    max_gap: float | None = None,
    gap_unit: str = "baskets",
) -> bool:
    """Whether the sequence contains the pattern, consecutive matched itemsets at most max_gap apart."""
    _check_gap(max_gap, gap_unit, times is not None)
    clock = _clock(len(sequence), times, gap_unit)
    ends = [-1]
    for k, itemset in enumerate(pattern):
        wanted = set(itemset)
        ends = [
            j
            for j in range(ends[0] + 1, len(sequence))
            if wanted.issubset(sequence[j])
            and any(e < j and (k == 0 or max_gap is None or clock[j] <= clock[e] + max_gap) for e in ends)
        ]
        if not ends:
            return False
    return True


def frequent_patterns(
    db: SequenceDB,
    min_count: int,
    max_length: int | None = None,
    max_gap: float | None = None,
    gap_unit: str = "baskets",
    max_patterns: int | None = None,
) -> dict[Pattern, int]:
    """Every pattern that at least min_count sequences contain (each counted once), with its count."""
    _check_limits(min_count, max_length, max_patterns)
    _check_gap(max_gap, gap_unit, db.times is not None)
    sequences, items = _encode(db.sequences, min_count)
    times = db.times if max_gap is not None and gap_unit == "days" else None
    layout = _layout(sequences, len(items), _window_stops(sequences, times, max_gap))
    return _Miner(layout, items, min_count, max_length, max_patterns, max_gap is None).mine()


def _check_limits(min_count: int, max_length: int | None, max_patterns: int | None) -> None:
    """ConfigError naming the key when a count or length limit is not a positive integer."""
    for key, value, optional in [
        ("sequences.min_support", min_count, False),
        ("sequences.max_pattern_length", max_length, True),
        ("sequences.max_patterns", max_patterns, True),
    ]:
        if optional and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            what = "a minimum count of customers" if key.endswith("min_support") else "a number of items"
            none = " or null" if optional else ""
            raise ConfigError(f"{key}: gives {what} of {value!r}; it must be an integer >= 1{none}")


def _check_gap(max_gap: float | None, gap_unit: str, has_times: bool) -> None:
    """ConfigError naming the key for a bad gap, an unknown unit, or day gaps without the days."""
    if gap_unit not in GAP_UNITS:
        raise ConfigError(
            f"sequences.gap_unit: {gap_unit!r} is not one of baskets, days{did_you_mean(gap_unit, GAP_UNITS)}"
        )
    if max_gap is not None and (isinstance(max_gap, bool) or not isinstance(max_gap, numbers.Real) or not max_gap > 0):
        raise ConfigError(f"sequences.max_gap: {max_gap!r} must be a number > 0 or null")
    if max_gap is not None and gap_unit == "days" and not has_times:
        raise ConfigError("sequences.gap_unit: days needs each basket's time (SequenceDB.times); none were given")


def _clock(n: int, times: np.ndarray | None, gap_unit: str) -> np.ndarray:
    """Each itemset's position on the gap's scale: its index for baskets, its day for days."""
    if gap_unit == "baskets" or times is None:
        return np.arange(n, dtype=float)
    clock = np.asarray(times, dtype=float)
    if clock.shape != (n,) or np.any(np.diff(clock) < 0):
        raise DataError(f"sequences: a customer's times must be {n} nondecreasing days, one per basket")
    return clock


def _encode(sequences: Sequence[Sequence[tuple[int, ...]]], min_count: int) -> tuple[list[list[list[int]]], list[int]]:
    """The itemsets as sorted codes of the items at least min_count sequences hold (rarer items dropped, empty
    itemsets kept), and each code's item; codes keep the items' order."""
    counts = Counter(item for sequence in sequences for item in {i for itemset in sequence for i in itemset})
    items = sorted(int(item) for item, count in counts.items() if count >= min_count)
    code = {item: k for k, item in enumerate(items)}
    return [[sorted({code[i] for i in itemset if i in code}) for itemset in seq] for seq in sequences], items


def _window_stops(
    sequences: list[list[list[int]]], times: list[np.ndarray] | None, max_gap: float | None
) -> np.ndarray:
    """Per itemset (numbered across all sequences), the end (exclusive) of the positions a next itemset may take."""
    lengths = np.array([len(sequence) for sequence in sequences], dtype=np.int64)
    ends = np.repeat(np.cumsum(lengths), lengths)
    if max_gap is None:
        return ends
    if times is None:
        return np.minimum(np.arange(len(ends)) + int(min(max_gap, len(ends))) + 1, ends)
    starts = np.cumsum(lengths) - lengths
    clocks = [_clock(n, t, "days") for n, t in zip(lengths, times, strict=True)]
    stops = [start + np.searchsorted(c, c + max_gap, side="right") for start, c in zip(starts, clocks)]
    return np.concatenate(stops).astype(np.int64) if stops else ends


@dataclass(frozen=True)
class _Layout:
    """The encoded itemsets flattened: itemset b (across sequences) is ``codes[start[b]:start[b + 1]]``."""

    n_items: int
    owner: np.ndarray  # per itemset, its sequence
    start: np.ndarray  # per itemset, its first entry; one more at the end
    stop: np.ndarray  # per itemset, the window end from _window_stops
    codes: np.ndarray  # per entry, an item code, ascending within an itemset
    itemset: np.ndarray  # per entry, its itemset
    last_seen: np.ndarray  # per distinct code of a sequence, the last itemset holding it: ascending
    last_code: np.ndarray  # the code of each last_seen


def _layout(sequences: list[list[list[int]]], n_items: int, stop: np.ndarray) -> _Layout:
    """Flatten the encoded sequences for the vectorised extensions."""
    sizes = np.array([len(itemset) for sequence in sequences for itemset in sequence], dtype=np.int64)
    owner = np.repeat(np.arange(len(sequences)), [len(sequence) for sequence in sequences]).astype(np.int64)
    codes = np.fromiter((c for seq in sequences for itemset in seq for c in itemset), np.int64, int(sizes.sum()))
    itemset = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    groups = owner[itemset] * n_items + codes
    order = np.lexsort((itemset, groups))
    final = order[np.append(groups[order][1:] != groups[order][:-1], True)[: len(order)]]
    by_time = final[np.argsort(itemset[final], kind="stable")]
    return _Layout(n_items, owner, start, stop, codes, itemset, itemset[by_time], codes[by_time])


def _ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The concatenation of range(lo[k], hi[k]) for every k (hi >= lo)."""
    lengths = hi - lo
    total = int(lengths.sum())
    offsets = np.repeat(lo - np.cumsum(lengths) + lengths, lengths)
    return offsets + np.arange(total, dtype=np.int64)


class _Miner:
    """Depth-first PrefixSpan over one layout; a pattern's projection (its tips) is the ascending array of the
    entries of its last item in the itemsets where an occurrence of it can end."""

    def __init__(
        self,
        layout: _Layout,
        items: list[int],
        min_count: int,
        max_length: int | None,
        max_patterns: int | None,
        gapless: bool,
    ) -> None:
        self.layout, self.items, self.min_count, self.gapless = layout, items, min_count, gapless
        self.max_length, self.max_patterns = max_length, max_patterns
        self.found: dict[Pattern, int] = {}

    def mine(self) -> dict[Pattern, int]:
        """Grow every frequent item depth first, with an explicit stack (no recursion limit)."""
        lay = self.layout
        roots = self._split(np.arange(len(lay.codes)), lay.codes)
        stack = [(((self.items[c],),), roots[c], 1) for c in reversed(range(lay.n_items))]
        while stack:
            pattern, tips, length = stack.pop()
            self._record(pattern, int(np.count_nonzero(np.diff(lay.owner[lay.itemset[tips]]))) + 1)
            if self.max_length is not None and length >= self.max_length:
                continue
            leaf = self.max_length is not None and length + 1 >= self.max_length
            children = []
            for in_last, entries, counts in self._extensions(tips, leaf):
                frequent = counts >= self.min_count
                for code in np.flatnonzero(frequent).tolist() if leaf else ():
                    self._record(self._grown(pattern, in_last, code), int(counts[code]))
                if not leaf:
                    codes = lay.codes[entries]
                    keep = frequent[codes]
                    split = self._split(entries[keep], codes[keep])
                    children += [(self._grown(pattern, in_last, c), e, length + 1) for c, e in split.items()]
            stack.extend(reversed(children))
        return self.found

    def _grown(self, pattern: Pattern, in_last: bool, code: int) -> Pattern:
        """The pattern with the item added to its last itemset (in_last) or as a new itemset after it."""
        item = self.items[code]
        return pattern[:-1] + (pattern[-1] + (item,),) if in_last else pattern + ((item,),)

    def _record(self, pattern: Pattern, count: int) -> None:
        """Keep the pattern; DataError as soon as there are more than max_patterns."""
        self.found[pattern] = count
        if self.max_patterns is not None and len(self.found) > self.max_patterns:
            raise DataError(
                f"sequences.max_patterns: more than {self.max_patterns} frequent patterns at a minimum count of "
                f"{self.min_count} customers; mining stopped there. Raise sequences.min_support or lower "
                "sequences.max_pattern_length"
            )

    def _extensions(self, tips: np.ndarray, leaf: bool) -> list[tuple[bool, np.ndarray, np.ndarray]]:
        """The entries that extend the pattern, with each code's count of sequences: the later items of its end
        itemsets (in_last), and every item in the itemsets after an end and within its window. Without a gap,
        the codes seen last after a sequence's first end give the counts, and a leaf needs no entries."""
        lay = self.layout
        ends = lay.itemset[tips]
        same = _ranges(tips + 1, lay.start[ends + 1])
        lo, hi = ends + 1, lay.stop[ends]
        owners = lay.owner[ends]
        follows = np.concatenate([[False], owners[1:] == owners[:-1]])
        if self.gapless:
            seen = np.searchsorted(lay.last_seen, lo[~follows]), np.searchsorted(lay.last_seen, hi[~follows])
            counts = np.bincount(lay.last_code[_ranges(*seen)], minlength=lay.n_items)
            if leaf:
                return [(True, same, self._counts(same)), (False, same[:0], counts)]
        lo = np.where(follows, np.maximum(lo, np.concatenate([[0], hi[:-1]])), lo)
        itemsets = _ranges(lo, np.maximum(hi, lo))
        later = _ranges(lay.start[itemsets], lay.start[itemsets + 1])
        return [(True, same, self._counts(same)), (False, later, counts if self.gapless else self._counts(later))]

    def _counts(self, entries: np.ndarray) -> np.ndarray:
        """Per code, how many sequences the entries come from."""
        lay = self.layout
        codes = lay.codes[entries]
        keys = np.sort(lay.owner[lay.itemset[entries]] * lay.n_items + codes)
        firsts = np.concatenate([keys[:1], keys[1:][keys[1:] != keys[:-1]]])
        return np.bincount(firsts % lay.n_items, minlength=lay.n_items)

    @staticmethod
    def _split(entries: np.ndarray, codes: np.ndarray) -> dict[int, np.ndarray]:
        """Per code, its entries (given ascending)."""
        order = np.argsort(codes, kind="stable")
        entries, codes = entries[order], codes[order]
        cuts = np.flatnonzero(np.diff(codes)) + 1
        firsts = codes[np.concatenate([[0], cuts])].tolist() if len(codes) else []
        return dict(zip(firsts, np.split(entries, cuts)))
