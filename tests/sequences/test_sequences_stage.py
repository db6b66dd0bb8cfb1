"""The sequences stage: a planted log where buying A is followed by B in a later basket (never the same one), the
next-basket evaluation beside popularity and basket rules, the stage contract and a run on the synthetic log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import assert_one_line_error, compose_config, run_cli
from mlflow.tracking import MlflowClient

from crmflow.plan import plan_run
from crmflow.rules.baskets import baskets_from_transactions
from crmflow.rules.estimator import AssociationRules
from crmflow.run import _load
from crmflow.sequences.estimator import SequentialPatterns
from crmflow.sequences.evaluation import next_basket_scores, popular_items, split_next
from crmflow.sequences.histories import customer_histories
from crmflow.sequences.stage import SequencesStage

START = pd.Timestamp("2024-01-01")
FILLERS = [f"filler {i}" for i in range(8)]


def planted_log(n: int = 200, buyers_of_a: int = 100, followers: int = 60, seed: int = 0) -> pd.DataFrame:
    """n customers with 3 baskets (days 0, 10, 20) and one after day 30; the first `buyers_of_a` buy A in their
    first basket and the first `followers` of them buy B in their second; nobody buys A and B together."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n):
        for b, day in enumerate((0, 10, 20, 35)):
            items = set(rng.choice(FILLERS, size=2, replace=False))
            if b == 0 and c < buyers_of_a:
                items.add("A")
            if b == 1 and c < followers:
                items.add("B")
            rows += [(f"c{c:03d}", f"c{c:03d}-{b}", START + pd.Timedelta(days=day), item, 1.0) for item in items]
    return pd.DataFrame(rows, columns=["customer_id", "basket_id", "timestamp", "item", "amount"])


def test_a_then_b_is_found_with_the_planted_confidence_and_basket_rules_miss_it() -> None:
    baskets = baskets_from_transactions(planted_log())
    histories = customer_histories(baskets).before(START + pd.Timedelta(days=30))
    fitted = SequentialPatterns(min_support=0.05, min_confidence=0.1).fit(histories)
    rules = fitted.rules_.set_index(["antecedent_text", "consequent_text"])
    rule = rules.loc[("{A}", "{B}")]
    assert rule["confidence"] == pytest.approx(0.6)  # 60 of the 100 A buyers buy B later
    assert rule["lift"] == pytest.approx(0.6 / 0.3)  # B's base rate: 60 of 200 customers
    assert rule["support"] == pytest.approx(0.3)
    miner = AssociationRules(min_support=0.01, min_threshold=0.01).fit(baskets)
    together = miner.rules_[miner.rules_["antecedents"].map(lambda a: "A" in a)]
    assert not together["consequents"].map(lambda c: "B" in c).any()


def alternating_log(n: int = 200, alternating: int = 100) -> pd.DataFrame:
    """The first `alternating` customers buy A, B, A (days 0, 10, 20) and B again after day 30; the rest fillers."""
    rows = []
    for c in range(n):
        for b, day in enumerate((0, 10, 20, 35)):
            items = {FILLERS[(c + b) % len(FILLERS)], ("A" if b % 2 == 0 else "B") if c < alternating else FILLERS[0]}
            rows += [(f"c{c:03d}", f"c{c:03d}-{b}", START + pd.Timedelta(days=day), item, 1.0) for item in items]
    return pd.DataFrame(rows, columns=["customer_id", "basket_id", "timestamp", "item", "amount"])


def test_next_basket_evaluation_recommends_b_after_a() -> None:
    histories = customer_histories(baskets_from_transactions(alternating_log()))
    split = split_next(histories, START + pd.Timedelta(days=30), None, "test")
    assert len(split.evaluated) == 200 and split.actual[0] >= {"B"}
    # with max_gap 1, only rules whose antecedent ends in the last basket (A) fire: {A} -> {B}, not {B} -> {A}
    fitted = SequentialPatterns(min_support=0.05, min_confidence=0.5, max_gap=1).fit(split.train)
    recommended = fitted.recommend(split.evaluated, 1, split.as_of)
    assert all(recommended[i] == ["B"] for i in range(100))
    scores = next_basket_scores(recommended, split.actual, 1)
    assert scores["hit_rate_at_1"] >= 0.5
    assert popular_items(split.train, 1) == [FILLERS[0]]  # bought by the most customers


def test_scores_are_hand_checked() -> None:
    scores = next_basket_scores([["a", "b"], ["c"], []], [frozenset("a"), frozenset("x"), frozenset("c")], 2)
    assert scores == {"hit_rate_at_2": 1 / 3, "precision_at_2": 1 / 6, "coverage": 2 / 3}


BASE = ["sequences=prefixspan", "data.sequence_strength=0.8", "data.n_customers=600", "tuning=off"]
ONLY = ["segmentation=none", "rules=none", "predictor=none"]


