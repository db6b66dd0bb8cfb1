"""Per-segment rules: mined within segments, scored beside the global rules, lift compared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import compose_config

from crmflow.config.components import parse_component
from crmflow.data.synthetic import SyntheticCRM
from crmflow.errors import ConfigError, DataError
from crmflow.plan import plan_run
from crmflow.rules import AssociationRules, Baskets
from crmflow.rules.rule_table import rule_metrics
from crmflow.rules.segments import SegmentLimits, mine_per_segment
from crmflow.rules.stage import RulesSettings, RulesStage
from crmflow.stages.contract import RunState, Segments


def _baskets(rows: list[tuple[str, str]]) -> Baskets:
    """(customer, "items") pairs: customers c0* are in segment 0, c1* in segment 1."""
    return Baskets(items=[frozenset(items.split()) for _, items in rows], customer_ids=pd.Series([c for c, _ in rows]))


# Segment 0 buys x with y, segment 1 buys x with z: on all baskets x -> y has lift 1.
TRAIN = _baskets([("c0a", "x y"), ("c0b", "z w")] * 4 + [("c1a", "x z"), ("c1b", "y w")] * 4)
HOLDOUT = _baskets([("c0a", "x y")] * 3 + [("c1a", "x z")] * 3 + [("nobody", "x y")])
LABELS = pd.Series({"c0a": 0, "c0b": 0, "c1a": 1, "c1b": 1, "noise": -1})


ROOMY = SegmentLimits(min_baskets=2, max_itemsets=1000, max_rules=1000)


def _mine(limits: SegmentLimits = ROOMY, **params: object):
    miner = AssociationRules(min_support=0.2, min_threshold=0.3, **params)  # type: ignore[arg-type]
    return mine_per_segment(miner, TRAIN, HOLDOUT, LABELS, k=1, seed=0, limits=limits)


def test_segment_rules_beat_the_global_rules_on_their_own_baskets() -> None:
    found = _mine()
    assert found.metrics["segments_mined"] == 2
    assert found.metrics["segment_n_evaluated"] == 6  # the basket of an unlabelled customer is left out
    assert found.metrics["segment_hit_rate_at_1"] == 1.0 and found.metrics["segment_coverage"] == 1.0
    assert found.metrics["segment_global_hit_rate_at_1"] < 1.0
    assert found.segments["segment"].tolist() == [0, 1] and (found.segments["n_evaluated"] == 3).all()


def test_lift_ratio_compares_a_segment_rule_with_the_same_rule_on_all_baskets() -> None:
    rules = _mine().rules
    row = rules[
        (rules["segment"] == 0) & (rules["antecedents"] == frozenset("x")) & (rules["consequents"] == frozenset("y"))
    ]
    everything = Baskets(items=TRAIN.items + HOLDOUT.items)
    overall = rule_metrics(row[["antecedents", "consequents"]].reset_index(drop=True), everything)
    # segment 0, all 11 of its baskets: x 7, y 7, xy 7 -> lift 11/7; all 23 baskets: x 15, y 12, xy 8
    assert row["lift"].item() == pytest.approx(11 / 7)
    assert row["global_lift"].item() == pytest.approx(overall["lift"].item()) == pytest.approx(8 * 23 / (15 * 12))
    assert row["lift_ratio"].item() == pytest.approx(row["lift"].item() / row["global_lift"].item())
    assert rules["lift_ratio"].is_monotonic_decreasing


def test_small_segments_are_skipped_and_none_left_is_a_data_error() -> None:
    miner = AssociationRules(min_support=0.2, min_threshold=0.3)
    with pytest.raises(DataError, match="no segment could be mined.*segment_min_baskets=100"):
        mine_per_segment(miner, TRAIN, HOLDOUT, LABELS, k=1, seed=0, limits=SegmentLimits(100, 1000, 1000))


def test_a_segment_past_the_itemset_cap_is_skipped_with_its_reason() -> None:
    # segment 0's training baskets hold 4 frequent items and 2 pairs; segment 1's the same: a cap of 5 stops both
    with pytest.raises(DataError, match="no segment could be mined.*max_itemsets=5"):
        _mine(SegmentLimits(2, 5, 1000))
    found = _mine(SegmentLimits(2, 6, 1000))
    assert found.metrics["segments_mined"] == 2 and found.metrics["segments_skipped"] == 0


def test_each_segment_table_keeps_its_rules_of_highest_lift() -> None:
    full, capped = _mine(), _mine(SegmentLimits(2, 1000, 1))
    assert (capped.segments["n_rules"] == 1).all()
    assert (capped.segments["rules_found"] == full.segments["n_rules"]).all()
    for segment, rules in capped.rules.groupby("segment"):
        assert rules["lift"].item() == full.rules[full.rules["segment"] == segment]["lift"].max()


def _context(folder: Path, labels: pd.Series | None, table: object = "table") -> RunState:
    ctx = RunState(SyntheticCRM(n_customers=800, seed=5).load(), table, {}, seed=0, artifact_dir=folder)  # type: ignore[arg-type]
    if labels is not None:
        ctx.segments = Segments(labels, segmenter=None, columns=[])
    return ctx


def _spec(*overrides: str):
    node = compose_config(
        ["rules.settings.per_segment=true", "rules.settings.segment_min_baskets=50", *overrides]
    ).rules
    return parse_component(node, "rules", RulesSettings)


def test_stage_logs_segment_metrics_and_tables(tmp_path: Path) -> None:
    data = SyntheticCRM(n_customers=800, seed=5).load()
    labels = data.truth.set_index("customer_id")["segment"]
    ctx = _context(tmp_path, labels)
    spec, stage = _spec(), RulesStage()
    stage.check(spec, ctx)
    result = stage.finalize(spec.build(), stage.prepare(spec, ctx), spec, ctx, None)
    assert result.metrics["segments_mined"] == labels.nunique()
    assert 0 < result.metrics["segment_hit_rate_at_5"] <= 1 and result.metrics["segment_n_rules"] > 0
    names = {p.name for p in result.artifacts}
    assert {"segment_rules.csv", "segment_rules_top.md", "segment_evaluation.csv"} <= names
    table = pd.read_csv(tmp_path / "segment_rules.csv")
    assert np.allclose(table["lift_ratio"], table["lift"] / table["global_lift"])


def test_per_segment_without_segments_is_a_config_error() -> None:
    """Checked once, in the plan, before any data is read: the key that asks and the group that provides."""
    message = r"rules.settings.per_segment needs segment labels: segmentation=none; choose a segmentation option, e.g. segmentation=kmeans"
    with pytest.raises(ConfigError, match=message):
        plan_run(compose_config(["segmentation=none", "rules.settings.per_segment=true"]))
