"""The rules stage on the synthetic data: planted associations make rules beat the popularity baseline."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from helpers import compose_config

from crmflow.config.components import parse_component
from crmflow.data.synthetic import SyntheticCRM
from crmflow.errors import ConfigError, DataError
from crmflow.rules.stage import RulesSettings, RulesStage
from crmflow.stages.contract import RunState


def context(data, folder: Path) -> RunState:
    return RunState(data, None, {}, seed=0, artifact_dir=folder)


def test_default_rules_beat_the_popularity_baseline(tmp_path: Path) -> None:
    node = compose_config().rules
    spec = parse_component(node, "rules", RulesSettings)
    stage = RulesStage()
    ctx = context(SyntheticCRM(n_customers=1500, seed=3).load(), tmp_path)
    stage.check(spec, ctx)
    prepared = stage.prepare(spec, ctx)
    result = stage.finalize(spec.build(), prepared, spec, ctx, None)
    assert result.metrics["hit_rate_at_5"] > result.metrics["baseline_hit_rate_at_5"] + 0.05
    assert result.metrics["coverage"] > 0.9
    assert {p.name for p in result.artifacts} == {
        "rules.csv",
        "rules_scatter.png",
        "top_rules_by_lift.md",
        "evaluation_vs_baseline.csv",
    }
    assert result.metrics["n_rules"] == len(pd.read_csv(tmp_path / "rules.csv"))  # mined on all baskets
    assert (tmp_path / "top_rules_by_lift.md").read_text().startswith("Top 20 of ")


def test_data_without_items_is_refused_before_mining(tmp_path: Path) -> None:
    data = SyntheticCRM(n_customers=50).load()
    data.transactions = data.transactions.drop(columns="item")
    spec = parse_component(compose_config().rules, "rules", RulesSettings)
    with pytest.raises(DataError, match="rules: the data has no 'item' column"):
        RulesStage().check(spec, context(data, tmp_path))


def test_trials_never_see_the_holdout_baskets(tmp_path: Path) -> None:
    spec = parse_component(compose_config().rules, "rules", RulesSettings)
    prepared = RulesStage().prepare(spec, context(SyntheticCRM(n_customers=300, seed=3).load(), tmp_path))
    n = len(prepared.baskets)
    assert (len(prepared.fit), len(prepared.validation), len(prepared.holdout)) == (
        n - math.ceil(0.2 * n) - math.ceil(0.2 * (n - math.ceil(0.2 * n))),
        math.ceil(0.2 * (n - math.ceil(0.2 * n))),
        math.ceil(0.2 * n),
    )
    # each part is later than the one before it
    assert prepared.fit.timestamps.max() <= prepared.validation.timestamps.min()
    assert prepared.validation.timestamps.max() <= prepared.holdout.timestamps.min()
    scored = RulesStage().score(spec.build(), prepared, spec)
    assert scored["n_evaluated"] == sum(len(b) >= 2 for b in prepared.validation.items)


@pytest.mark.parametrize("key", ["holdout_fraction", "validation_fraction"])
def test_split_shares_outside_zero_one_name_their_key(key: str, tmp_path: Path) -> None:
    # checked with the other settings when the spec is parsed, before any stage sees data
    with pytest.raises(ConfigError, match=rf"rules.settings.{key}: must be a float in the range \(0, 1\); got 1.0"):
        parse_component(compose_config([f"rules.settings.{key}=1.0"]).rules, "rules", RulesSettings)
