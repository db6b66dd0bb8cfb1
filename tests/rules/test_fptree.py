"""The sparse FP-tree path gives exactly mlxtend's itemsets and counts, without a dense frame."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest
from helpers import data_file

from crmflow.errors import ConfigError
from crmflow.rules import Baskets, encode_baskets
from crmflow.rules.fptree import capped, fpgrowth_itemsets, fpmax_itemsets
from crmflow.rules.itemsets import frequent_patterns


def _random_matrix(n: int, seed: int):
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, 31)
    rows = [frozenset(rng.choice(30, size=rng.integers(1, 8), p=weights / weights.sum()).astype(str)) for _ in range(n)]
    return encode_baskets(Baskets(items=rows))


def _as_dict(found, items: list[str]) -> dict[frozenset[str], int]:
    return {frozenset(items[i] for i in columns): count for count, columns in found}


def _mlxtend(name: str, matrix, items: list[str], min_count: int, max_len: int | None) -> dict[frozenset[str], int]:
    n = matrix.shape[0]
    frame = pd.DataFrame.sparse.from_spmatrix(matrix, columns=items)
    found = getattr(frequent_patterns(), name)(
        frame, min_support=(min_count - 0.5) / n, use_colnames=True, max_len=max_len
    )
    return dict(zip(found["itemsets"], np.rint(found["support"] * n).astype(int).tolist()))


@pytest.mark.parametrize(("min_count", "max_len"), [(2, None), (5, 3), (20, 2)])
@pytest.mark.parametrize(("name", "enumerate_itemsets"), [("fpgrowth", fpgrowth_itemsets), ("fpmax", fpmax_itemsets)])
def test_same_itemsets_and_counts_as_mlxtend(name, enumerate_itemsets, min_count: int, max_len: int | None) -> None:
    matrix, items = _random_matrix(400, seed=min_count)
    found = capped(enumerate_itemsets(matrix, min_count, max_len), min_count, None, ConfigError)
    expected = _mlxtend(name, matrix, items, min_count, max_len)
    assert _as_dict(found, items) == expected and len(found) == len(expected) > 5


def test_empty_when_nothing_is_frequent() -> None:
    matrix, _ = _random_matrix(50, seed=1)
    assert capped(fpgrowth_itemsets(matrix, 1000, None), 1000, None, ConfigError) == []
    assert capped(fpmax_itemsets(matrix, 1000, None), 1000, None, ConfigError) == []


def test_capped_stops_at_the_first_itemset_past_the_limit() -> None:
    def endless():
        count = 0
        while True:
            count += 1
            yield 5, [count]

    with pytest.raises(ConfigError, match="past 3"):
        capped(endless(), 1, 3, lambda limit: ConfigError(f"past {limit}"))


@pytest.mark.real_data
def test_groceries_itemset_counts_match_the_published_figures() -> None:
    with data_file("groceries.csv").open(newline="") as handle:
        matrix, _ = encode_baskets(Baskets(items=[frozenset(row) for row in csv.reader(handle)]))
    for min_count, expected in ((10, 13_492), (60, 747)):  # supp 0.001 and 0.006 of 9,835 baskets
        assert len(capped(fpgrowth_itemsets(matrix, min_count, 10), min_count, None, ConfigError)) == expected
