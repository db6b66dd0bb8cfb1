"""AssociationRules: exact rules on hand-computed baskets, every algorithm, validation, Groceries."""

from __future__ import annotations

import csv
import math
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from helpers import TOY_BASKETS as TOY
from helpers import data_file
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from crmflow.errors import ConfigError, DataError
from crmflow.rules import AssociationRules, Baskets, encode_baskets

# The textbook five baskets (Tan, Steinbach & Kumar). Counts: bread, milk, diapers 4; beer 3;
# cola 2; eggs 1. Pairs: bread-milk, bread-diapers, milk-diapers, diapers-beer 3; bread-beer,
# milk-beer, milk-cola, diapers-cola 2. Triples with count 2: {milk, diapers, beer},
# {bread, milk, diapers}, {bread, diapers, beer}, {milk, diapers, cola}.
# min_support 0.4 (count >= 2), confidence >= 1: (antecedent, consequent) -> (count, antecedent count)
CONFIDENT = {
    ("beer", "diapers"): (3, 3),
    ("bread beer", "diapers"): (2, 2),
    ("milk beer", "diapers"): (2, 2),
    ("cola", "diapers"): (2, 2),
    ("cola", "milk"): (2, 2),
    ("cola diapers", "milk"): (2, 2),
    ("cola milk", "diapers"): (2, 2),
}


def baskets(rows: list[set[str]] = TOY) -> Baskets:
    return Baskets(items=[frozenset(row) for row in rows])


def rule_keys(rules: pd.DataFrame) -> list[tuple[frozenset[str], frozenset[str]]]:
    return list(zip(rules["antecedents"], rules["consequents"]))


def key(antecedent: str, consequent: str) -> tuple[frozenset[str], frozenset[str]]:
    return frozenset(antecedent.split()), frozenset(consequent.split())


class RuleMinerContract:
    """What every mining algorithm must satisfy; subclass per algorithm."""

    algorithm: ClassVar[str]
    complete: ClassVar[bool] = True  # mines every frequent itemset (fpmax: maximal ones only)

    def miner(self, **params: object) -> AssociationRules:
        return AssociationRules(algorithm=self.algorithm, **params)  # type: ignore[arg-type]

    def test_fit_returns_self_with_learned_state(self) -> None:
        miner = self.miner(min_support=0.4)
        assert miner.fit(baskets()) is miner
        assert miner.n_baskets_ == 5
        assert miner.items_ == ["beer", "bread", "cola", "diapers", "eggs", "milk"]
        assert miner.item_support_.to_dict() == {
            "bread": 0.8, "diapers": 0.8, "milk": 0.8, "beer": 0.6, "cola": 0.4, "eggs": 0.2,
        }  # fmt: skip
        assert list(miner.item_support_.index[:3]) == ["bread", "diapers", "milk"]
        assert set(miner.itemsets_.columns) >= {"support", "itemsets"}

    def test_confident_rules_are_exact(self) -> None:
        rules = self.miner(min_support=0.4, min_threshold=1.0).fit(baskets()).rules_
        expected = {key(*k): v for k, v in CONFIDENT.items()}
        found = dict(zip(rule_keys(rules), zip(rules["support_count"], rules["antecedent_count"])))
        if self.complete:
            assert found == expected
        else:
            assert found.items() <= expected.items() and found
        assert (rules["confidence"] == 1.0).all() and np.allclose(rules["lift"], 1.25)

    def test_rules_sorted_by_lift_then_confidence(self) -> None:
        rules = self.miner(min_support=0.2, min_threshold=0.1).fit(baskets()).rules_
        pairs = list(zip(rules["lift"], rules["confidence"]))
        assert pairs == sorted(pairs, reverse=True)

    def test_count_threshold_is_exact_despite_float_error(self) -> None:
        # 0.07 * 100 == 7.000000000000001: mlxtend's ceil() would ask for 8 baskets and drop {a, b}.
        rows = [{"a", "b"}] * 7 + [{"a"}] * 3 + [{"c"}] * 90
        itemsets = set(
            self.miner(min_support=0.07, metric="lift", min_threshold=0.0).fit(baskets(rows)).itemsets_["itemsets"]
        )
        assert frozenset({"a", "b"}) in itemsets
        assert frozenset({"b"}) in itemsets or not self.complete

    def test_recommend_never_returns_basket_items(self) -> None:
        miner = self.miner(min_support=0.2, min_threshold=0.1).fit(baskets())
        for row in TOY:
            assert not set(miner.recommend(row, k=10)) & row

    def test_no_multi_item_itemsets_gives_empty_rules(self) -> None:
        miner = self.miner(min_support=0.9).fit(baskets())
        assert miner.rules_.empty
        assert list(miner.rules_.columns[:2]) == ["antecedents", "consequents"]
        assert miner.recommend({"beer"}) == []

    def test_clone_gives_an_unfitted_copy(self) -> None:
        fresh = clone(self.miner(min_support=0.3).fit(baskets()))
        assert fresh.get_params()["algorithm"] == self.algorithm
        assert not hasattr(fresh, "rules_")


