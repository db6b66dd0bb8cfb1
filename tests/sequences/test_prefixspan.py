"""crmflow's PrefixSpan over sequences of itemsets: Pei et al.'s example, the prefixspan package, max gaps."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from prefixspan import PrefixSpan

from crmflow.errors import ConfigError, DataError
from crmflow.sequences.prefixspan import SequenceDB, contains, frequent_patterns, pattern_length

A, B, C, D, E, F, G = range(7)
# Pei et al. 2001, Table 1: <a(abc)(ac)d(cf)>, <(ad)c(bc)(ae)>, <(ef)(ab)(df)cb>, <eg(af)cbc>
PEI = [
    [(A,), (A, B, C), (A, C), (D,), (C, F)],
    [(A, D), (C,), (B, C), (A, E)],
    [(E, F), (A, B), (D, F), (C,), (B,)],
    [(E,), (G,), (A, F), (C,), (B,), (C,)],
]


def brute_force(sequences, min_count, max_length, times=None, max_gap=None, gap_unit="baskets"):
    """Every pattern up to max_length items over the alphabet, counted with contains()."""
    alphabet = sorted({i for sequence in sequences for itemset in sequence for i in itemset})
    itemsets = [c for k in range(1, max_length + 1) for c in itertools.combinations(alphabet, k)]
    found = {}
    for n_itemsets in range(1, max_length + 1):
        for pattern in itertools.product(itemsets, repeat=n_itemsets):
            if pattern_length(pattern) > max_length:
                continue
            count = sum(
                contains(s, pattern, None if times is None else times[k], max_gap, gap_unit)
                for k, s in enumerate(sequences)
            )
            if count >= min_count:
                found[pattern] = count
    return found


def test_pei_example_counts() -> None:
    found = frequent_patterns(SequenceDB(PEI), 2)
    assert found[((A,),)] == 4
    assert found[((A, B),)] == 2
    assert found[((A, B), (C,))] == 2
    assert found[((A,), (A,))] == 2  # sequences 1 and 2 (a then a later); 3 and 4 have one a
    assert found[((A,), (B, C))] == 2
    assert found[((A,), (B,), (A,))] == 2
    assert ((G,),) not in found  # g is in one sequence only
    assert pattern_length(((A,), (B, C))) == 3


def test_pei_example_equals_brute_force() -> None:
    assert frequent_patterns(SequenceDB(PEI), 2, max_length=3) == brute_force(PEI, 2, 3)


@pytest.mark.parametrize("max_gap", [1, 2, 2.5])
def test_pei_example_equals_brute_force_with_a_basket_gap(max_gap: float) -> None:
    assert frequent_patterns(SequenceDB(PEI), 2, 3, max_gap) == brute_force(PEI, 2, 3, max_gap=max_gap)


@pytest.mark.parametrize("seed", range(6))
def test_random_itemset_databases_equal_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sequences = [
        [tuple(sorted(set(rng.integers(0, 5, rng.integers(0, 4)).tolist()))) for _ in range(rng.integers(0, 6))]
        for _ in range(25)
    ]
    times = [np.cumsum(rng.integers(0, 4, len(s))).astype(float) for s in sequences]
    db = SequenceDB(sequences, times)
    assert frequent_patterns(db, 3, 3) == brute_force(sequences, 3, 3)
    assert frequent_patterns(db, 3, 3, 2, "baskets") == brute_force(sequences, 3, 3, max_gap=2)
    assert frequent_patterns(db, 3, 3, 3.0, "days") == brute_force(sequences, 3, 3, times, 3.0, "days")


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("max_length", [None, 2, 4])
def test_single_item_sequences_equal_the_prefixspan_package(seed: int, max_length: int | None) -> None:
    rng = np.random.default_rng(seed)
    db = [rng.integers(0, 15, rng.integers(1, 9)).tolist() for _ in range(200)]
    ps = PrefixSpan(db)
    if max_length is not None:
        ps.maxlen = max_length
    expected = {tuple((i,) for i in items): count for count, items in ps.frequent(10)}
    found = frequent_patterns(SequenceDB([[(i,) for i in s] for s in db]), 10, max_length)
    assert found == expected


def test_a_pattern_three_baskets_apart_needs_a_gap_of_three() -> None:
    sequences = [[(A,), (C,), (D,), (B,)] for _ in range(3)] + [[(B,), (A,)]]
    db = SequenceDB(sequences)
    pattern = ((A,), (B,))
    assert frequent_patterns(db, 2)[pattern] == 3
    assert frequent_patterns(db, 2, max_gap=3)[pattern] == 3
    assert pattern not in frequent_patterns(db, 2, max_gap=2)
    assert contains(sequences[0], pattern, max_gap=3) and not contains(sequences[0], pattern, max_gap=2)


def test_a_later_end_can_reach_what_the_earliest_cannot() -> None:
    # a at 0 and 2, b at 3: within a gap of 1 only from the second a
    sequences = [[(A,), (C,), (A,), (B,)]] * 2
    assert frequent_patterns(SequenceDB(sequences), 2, max_gap=1)[((A,), (B,))] == 2


def test_day_gaps_use_the_times() -> None:
    sequences = [[(A,), (B,)], [(A,), (B,)], [(A,), (C,), (B,)]]
    times = [np.array([0.0, 10.0]), np.array([0.0, 30.0]), np.array([0.0, 5.0, 9.0])]
    db = SequenceDB(sequences, times)
    pattern = ((A,), (B,))
    assert frequent_patterns(db, 1)[pattern] == 3
    assert frequent_patterns(db, 1, max_gap=30, gap_unit="days")[pattern] == 3
    assert frequent_patterns(db, 1, max_gap=10, gap_unit="days")[pattern] == 2
    assert frequent_patterns(db, 1, max_gap=9.5, gap_unit="days")[pattern] == 1
    assert frequent_patterns(db, 1, max_gap=1, gap_unit="baskets")[pattern] == 2
    assert contains(sequences[1], pattern, times[1], 30, "days") and not contains(
        sequences[1], pattern, times[1], 29, "days"
    )


def test_rare_items_and_empty_itemsets_are_harmless() -> None:
    sequences = [[(A, G), (), (B,)], [(A,), (), (B,)], [(F,)]]
    found = frequent_patterns(SequenceDB(sequences), 2, max_gap=2)
    assert found == {((A,),): 2, ((B,),): 2, ((A,), (B,)): 2}
    assert frequent_patterns(SequenceDB(sequences), 2, max_gap=1) == {((A,),): 2, ((B,),): 2}
    assert frequent_patterns(SequenceDB([]), 1) == {}


def test_too_many_patterns_stop_with_a_data_error() -> None:
    with pytest.raises(DataError, match=r"sequences\.max_patterns.*min_support.*max_pattern_length"):
        frequent_patterns(SequenceDB(PEI), 2, max_patterns=10)
    assert len(frequent_patterns(SequenceDB(PEI), 2, 1, max_patterns=6)) == 6


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"min_count": 0}, "sequences.min_support"),
        ({"min_count": 1.5}, "sequences.min_support"),
        ({"min_count": 2, "max_length": 0}, "sequences.max_pattern_length"),
        ({"min_count": 2, "max_gap": 0}, "sequences.max_gap"),
        ({"min_count": 2, "max_gap": -1.0}, "sequences.max_gap"),
        ({"min_count": 2, "gap_unit": "day"}, "sequences.gap_unit"),
        ({"min_count": 2, "max_gap": 3, "gap_unit": "days"}, "sequences.gap_unit"),
        ({"min_count": 2, "max_patterns": 0}, "sequences.max_patterns"),
    ],
)
def test_bad_arguments_name_their_key(kwargs: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")) as caught:
        frequent_patterns(SequenceDB(PEI), **kwargs)
    assert "\n" not in str(caught.value)
