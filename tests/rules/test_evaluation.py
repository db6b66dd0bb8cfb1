"""evaluate_recommendations: leave-one-out hit rate against hand-worked cases and a plain loop."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import TOY_BASKETS as TOY

from crmflow.errors import ConfigError, DataError
from crmflow.rules import AssociationRules, Baskets, evaluate_recommendations


def baskets(rows: list[set[str]]) -> Baskets:
    return Baskets(items=[frozenset(row) for row in rows])


@pytest.fixture(scope="module")
def toy_miner() -> AssociationRules:
    # Rules for the cases below: beer -> diapers (1.0), diapers -> beer (0.75, lift 1.25) beats
    # diapers -> bread / milk (0.75, lift 0.9375); nothing involves eggs (support 0.2 < 0.4).
    return AssociationRules(min_support=0.4, min_threshold=0.5).fit(baskets(TOY))


def test_hand_worked_case_at_k1(toy_miner: AssociationRules) -> None:
    holdout = baskets([{"beer", "diapers"}, {"caviar", "truffle"}, {"eggs", "caviar"}, {"milk"}])
    # {beer, diapers} hits whichever item is hidden; the other two get no recommendation; {milk}
    # has one item and is not evaluated. Baseline at k=1 recommends bread: never the hidden item.
    assert evaluate_recommendations(toy_miner, holdout, k=1) == {
        "hit_rate_at_1": 1 / 3,
        "precision_at_1": 1 / 3,
        "coverage": 1 / 3,
        "baseline_hit_rate_at_1": 0.0,
        "n_evaluated": 3.0,
    }


def test_hand_worked_case_at_k2(toy_miner: AssociationRules) -> None:
    # Hide bread: {diapers} -> beer, bread. Hide diapers: {bread} -> diapers, milk. Baseline
    # (bread, diapers, milk, ...) minus the visible item also holds the hidden one either way.
    metrics = evaluate_recommendations(toy_miner, baskets([{"bread", "diapers"}] * 4), k=2, seed=7)
    assert metrics == {
        "hit_rate_at_2": 1.0, "precision_at_2": 0.5, "coverage": 1.0, "baseline_hit_rate_at_2": 1.0, "n_evaluated": 4.0,
    }  # fmt: skip


def test_no_rules_means_no_coverage_but_a_baseline(toy_miner: AssociationRules) -> None:
    empty = AssociationRules(min_support=0.9).fit(baskets(TOY))
    metrics = evaluate_recommendations(empty, baskets([{"bread", "diapers"}]), k=2)
    assert (metrics["hit_rate_at_2"], metrics["coverage"], metrics["baseline_hit_rate_at_2"]) == (0.0, 0.0, 1.0)


def test_matches_a_plain_loop_over_recommend() -> None:
    train, holdout = _random_baskets(400, seed=0), _random_baskets(150, seed=1, unknown=True)
    miner = AssociationRules(min_support=0.02, min_threshold=0.1, single_consequent=False).fit(train)
    for k in (1, 3):
        assert evaluate_recommendations(miner, holdout, k=k, seed=5) == pytest.approx(_loop(miner, holdout, k, seed=5))


def test_same_seed_same_result() -> None:
    train, holdout = _random_baskets(300, seed=2), _random_baskets(100, seed=3)
    miner = AssociationRules(min_support=0.02, min_threshold=0.1).fit(train)
    assert evaluate_recommendations(miner, holdout, seed=1) == evaluate_recommendations(miner, holdout, seed=1)


def test_no_basket_with_two_items_is_a_data_error(toy_miner: AssociationRules) -> None:
    with pytest.raises(DataError, match="none of the 2 held-out baskets has 2 or more items"):
        evaluate_recommendations(toy_miner, baskets([{"beer"}, set()]))


def test_bad_k_is_a_config_error(toy_miner: AssociationRules) -> None:
    with pytest.raises(ConfigError, match="'k' parameter of evaluate_recommendations"):
        evaluate_recommendations(toy_miner, baskets(TOY), k=0)


@pytest.mark.slow
def test_five_thousand_baskets_against_five_thousand_rules() -> None:
    train, holdout = _random_baskets(4000, seed=4, n_items=300), _random_baskets(5000, seed=5, n_items=300)
    miner = AssociationRules(min_support=0.001, min_threshold=0.01, max_rules=5000).fit(train)
    assert len(miner.rules_) == 5000
    metrics = evaluate_recommendations(miner, holdout, k=5)
    assert metrics["n_evaluated"] == sum(len(b) >= 2 for b in holdout.items)


def _loop(miner: AssociationRules, holdout: Baskets, k: int, seed: int) -> dict[str, float]:
    """The documented procedure one basket at a time, with recommend()."""
    eligible = [sorted(basket) for basket in holdout.items if len(basket) >= 2]
    picks = np.random.default_rng(seed).integers(0, [len(basket) for basket in eligible])
    hits = baseline = covered = 0
    for basket, pick in zip(eligible, picks):
        hidden, visible = basket[pick], set(basket) - {basket[pick]}
        recommended = miner.recommend(visible, k=k)
        popular = [item for item in miner.item_support_.index if item not in visible][:k]
        hits, covered, baseline = (
            hits + (hidden in recommended),
            covered + bool(recommended),
            baseline + (hidden in popular),
        )
    n = len(eligible)
    return {
        f"hit_rate_at_{k}": hits / n, f"precision_at_{k}": hits / (k * n), "coverage": covered / n,
        f"baseline_hit_rate_at_{k}": baseline / n, "n_evaluated": float(n),
    }  # fmt: skip


def _random_baskets(n: int, seed: int, n_items: int = 25, unknown: bool = False) -> Baskets:
    """Baskets with skewed item popularity, a planted pair and, optionally, unseen items."""
    rng = np.random.default_rng(seed)
    names = np.array([f"item {i:03d}" for i in range(n_items)])
    weights = 1.0 / np.arange(1, n_items + 1) ** 0.8
    rows = []
    for _ in range(n):
        row = set(rng.choice(names, size=rng.integers(1, 7), p=weights / weights.sum()))
        if rng.random() < 0.3:
            row |= {"item 004", "item 013"}
        if unknown and rng.random() < 0.2:
            row.add("never seen")
        rows.append(row)
    return baskets(rows)
