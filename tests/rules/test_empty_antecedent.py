"""arules' minlen 1: the rules {} => {item}, computed by hand, recommended as a popularity fallback."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from helpers import TOY_BASKETS, assert_one_line_error, data_file, run_cli

from crmflow.errors import ConfigError
from crmflow.rules import AssociationRules, Baskets, evaluate_recommendations, rule_metrics
from crmflow.rules.report import readable, top_rules_markdown

ALGORITHMS = ["apriori", "fpgrowth", "hmine", "eclat"]
EMPTY = frozenset()


def toy() -> Baskets:
    return Baskets(items=[frozenset(row) for row in TOY_BASKETS])


def rule_keys(rules) -> list[tuple[str, str]]:
    return [(" ".join(sorted(a)), " ".join(sorted(c))) for a, c in zip(rules["antecedents"], rules["consequents"])]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_toy_rules_with_an_empty_antecedent_by_hand(algorithm: str) -> None:
    # count >= 3 of 5 baskets: bread, milk, diapers 4/5, beer 3/5. confidence >= 0.8: {} => bread,
    # diapers, milk (0.8 each; beer's 0.6 is too low) and beer -> diapers (3/3); bread -> milk is 3/4.
    rules = AssociationRules(algorithm=algorithm, min_support=0.6, min_threshold=0.8, min_len=1).fit(toy()).rules_
    assert rule_keys(rules) == [("beer", "diapers"), ("", "bread"), ("", "diapers"), ("", "milk")]
    empty = rules.iloc[1:]
    assert (empty["antecedents"] == EMPTY).all()
    assert empty["support"].tolist() == empty["confidence"].tolist() == [0.8] * 3
    assert empty["lift"].tolist() == [1.0] * 3 and empty["leverage"].tolist() == [0.0] * 3
    assert empty["conviction"].tolist() == [1.0] * 3 and empty["zhangs_metric"].tolist() == [0.0] * 3
    assert empty["antecedent_count"].tolist() == [5] * 3 and empty["support_count"].tolist() == [4] * 3
    without = AssociationRules(algorithm=algorithm, min_support=0.6, min_threshold=0.8).fit(toy()).rules_
    assert rule_keys(without) == [("beer", "diapers")]


def test_an_item_in_every_basket_has_infinite_conviction() -> None:
    rows = Baskets(items=[frozenset({"a", "b"}), frozenset({"a", "c"}), frozenset({"a"})])
    rules = AssociationRules(min_support=1, min_threshold=1.0, min_len=1, max_len=1).fit(rows).rules_
    assert rule_keys(rules) == [("", "a")]  # max_len 1: only the rules {} => {item}
    assert rules["confidence"].item() == 1.0 and math.isinf(rules["conviction"].item())


def test_single_consequent_off_keeps_empty_antecedents_to_single_items() -> None:
    rules = AssociationRules(min_support=0.6, min_threshold=0.8, min_len=1, single_consequent=False).fit(toy()).rules_
    assert {c for a, c in rule_keys(rules) if a == ""} == {"bread", "diapers", "milk"}


def test_fpmax_adds_only_maximal_single_items() -> None:
    # count >= 4: bread, milk, diapers are each maximal (every pair is in 3 baskets)
    rules = AssociationRules(algorithm="fpmax", min_support=4, min_threshold=0.5, min_len=1).fit(toy()).rules_
    assert rule_keys(rules) == [("", "bread"), ("", "diapers"), ("", "milk")]


def test_empty_antecedent_rules_recommend_for_every_basket() -> None:
    miner = AssociationRules(min_support=0.6, min_threshold=0.8, min_len=1).fit(toy())
    assert miner.recommend({"beer"}) == ["diapers", "bread", "milk"]  # beer -> diapers first (1.0)
    assert miner.recommend({"caviar"}) == ["bread", "diapers", "milk"]  # popularity fallback
    assert miner.recommend({"bread", "diapers", "milk"}) == []
    # every evaluated basket gets a recommendation but the one left with exactly {bread, diapers, milk}
    scores = evaluate_recommendations(miner, toy(), k=2)
    plain = evaluate_recommendations(AssociationRules(min_support=0.6, min_threshold=0.8).fit(toy()), toy(), k=2)
    assert scores["coverage"] == 0.8 > plain["coverage"]


def test_rules_csv_writes_the_empty_antecedent_as_an_empty_field(tmp_path: Path) -> None:
    rules = AssociationRules(min_support=0.6, min_threshold=0.8, min_len=1).fit(toy()).rules_
    table = readable(rules)
    assert table["antecedents"].tolist() == ["beer", "", "", ""]
    assert "| {} → {bread} | 0.8000 | 0.800 | 1.00 | 4 |" in top_rules_markdown(table, 5)
    scored = rule_metrics(rules, toy())  # a segment's rules scored on all baskets
    assert scored["antecedent_count"].tolist() == [3, 5, 5, 5] and scored["lift"].tolist()[1:] == [1.0] * 3


def test_min_len_above_max_len_names_the_key() -> None:
    with pytest.raises(
        ConfigError, match=r"The 'max_len' parameter of AssociationRules must be an int >= min_len \(3\) or None"
    ):
        AssociationRules(min_len=3, max_len=2).fit(toy())
    with pytest.raises(ConfigError, match=r"'min_len' parameter of AssociationRules must be an int in the range \[1"):
        AssociationRules(min_len=0).fit(toy())


def test_the_cli_refuses_min_len_above_max_len_in_one_line(tmp_path: Path) -> None:
    result = run_cli(
        "data.n_customers=300", "predictor=none", "tuning=off", "rules.min_len=4", "rules.max_len=3", cwd=tmp_path
    )
    assert_one_line_error(result, "rules.max_len: The 'max_len' parameter of AssociationRules", tmp_path)


def _groceries() -> Baskets:
    with data_file("groceries.csv").open(newline="") as handle:
        return Baskets(items=[frozenset(row) for row in csv.reader(handle)])


@pytest.mark.slow
@pytest.mark.real_data
def test_groceries_min_len_one_adds_nothing_at_confidence_half() -> None:
    groceries = _groceries()
    params = {"algorithm": "eclat", "min_support": 0.001, "min_threshold": 0.5, "max_len": 10}
    one = AssociationRules(**params, min_len=1).fit(groceries)  # type: ignore[arg-type]
    # arules' 5,668 at minlen 1: no item is in half the baskets (whole milk, the most frequent: 2,513 of 9,835)
    assert one.item_support_.max() == 2513 / 9835 < 0.5
    assert len(one.rules_) == 5668 and not (one.rules_["antecedents"] == EMPTY).any()


@pytest.mark.slow
@pytest.mark.real_data
def test_groceries_min_len_one_adds_whole_milk_at_confidence_quarter() -> None:
    # Lantz's example sets minlen 2 to drop {} => {whole milk}: 463 rules, 464 with it
    rules = (
        AssociationRules(algorithm="eclat", min_support=0.006, min_threshold=0.25, min_len=1).fit(_groceries()).rules_
    )
    assert len(rules) == 464
    empty = rules.loc[rules["antecedents"] == EMPTY]
    assert rule_keys(empty) == [("", "whole milk")] and empty["confidence"].item() == 2513 / 9835
