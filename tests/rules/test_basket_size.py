"""rules.max_basket_size drops outlier baskets before mining (rules.n_baskets_dropped) or truncates them
(rules.n_baskets_truncated); bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import assert_one_line_error, compose_config, run_cli

from crmflow.config.components import parse_component
from crmflow.data.synthetic import SyntheticCRM
from crmflow.errors import ConfigError, DataError
from crmflow.rules import AssociationRules, Baskets
from crmflow.rules.stage import RulesSettings, RulesStage
from crmflow.stages.contract import RunState

# {a, b} in 3 of 4 small baskets; one wholesale basket of 5 items
ROWS = [{"a", "b"}] * 3 + [{"a", "c"}] + [{"a", "b", "c", "d", "e"}]


def baskets(rows: list[set[str]] = ROWS) -> Baskets:
    return Baskets(items=[frozenset(row) for row in rows])


@pytest.mark.parametrize("algorithm", ["eclat", "fpgrowth", "apriori"])
def test_baskets_above_the_size_are_dropped_before_mining(algorithm: str) -> None:
    miner = AssociationRules(algorithm=algorithm, min_support=1, min_threshold=0.1, max_basket_size=4).fit(baskets())
    assert (miner.n_baskets_, miner.n_baskets_dropped_) == (4, 1)
    counts = dict(zip(miner.itemsets_["itemsets"], miner.itemsets_["support_count"]))
    assert counts[frozenset("ab")] == 3 and frozenset("d") not in counts and counts[frozenset("a")] == 4
    assert miner.item_support_["a"] == 1.0 and "d" not in miner.items_
    kept_all = AssociationRules(algorithm=algorithm, min_support=1, min_threshold=0.1).fit(baskets())
    assert (kept_all.n_baskets_, kept_all.n_baskets_dropped_) == (5, 0)
    assert AssociationRules(min_support=1, max_basket_size=5).fit(baskets()).n_baskets_dropped_ == 0


@pytest.mark.parametrize("engine", ["crmflow", "mlxtend"])
def test_truncate_keeps_the_most_frequent_items_of_an_oversize_basket(engine: str) -> None:
    # item counts over all 5 baskets: a 5, b 4, c 2, d 1, e 1; the big basket keeps a, b, c (ties by name)
    miner = AssociationRules(
        algorithm="fpgrowth", engine=engine, min_support=1, min_threshold=0.1, max_basket_size=3,
        oversize_baskets="truncate",
    ).fit(baskets())  # fmt: skip
    assert (miner.n_baskets_, miner.n_baskets_dropped_, miner.n_baskets_truncated_) == (5, 0, 1)
    counts = dict(zip(miner.itemsets_["itemsets"], miner.itemsets_["support_count"]))
    assert counts[frozenset("abc")] == 1 and counts[frozenset("ab")] == 4 and counts[frozenset("ac")] == 2
    assert "d" not in miner.items_ and "e" not in miner.items_
    assert AssociationRules(max_basket_size=5, oversize_baskets="truncate").fit(baskets()).n_baskets_truncated_ == 0


def test_a_size_below_two_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"'max_basket_size' parameter of AssociationRules must be an int in the range \[2, inf\) or None\. Got 1"):  # fmt: skip
        AssociationRules(max_basket_size=1).fit(baskets())


def test_dropping_every_basket_is_a_data_error_naming_the_key() -> None:
    with pytest.raises(DataError, match=r"^rules.max_basket_size: all 2 baskets have more than 2 items"):
        AssociationRules(max_basket_size=2).fit(baskets([{"a", "b", "c"}, {"a", "b", "d"}]))


def test_the_cli_refuses_a_size_below_two_in_one_line(tmp_path: Path) -> None:
    result = run_cli("data.n_customers=300", "predictor=none", "tuning=off", "rules.max_basket_size=1", cwd=tmp_path)
    assert_one_line_error(
        result, "rules.max_basket_size: The 'max_basket_size' parameter of AssociationRules", tmp_path
    )


def _state(data, folder: Path) -> RunState:
    return RunState(data, None, {}, seed=0, artifact_dir=folder)


def test_the_stage_logs_the_dropped_baskets(tmp_path: Path) -> None:
    spec = parse_component(compose_config(["rules=eclat", "rules.max_basket_size=3"]).rules, "rules", RulesSettings)
    stage, state = RulesStage(), _state(SyntheticCRM(n_customers=300, seed=3).load(), tmp_path)
    assert "n_baskets_dropped" in stage.metric_names(spec)
    stage.check(spec, state)
    prepared = stage.prepare(spec, state)
    result = stage.finalize(spec.build(), prepared, spec, state, None)
    expected = sum(len(basket) > 3 for basket in prepared.baskets.items)
    assert result.metrics["n_baskets_dropped"] == expected > 0 and result.metrics["n_baskets_truncated"] == 0
    spec = parse_component(
        compose_config(["rules=eclat", "rules.max_basket_size=3", "rules.oversize_baskets=truncate"]).rules,
        "rules", RulesSettings,
    )  # fmt: skip
    result = stage.finalize(spec.build(), prepared, spec, state, None)
    assert result.metrics["n_baskets_truncated"] == expected and result.metrics["n_baskets_dropped"] == 0


@pytest.mark.parametrize("option", ["eclat", "fpgrowth"])
def test_data_without_items_is_refused_before_mining(option: str, tmp_path: Path) -> None:
    data = SyntheticCRM(n_customers=50).load()
    data.transactions = data.transactions.drop(columns="item")
    spec = parse_component(compose_config([f"rules={option}"]).rules, "rules", RulesSettings)
    with pytest.raises(DataError, match="^rules: the data has no 'item' column"):
        RulesStage().check(spec, _state(data, tmp_path))