class TestApriori(RuleMinerContract):
    algorithm = "apriori"


class TestFpgrowth(RuleMinerContract):
    algorithm = "fpgrowth"


class TestEclat(RuleMinerContract):
    algorithm = "eclat"


class TestHmine(RuleMinerContract):
    algorithm = "hmine"


class TestFpmax(RuleMinerContract):
    algorithm = "fpmax"
    complete = False

    def test_rules_come_from_maximal_itemsets_only(self) -> None:
        miner = self.miner(min_support=0.4, metric="lift", min_threshold=0.0).fit(baskets())
        assert all(len(itemset) == 3 for itemset in miner.itemsets_["itemsets"])
        full = AssociationRules(min_support=0.4, metric="lift", min_threshold=0.0).fit(baskets()).rules_
        merged = miner.rules_.merge(full, on=["antecedents", "consequents"], suffixes=("", "_all"))
        assert len(merged) == len(miner.rules_) == 12  # 4 triples x 3 single consequents
        assert np.allclose(merged["lift"], merged["lift_all"])
        assert (merged["antecedent_count"] == merged["antecedent_count_all"]).all()


@pytest.mark.parametrize("algorithm", ["apriori", "hmine", "eclat"])
def test_algorithms_agree_with_fpgrowth(algorithm: str) -> None:
    rows = _random_baskets(300, seed=1)
    params = {"min_support": 0.02, "min_threshold": 0.2, "single_consequent": False}
    expected = AssociationRules(**params).fit(rows).rules_  # type: ignore[arg-type]
    assert len(expected) > 20 and (expected["consequents"].map(len) > 1).any()
    pd.testing.assert_frame_equal(AssociationRules(algorithm=algorithm, **params).fit(rows).rules_, expected)  # type: ignore[arg-type]


def test_hand_computed_rules_keep_the_confidence_tie() -> None:
    # 0.6 / 0.8 == 0.7499999999999999 in floats; as counts 3 / 4 the confidence is exactly 0.75.
    rules = AssociationRules(min_support=0.6, min_threshold=0.75).fit(baskets()).rules_
    assert rule_keys(rules) == [
        key("beer", "diapers"), key("diapers", "beer"), key("bread", "diapers"), key("bread", "milk"),
        key("diapers", "bread"), key("diapers", "milk"), key("milk", "bread"), key("milk", "diapers"),
    ]  # fmt: skip
    first, second, third = (rules.iloc[i] for i in range(3))
    assert (first["support"], first["confidence"], first["lift"], first["leverage"]) == (0.6, 1.0, 1.25, 0.12)
    assert math.isinf(first["conviction"])
    assert second["confidence"] == 0.75 and second["conviction"] == pytest.approx(1.6)
    assert third["lift"] == 0.9375 and third["leverage"] == pytest.approx(-0.04)
    assert third["conviction"] == pytest.approx(0.8)
    assert rules["antecedent_count"].dtype == np.int64 and list(rules["support_count"]) == [3] * 8


