"""rules.engine: crmflow's bitset engine and mlxtend's miners give equal rule tables on the real datasets;
engine: mlxtend is refused for eclat; min_len above max_len names both keys."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from helpers import assert_one_line_error, data_file, run_cli

from crmflow.errors import ConfigError
from crmflow.rules import AssociationRules, Baskets, encode_baskets
from crmflow.rules.report import readable

COMPLETE = ["apriori", "eclat", "fpgrowth", "hmine"]


def _groceries() -> Baskets:
    with data_file("groceries.csv").open(newline="") as handle:  # csv keeps 'cream cheese ' as it is
        return Baskets(items=[frozenset(row) for row in csv.reader(handle)])


def _online_retail_invoices() -> Baskets:
    """Online Retail's invoices as baskets: cancellations and missing descriptions left out."""
    lines = pd.read_parquet(data_file("online_retail.parquet"), columns=["InvoiceNo", "Description"])
    lines = lines[lines["Description"].notna() & (lines["Description"] != "Unknown")]
    lines = lines[~lines["InvoiceNo"].astype(str).str.startswith("C")]
    return Baskets(items=[frozenset(items) for items in lines.groupby("InvoiceNo")["Description"].agg(set)])


def _sorted_table(miner: AssociationRules) -> pd.DataFrame:
    table = readable(miner.rules_)
    return table.sort_values(["antecedents", "consequents"]).reset_index(drop=True)


def _compare(baskets: Baskets, params: dict, expected_rules: int) -> None:
    reference = AssociationRules(algorithm="fpgrowth", engine="mlxtend", **params).fit(baskets)
    assert len(reference.rules_) == expected_rules
    for algorithm in COMPLETE:
        fast = AssociationRules(algorithm=algorithm, engine="crmflow", **params).fit(baskets)
        pd.testing.assert_frame_equal(
            _sorted_table(fast), _sorted_table(reference), check_exact=False, rtol=0, atol=1e-12
        )
        pd.testing.assert_frame_equal(fast.rules_, reference.rules_)  # the same order and floats, unsorted
        assert fast.n_itemsets_ == reference.n_itemsets_


@pytest.mark.slow
@pytest.mark.real_data
def test_groceries_tables_are_equal_across_engines() -> None:
    _compare(_groceries(), {"min_support": 0.001, "min_threshold": 0.5, "max_len": 10}, 5668)


@pytest.mark.slow
@pytest.mark.real_data
def test_online_retail_tables_are_equal_across_engines() -> None:
    _compare(_online_retail_invoices(), {"min_support": 0.01, "min_threshold": 0.1, "max_len": 10}, 2108)


def test_eclat_under_the_mlxtend_engine_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^rules.engine: .* among \{'crmflow'\}\. Got 'mlxtend' instead \(mlxtend has no eclat"):  # fmt: skip
        AssociationRules(algorithm="eclat", engine="mlxtend").fit(Baskets(items=[frozenset("ab")]))


def test_min_len_above_max_len_names_both_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^rules.max_len: .* must be an int >= min_len \(3\) or None\. Got 2"):
        AssociationRules(min_len=3, max_len=2).fit(Baskets(items=[frozenset("abc")]))
    result = run_cli(
        "data.n_customers=300", "predictor=none", "tuning=off", "rules=eclat", "rules.engine=mlxtend", cwd=tmp_path
    )
    assert_one_line_error(result, "rules.engine: The 'engine' parameter of AssociationRules", tmp_path)


def test_baskets_are_encoded_once_for_every_trial() -> None:
    baskets = Baskets(items=[frozenset("ab"), frozenset("abc"), frozenset("bc")])
    first = encode_baskets(baskets)
    assert encode_baskets(baskets)[0] is first[0]  # the trials of a study mine the same Baskets
    assert first[1] == ["a", "b", "c"] and first[0].toarray().sum() == 7
    again, _ = encode_baskets(Baskets(items=list(baskets.items)))
    assert again is not first[0] and (again != first[0]).nnz == 0
