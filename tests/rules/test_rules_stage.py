"""The rules stage on the synthetic data: planted associations make rules beat the popularity baseline."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from helpers import compose_config

from crmflow.config.components import parse_component
from crmflow.data.synthetic import SyntheticCRM
from crmflow.errors import DataError
from crmflow.rules.stage import RulesSettings, RulesStage
from crmflow.stages.base import RunContext


def context(data, folder: Path) -> RunContext:
    return RunContext(data, None, {}, seed=0, artifact_dir=folder)


def test_default_rules_beat_the_popularity_baseline(tmp_path: Path) -> None:
    node = compose_config().rules
    spec = parse_component(node, "rules", RulesSettings)
    stage = RulesStage()
    ctx = context(SyntheticCRM(n_customers=1500, seed=3).load(), tmp_path)
    stage.check(spec, ctx)
    prepared = stage.prepare(spec, ctx)
    result = stage.finalize(spec.build(), prepared, spec, ctx)
    assert result.metrics["hit_rate_at_5"] > result.metrics["baseline_hit_rate_at_5"] + 0.05
    assert result.metrics["coverage"] > 0.9
    assert {p.name for p in result.artifacts} == {
        "rules.csv", "rules_scatter.png", "top_rules_by_lift.md", "evaluation_vs_baseline.csv"}
    assert result.metrics["n_rules"] == len(pd.read_csv(tmp_path / "rules.csv"))  # mined on all baskets
    assert (tmp_path / "top_rules_by_lift.md").read_text().startswith("Top 20 of ")


def test_data_without_items_is_refused_before_mining(tmp_path: Path) -> None:
    data = SyntheticCRM(n_customers=50).load()
    data.transactions = data.transactions.drop(columns="item")
    spec = parse_component(compose_config().rules, "rules", RulesSettings)
    with pytest.raises(DataError, match="rules: the data has no 'item' column"):
        RulesStage().check(spec, context(data, tmp_path))