def test_single_consequent_off_adds_multi_item_consequents() -> None:
    rules = AssociationRules(min_support=0.4, min_threshold=1.0, single_consequent=False).fit(baskets()).rules_
    assert len(rules) == len(CONFIDENT) + 1
    top = rules.iloc[0]  # cola -> {milk, diapers}: 1 / (3/5)
    assert (top["antecedents"], top["consequents"]) == key("cola", "milk diapers")
    assert top["lift"] == pytest.approx(5 / 3)


def test_min_len_and_max_len_bound_the_rule_length() -> None:
    long_rules = AssociationRules(min_support=0.4, min_threshold=1.0, min_len=3).fit(baskets()).rules_
    assert set(rule_keys(long_rules)) == {key(*k) for k in CONFIDENT if " " in k[0]}
    short_rules = AssociationRules(min_support=0.4, min_threshold=1.0, max_len=2).fit(baskets()).rules_
    assert set(rule_keys(short_rules)) == {key(*k) for k in CONFIDENT if " " not in k[0]}


def test_max_rules_keeps_the_top_by_lift_then_confidence() -> None:
    rules = AssociationRules(min_support=0.6, min_threshold=0.75, max_rules=2).fit(baskets()).rules_
    assert rule_keys(rules) == [key("beer", "diapers"), key("diapers", "beer")]


@pytest.mark.parametrize(
    ("metric", "threshold"), [("lift", 1.25), ("leverage", 0.08), ("conviction", 1.6), ("support", 0.6)]
)
def test_other_metrics_filter_exactly(metric: str, threshold: float) -> None:
    everything = AssociationRules(min_support=0.2, metric="lift", min_threshold=0.0).fit(baskets()).rules_
    rules = AssociationRules(min_support=0.2, metric=metric, min_threshold=threshold).fit(baskets()).rules_
    expected = everything.loc[everything[metric] >= threshold - 1e-12].reset_index(drop=True)
    assert set(rule_keys(rules)) == set(rule_keys(expected)) and len(rules)


def test_recommend_ranks_by_best_confidence_then_lift() -> None:
    miner = AssociationRules(min_support=0.4, min_threshold=0.5).fit(baskets())
    # beer -> diapers (1.0); beer -> bread, beer -> milk (2/3, lift 5/6, tie broken by name)
    assert miner.recommend({"beer"}) == ["diapers", "bread", "milk"]
    assert miner.recommend({"beer"}, k=2) == ["diapers", "bread"]
    # diapers (1.0); bread via milk -> bread (0.75); cola via milk -> cola (0.5, lift 1.25)
    assert miner.recommend(["milk", "beer"]) == ["diapers", "bread", "cola"]
    assert miner.recommend({"caviar"}) == []


def test_recommend_indices_match_recommend() -> None:
    rows = _random_baskets(200, seed=3)
    miner = AssociationRules(min_support=0.02, min_threshold=0.1, single_consequent=False).fit(rows)
    matrix, _ = encode_baskets(rows, items=miner.items_)
    got_rows, got_items = miner.recommend_indices(matrix, k=3)
    for i, basket in enumerate(rows.items):
        assert [miner.items_[c] for c in got_items[got_rows == i]] == miner.recommend(basket, k=3)