def test_stage_contract_on_the_planted_synthetic_log(tmp_path: Path) -> None:
    plan = plan_run(compose_config([*BASE, *ONLY]))
    (stage, spec), = plan.stages  # fmt: skip
    assert isinstance(stage, SequencesStage)
    state, _ = _load(plan, tmp_path)
    stage.check(spec, state)
    prepared = stage.prepare(spec, state)
    trial = stage.score(spec.build(), prepared, spec)
    assert set(stage.metric_names(spec)) <= set(trial)
    result = stage.finalize(spec.build(), prepared, spec, state, None)
    metrics = result.metrics
    assert metrics["hit_rate_at_5"] > 0 and metrics["n_rules"] > 0
    assert 0 <= metrics["baseline_hit_rate_at_5"] <= 1 and 0 <= metrics["basket_rules_hit_rate_at_5"] <= 1
    names = {p.name for p in result.artifacts}
    assert {"sequential_patterns.csv", "sequential_rules.csv", "top_sequential_rules.md",
            "sequence_evaluation.csv", "sequential_patterns.png"} <= names  # fmt: skip
    rules = pd.read_csv(tmp_path / "sequential_rules.csv").set_index(["antecedent_text", "consequent_text"])
    for first, then in (("flour", "sugar"), ("beef", "wine")):  # the planted sequences, found with a high lift
        assert rules.loc[(f"{{{first}}}", f"{{{then}}}"), "lift"] > 1.5


@pytest.mark.slow
def test_a_run_logs_the_stage_beside_segments(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    overrides = [*BASE, "rules=none", "predictor=none", "sequences.settings.per_segment=true",
                 "segmentation.settings.stability_resamples=0", f"tracking.uri={uri}"]  # fmt: skip
    result = run_cli(*overrides, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(uri)
    (parent,) = client.search_runs([client.get_experiment_by_name("synthetic").experiment_id])
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["sequences.n_segments_mined"] >= 1
    logged = {a.path for a in client.list_artifacts(parent.info.run_id, "sequences")}
    assert "sequences/segment_sequence_evaluation.csv" in logged


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["data.n_customers=50", "sequences.min_support=0"], "sequences.min_support"),
        (["sequences.max_pattern_length=1"], "sequences.max_pattern_length"),
        (["sequences.gap_unit=weeks"], "sequences.gap_unit"),
    ],
)
def test_bad_settings_get_one_line(overrides: list[str], expected: str, tmp_path: Path) -> None:
    result = run_cli(*BASE, *ONLY, *overrides, cwd=tmp_path)
    assert_one_line_error(result, expected, tmp_path)


def _write_log(folder: Path, rows: list[tuple[str, str, str]]) -> None:
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "item"]).assign(amount=1.0)
    frame.to_csv(folder / "tx.csv", index=False)


CSV = ["data=csv", "data.transactions.path=tx.csv", "features._target_=null", "sequences=prefixspan", *ONLY,
       "tuning=off", "sequences.settings.cutoff=2024-03-01"]  # fmt: skip
SINGLE = [(f"c{i}", f"2024-0{1 + i % 4}-1{i % 9}", f"item {i % 5}") for i in range(40)]  # one basket each


@pytest.mark.slow
@pytest.mark.parametrize(
    ("rows", "overrides", "expected"),
    [
        (SINGLE, [], "sequences: the data has no 'item' column"),
        (SINGLE, ["data.transactions.columns.item=item"], "sequences: every one of the 40 customers has a single"),
    ],
)
def test_bad_data_gets_one_line(rows: list, overrides: list[str], expected: str, tmp_path: Path) -> None:
    _write_log(tmp_path, rows)
    assert_one_line_error(run_cli(*CSV, *overrides, cwd=tmp_path), expected, tmp_path)


def test_the_early_stop_gives_the_top_k_of_a_full_scan() -> None:
    rng = np.random.default_rng(7)
    rows = [(f"c{c}", f"c{c}-{b}", START + pd.Timedelta(days=10 * b), f"i{item}", 1.0)
            for c in range(120) for b in range(5) for item in rng.choice(12, size=3, replace=False)]  # fmt: skip
    log = pd.DataFrame(rows, columns=["customer_id", "basket_id", "timestamp", "item", "amount"])
    split = split_next(customer_histories(baskets_from_transactions(log)), START + pd.Timedelta(days=35), None, "t")
    fitted = SequentialPatterns(min_support=0.05, min_confidence=0.05).fit(split.train)
    every = len(fitted.items_)  # k = every item: the scan never stops early
    full = fitted.recommend(split.evaluated, every, split.as_of)
    for k in (1, 3, 5):
        assert fitted.recommend(split.evaluated, k, split.as_of) == [items[:k] for items in full]
