"""crmflow's level-wise bitset engine: the same itemsets and counts as mlxtend's FP-tree, by hand on a toy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import TOY_BASKETS

from crmflow.errors import ConfigError
from crmflow.rules import AssociationRules, Baskets, encode_baskets, levels
from crmflow.rules.fptree import capped, fpgrowth_itemsets
from crmflow.rules.levels import item_bitsets, mine_levels


def _random_matrix(n: int, seed: int, n_items: int = 30):
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_items + 1)
    rows = [
        frozenset(rng.choice(n_items, size=rng.integers(1, 9), p=weights / weights.sum()).astype(str)) for _ in range(n)
    ]
    return encode_baskets(Baskets(items=rows))


def _levels(matrix, min_count: int, max_len: int | None, prune: bool = False) -> dict[frozenset[int], int]:
    found = mine_levels(matrix, min_count, max_len, 10**9, ConfigError, prune=prune)
    as_dict = {
        frozenset(found.columns[row].tolist()): count
        for level in found.levels
        for row, count in zip(level.codes, level.counts.tolist())
    }
    assert len(as_dict) == len(found)  # each itemset once
    return as_dict


def _fpgrowth(matrix, min_count: int, max_len: int | None) -> dict[frozenset[int], int]:
    found = capped(fpgrowth_itemsets(matrix, min_count, max_len), min_count, None, ConfigError)
    return {frozenset(columns): count for count, columns in found}


@pytest.mark.parametrize("dense_pairs", [True, False])
@pytest.mark.parametrize("prune", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("min_count", "max_len"), [(1, 3), (2, None), (4, 4), (10, 2), (12, None)])
def test_same_itemsets_and_counts_as_fpgrowth(
    seed: int, min_count: int, max_len: int | None, prune: bool, dense_pairs: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not dense_pairs:  # many frequent items: pairs from the sparse co-occurrence product
        monkeypatch.setattr(levels, "DENSE_PAIRS_LIMIT", 0)
    monkeypatch.setattr(levels, "CHUNK_ENTRIES", 7)  # many chunks of basket pairs and of bits
    matrix, _ = _random_matrix(130 + 70 * seed, seed)  # 130, 200, 270 baskets: not a multiple of 64
    expected = _fpgrowth(matrix, min_count, max_len)
    assert _levels(matrix, min_count, max_len, prune) == expected and len(expected) > 8


def test_toy_itemsets_by_hand() -> None:
    matrix, items = encode_baskets(Baskets(items=[frozenset(row) for row in TOY_BASKETS]))
    found = {frozenset(items[i] for i in cols): n for cols, n in _levels(matrix, 2, None).items()}
    # every item but eggs (1 basket); 8 pairs; 4 triples; no quadruple is in 2 baskets
    assert found == {
        frozenset(k.split()): n
        for k, n in {
            "bread": 4, "milk": 4, "diapers": 4, "beer": 3, "cola": 2,
            "bread milk": 3, "bread diapers": 3, "diapers milk": 3, "beer diapers": 3,
            "beer bread": 2, "beer milk": 2, "cola milk": 2, "cola diapers": 2,
            "beer diapers milk": 2, "bread diapers milk": 2, "beer bread diapers": 2, "cola diapers milk": 2,
        }.items()
    }  # fmt: skip
    assert sorted(_levels(matrix, 2, 1).values()) == [2, 3, 4, 4, 4]  # max_len 1: the 5 items
    assert _levels(matrix, 6, None) == {}


def test_lookup_finds_every_frequent_itemset_and_no_other() -> None:
    matrix, _ = _random_matrix(200, seed=3)
    found = mine_levels(matrix, 3, None, 10**9, ConfigError)
    for level in found.levels:
        assert found.ids(level.codes).tolist() == list(range(len(level.counts)))
        assert (np.diff(level.keys) > 0).all()  # the keys ascend: one searchsorted per item
    pairs = found.levels[1].codes
    absent = np.array([[a, b] for a in range(len(found.columns)) for b in range(a + 1, len(found.columns))])
    absent = absent[~(absent[:, None, :] == pairs[None, :, :]).all(axis=2).any(axis=1)]
    assert len(absent) and (found.ids(absent) == -1).all()


def test_bitsets_pack_baskets_little_end_first() -> None:
    rows = [frozenset({"a"})] * 64 + [frozenset({"a", "b"}), frozenset({"b"})]
    matrix, _ = encode_baskets(Baskets(items=rows))
    bits = item_bitsets(matrix[:, [1, 0]])  # b, a
    assert bits.shape == (2, 2) and bits.dtype == np.uint64
    assert bits[0].tolist() == [0, 0b11] and bits[1].tolist() == [2**64 - 1, 0b01]
    last_first = np.arange(len(rows))[::-1]  # basket i at position 65 - i
    flipped = item_bitsets(matrix[:, [1, 0]], last_first)
    assert flipped[0].tolist() == [0b11, 0] and flipped[1].tolist() == [2**64 - 2, 0b11]


def test_the_itemset_limit_stops_mining() -> None:
    matrix, _ = _random_matrix(200, seed=1)
    total = len(mine_levels(matrix, 2, None, 10**9, ConfigError))
    with pytest.raises(ConfigError, match=f"^{total - 1}$"):
        mine_levels(matrix, 2, None, total - 1, lambda limit: ConfigError(str(limit)))
    assert len(mine_levels(matrix, 2, None, total, ConfigError)) == total


def test_eclat_honours_exclude_items_and_an_int_min_support() -> None:
    miner = AssociationRules(algorithm="eclat", min_support=2, metric="lift", min_threshold=0.0, exclude_items=["beer"])
    miner.fit(Baskets(items=[frozenset(row) for row in TOY_BASKETS]))
    assert not any("beer" in itemset for itemset in miner.itemsets_["itemsets"])
    assert miner.itemsets_["support_count"].min() == 2
    assert miner.n_itemsets_ == len(miner.itemsets_) == 11  # the toy's 17 itemsets but the 6 with beer


@pytest.mark.parametrize("single_consequent", [True, False])
@pytest.mark.parametrize("algorithm", ["apriori", "eclat", "fpgrowth", "hmine"])
def test_crmflow_engine_rules_equal_mlxtend_engine_rules(algorithm: str, single_consequent: bool) -> None:
    matrix, items = _random_matrix(300, seed=5)
    rows = Baskets(items=[frozenset(items[i] for i in matrix[r].indices) for r in range(matrix.shape[0])])
    params = {"min_support": 0.02, "min_threshold": 0.2, "single_consequent": single_consequent, "max_len": 4}
    expected = AssociationRules(algorithm="fpgrowth", engine="mlxtend", **params).fit(rows).rules_  # type: ignore[arg-type]
    assert len(expected) > 20
    got = AssociationRules(algorithm=algorithm, **params).fit(rows).rules_  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(got, expected)  # same rules, same order, same floats