def test_recommend_before_fit_raises() -> None:
    with pytest.raises(NotFittedError):
        AssociationRules().recommend({"beer"})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"min_support": 0}, "The 'min_support' parameter of AssociationRules must be a float in the range (0, 1] or an int basket count >= 1. Got 0 instead."),
        ({"min_support": True}, "The 'min_support' parameter of AssociationRules must be a float in the range (0, 1] or an int basket count >= 1. Got True instead."),
        ({"algorithm": "fpgrowh"}, "The 'algorithm' parameter of AssociationRules must be a str among {'apriori', 'eclat', 'fpgrowth', 'fpmax', 'hmine'}. Got 'fpgrowh' instead; did you mean 'fpgrowth'?"),
        ({"metric": "confidance"}, "Got 'confidance' instead; did you mean 'confidence'?"),
        ({"min_threshold": 1.5}, "The 'min_threshold' parameter of AssociationRules must be a float in the range (0, 1] for metric='confidence'. Got 1.5 instead."),
        ({"min_threshold": 0.0}, "The 'min_threshold' parameter of AssociationRules must be a float in the range (0, 1] for metric='confidence'. Got 0.0 instead."),
        ({"metric": "support", "min_threshold": 0}, "range (0, 1] for metric='support'. Got 0 instead."),
        ({"min_support": 1.5}, "The 'min_support' parameter of AssociationRules must be a float in the range (0, 1] or an int basket count >= 1. Got 1.5 instead."),
        ({"metric": "lift", "min_threshold": -1}, "range [0, inf) for metric='lift'. Got -1 instead."),
        ({"min_len": 0}, "The 'min_len' parameter of AssociationRules must be an int in the range [1, inf). Got 0 instead."),
        ({"max_len": 2, "min_len": 3}, "The 'max_len' parameter of AssociationRules must be an int >= min_len (3) or None. Got 2 instead."),
        ({"max_rules": 0}, "The 'max_rules' parameter of AssociationRules must be an int in the range [1, inf) or None. Got 0 instead."),
        ({"single_consequent": "yes"}, "The 'single_consequent' parameter of AssociationRules must be an instance of 'bool'. Got 'yes' instead."),
    ],
)  # fmt: skip
def test_invalid_parameters_are_config_errors_at_fit(params: dict[str, object], message: str) -> None:
    miner = AssociationRules(**params)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as error:
        miner.fit(baskets())
    assert message in str(error.value)


def test_recommend_rejects_bad_k() -> None:
    miner = AssociationRules(min_support=0.4).fit(baskets())
    with pytest.raises(ConfigError, match=r"'k' parameter of AssociationRules.recommend .* Got 0 instead"):
        miner.recommend({"beer"}, k=0)


def test_no_baskets_is_a_data_error() -> None:
    with pytest.raises(DataError, match="no baskets"):
        AssociationRules().fit(Baskets(items=[]))


def test_single_item_baskets_are_a_data_error() -> None:
    with pytest.raises(DataError, match="fewer than 2 items"):
        AssociationRules().fit(baskets([{"a"}, {"b"}, set()]))


def _random_baskets(n: int, seed: int) -> Baskets:
    """Baskets over 20 items with skewed popularity and two planted pairs."""
    rng = np.random.default_rng(seed)
    names = np.array([f"item {i:02d}" for i in range(20)])
    weights = 1.0 / np.arange(1, 21)
    rows = []
    for _ in range(n):
        row = set(rng.choice(names, size=rng.integers(1, 6), p=weights / weights.sum()))
        if rng.random() < 0.3:
            row |= {"item 05", "item 17"}
        if rng.random() < 0.2:
            row |= {"item 08", "item 11", "item 19"}
        rows.append(row)
    return baskets(rows)


def _groceries() -> Baskets:
    path = data_file("groceries.csv")
    with path.open(newline="") as handle:  # csv keeps the trailing spaces of 'cream cheese '
        return Baskets(items=[frozenset(row) for row in csv.reader(handle)])


COMPLETE_MINERS = ["apriori", "fpgrowth", "hmine", "eclat"]  # every frequent itemset, so arules' counts


@pytest.mark.slow
@pytest.mark.real_data
@pytest.mark.parametrize("algorithm", COMPLETE_MINERS)
def test_groceries_matches_arules_5668_rules(algorithm: str) -> None:
    groceries = _groceries()
    assert len(groceries) == 9835 and len(encode_baskets(groceries)[1]) == 169
    miner = AssociationRules(
        algorithm=algorithm, min_support=0.001, metric="confidence", min_threshold=0.5, max_len=10,
        single_consequent=True,
    ).fit(groceries)  # fmt: skip
    assert len(miner.rules_) == 5668


@pytest.mark.slow
@pytest.mark.real_data
@pytest.mark.parametrize("algorithm", COMPLETE_MINERS)
def test_groceries_matches_arules_463_rules(algorithm: str) -> None:
    miner = AssociationRules(algorithm=algorithm, min_support=0.006, min_threshold=0.25, min_len=2)
    assert len(miner.fit(_groceries()).rules_) == 463


