"""Eclat over packed bitsets: the same itemsets and counts as FP-Growth, the same rules.csv on Groceries."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest
from helpers import TOY_BASKETS, data_file

from crmflow.errors import ConfigError
from crmflow.rules import AssociationRules, Baskets, encode_baskets
from crmflow.rules.eclat import eclat_itemsets, item_bitsets
from crmflow.rules.fptree import capped, fpgrowth_itemsets
from crmflow.rules.report import readable


def _random_matrix(n: int, seed: int, n_items: int = 30):
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_items + 1)
    rows = [
        frozenset(rng.choice(n_items, size=rng.integers(1, 9), p=weights / weights.sum()).astype(str)) for _ in range(n)
    ]
    return encode_baskets(Baskets(items=rows))


def _mined(enumerate_itemsets, matrix, min_count: int, max_len: int | None) -> dict[frozenset[int], int]:
    found = capped(enumerate_itemsets(matrix, min_count, max_len), min_count, None, ConfigError)
    as_dict = {frozenset(columns): count for count, columns in found}
    assert len(as_dict) == len(found)  # each itemset once
    return as_dict


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("min_count", "max_len"), [(1, 3), (2, None), (4, 4), (10, 2), (12, None)])
def test_same_itemsets_and_counts_as_fpgrowth(seed: int, min_count: int, max_len: int | None) -> None:
    matrix, _ = _random_matrix(130 + 70 * seed, seed)  # 130, 200, 270 baskets: not a multiple of 64
    expected = _mined(fpgrowth_itemsets, matrix, min_count, max_len)
    assert _mined(eclat_itemsets, matrix, min_count, max_len) == expected and len(expected) > 8


def test_toy_itemsets_by_hand() -> None:
    matrix, items = encode_baskets(Baskets(items=[frozenset(row) for row in TOY_BASKETS]))
    found = {frozenset(items[i] for i in cols): n for cols, n in _mined(eclat_itemsets, matrix, 2, None).items()}
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
    assert set(_mined(eclat_itemsets, matrix, 2, 1).values()) == {4, 3, 2}  # max_len 1: the 5 items
    assert len(_mined(eclat_itemsets, matrix, 2, 1)) == 5
    assert _mined(eclat_itemsets, matrix, 6, None) == {}


def test_bitsets_pack_baskets_little_end_first() -> None:
    rows = [frozenset({"a"})] * 64 + [frozenset({"a", "b"}), frozenset({"b"})]
    matrix, _ = encode_baskets(Baskets(items=rows))
    bits = item_bitsets(matrix, np.array([1, 0]))  # b, a
    assert bits.shape == (2, 2) and bits.dtype == np.uint64
    assert bits[0].tolist() == [0, 0b11] and bits[1].tolist() == [2**64 - 1, 0b01]


def test_eclat_honours_exclude_items_and_an_int_min_support() -> None:
    miner = AssociationRules(algorithm="eclat", min_support=2, metric="lift", min_threshold=0.0, exclude_items=["beer"])
    miner.fit(Baskets(items=[frozenset(row) for row in TOY_BASKETS]))
    assert not any("beer" in itemset for itemset in miner.itemsets_["itemsets"])
    assert miner.itemsets_["support_count"].min() == 2


def test_eclat_rules_equal_fpgrowth_rules_on_random_baskets() -> None:
    matrix, items = _random_matrix(300, seed=5)
    rows = Baskets(items=[frozenset(items[i] for i in matrix[r].indices) for r in range(matrix.shape[0])])
    params = {"min_support": 0.02, "min_threshold": 0.2, "single_consequent": False, "max_len": 4}
    expected = AssociationRules(algorithm="fpgrowth", **params).fit(rows).rules_  # type: ignore[arg-type]
    assert len(expected) > 20
    pd.testing.assert_frame_equal(AssociationRules(algorithm="eclat", **params).fit(rows).rules_, expected)  # type: ignore[arg-type]


def _groceries() -> Baskets:
    with data_file("groceries.csv").open(newline="") as handle:  # csv keeps 'cream cheese ' as it is
        return Baskets(items=[frozenset(row) for row in csv.reader(handle)])


@pytest.mark.slow
@pytest.mark.real_data
def test_groceries_rules_csv_equals_fpgrowth() -> None:
    groceries = _groceries()
    params = {"min_support": 0.001, "min_threshold": 0.5, "max_len": 10}
    tables = [
        readable(AssociationRules(algorithm=name, **params).fit(groceries).rules_)  # type: ignore[arg-type]
        .sort_values(["antecedents", "consequents"])
        .reset_index(drop=True)
        for name in ("eclat", "fpgrowth")
    ]
    assert len(tables[0]) == 5668
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=False, rtol=0, atol=1e-12)