def test_an_int_min_support_is_an_absolute_basket_count() -> None:
    by_count = AssociationRules(min_support=3, metric="lift", min_threshold=0.0).fit(Baskets(items=TOY))
    by_share = AssociationRules(min_support=0.6, metric="lift", min_threshold=0.0).fit(Baskets(items=TOY))
    assert by_count.itemsets_["support_count"].min() == 3
    pd.testing.assert_frame_equal(by_count.rules_, by_share.rules_)


def test_excluded_items_leave_every_basket_before_mining() -> None:
    miner = AssociationRules(min_support=0.2, metric="lift", min_threshold=0.0, exclude_items=["beer", "cola"]).fit(
        Baskets(items=TOY)
    )
    assert "beer" not in miner.items_ and "cola" not in miner.items_
    assert not any("beer" in itemset for itemset in miner.itemsets_["itemsets"])


def test_zhangs_metric_by_hand() -> None:
    # beer -> diapers in the toy baskets: n=5, a=3, c=4, ac=3: (5·3 − 3·4) / max(3·2, 3·1) = 0.5
    miner = AssociationRules(min_support=0.2, metric="zhangs_metric", min_threshold=0.5).fit(Baskets(items=TOY))
    rule = miner.rules_[
        (miner.rules_["antecedents"] == frozenset({"beer"})) & (miner.rules_["consequents"] == frozenset({"diapers"}))
    ]
    assert rule["zhangs_metric"].item() == pytest.approx(0.5)
    assert (miner.rules_["zhangs_metric"] >= 0.5).all()


@pytest.mark.parametrize("algorithm", ["apriori", "hmine"])
def test_itemset_explosion_stops_before_mining(algorithm: str) -> None:
    with pytest.raises(
        ConfigError,
        match=r"rules.min_support: 1 makes 6 frequent items and \d+ frequent pairs, "
        r"above rules.max_itemsets=10 .*raise rules.min_support or set a small rules.max_len",
    ):
        AssociationRules(algorithm=algorithm, engine="mlxtend", min_support=1, max_itemsets=10).fit(Baskets(items=TOY))


@pytest.mark.parametrize(("algorithm", "engine"), [("fpgrowth", "mlxtend"), ("fpmax", "crmflow")] + [
    (name, "crmflow") for name in ("apriori", "eclat", "fpgrowth", "hmine")
])  # fmt: skip
def test_miners_stop_once_past_max_itemsets(algorithm: str, engine: str) -> None:
    # 40 items all in one basket at count 1: 2**40 itemsets (4 maximal ones with the filler baskets)
    rows = [frozenset(f"item {i:02d}" for i in range(40))] + [frozenset({f"x{i}", f"y{i}"}) for i in range(3)]
    miner = AssociationRules(algorithm=algorithm, engine=engine, min_support=1, max_len=None, max_itemsets=3)
    with pytest.raises(
        ConfigError,
        match=r"rules.min_support: 1 \(1 baskets\) makes more than rules.max_itemsets=3 "
        r"frequent itemsets \(max_len=None\); mining stopped there",
    ):
        miner.fit(Baskets(items=rows))


def test_fpmax_caps_the_maximal_itemsets_it_keeps() -> None:
    rows = [frozenset(f"item {i:02d}" for i in range(40))] + [frozenset({f"x{i}", f"y{i}"}) for i in range(3)]
    miner = AssociationRules(algorithm="fpmax", min_support=1, max_len=None, max_itemsets=4).fit(Baskets(items=rows))
    assert sorted(miner.itemsets_["itemsets"].map(len)) == [2, 2, 2, 40]
    assert len(miner.rules_) == 40 + 3 * 2
    with pytest.raises(ConfigError, match=r"the 4 maximal itemsets \(up to 40 items\) split into \d+ candidate rules"):
        miner.set_params(single_consequent=False).fit(Baskets(items=rows))
