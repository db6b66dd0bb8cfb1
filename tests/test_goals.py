"""Multi-objective goals and constraints as configured: list objectives, the select rule, metric bounds, and
one error line naming the key for every bad entry."""

from __future__ import annotations

import math
import re

import pytest
from omegaconf import OmegaConf

from crmflow.config.goals import (
    Constraint,
    Objective,
    check_metric_names,
    check_select,
    parse_constraints,
    parse_objective_list,
    parse_select,
    parse_select_node,
)
from crmflow.errors import ConfigError

KEY = "tuning.objectives.segmentation"
STAGES = ["segmentation", "rules", "prediction"]
SEGMENTATION = (Objective("silhouette", "maximize"), Objective("stability", "maximize"))
RULES = (Objective("hit_rate_at_5", "maximize"), Objective("n_rules", "minimize"))


def test_a_list_of_objectives_defaults_to_maximize() -> None:
    entry = [{"metric": "silhouette"}, {"metric": "noise_share", "direction": "minimize"}]
    assert parse_objective_list(entry, KEY) == (
        Objective("silhouette", "maximize"),
        Objective("noise_share", "minimize"),
    )


def test_a_list_from_omegaconf_is_read_like_a_list() -> None:
    node = OmegaConf.create({"o": [{"metric": "hit_rate_at_5"}, {"metric": "n_rules", "direction": "minimize"}]})
    assert parse_objective_list(node.o, "tuning.objectives.rules") == RULES


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            [],
            f"{KEY}: expected a non-empty list of mappings such as {{metric: silhouette, direction: maximize}}; got []",
        ),
        (
            ["silhouette"],
            f"{KEY}[0]: expected a mapping such as {{metric: silhouette, direction: maximize}}; got 'silhouette'",
        ),
        ([{"metric": "a"}, {"metirc": "b"}], f"{KEY}[1]: unknown key 'metirc'; did you mean 'metric'?"),
        (
            [{"metric": "a"}, {"metric": "b", "direction": "maximise"}],
            f"{KEY}[1].direction: must be a str among {{'maximize', 'minimize'}}; got 'maximise'; did you mean 'maximize' or 'minimize'?",
        ),
        ([{"direction": "minimize"}], f"{KEY}[0].metric: must be a non-empty str; got None"),
        ([{"metric": ""}], f"{KEY}[0].metric: must be a non-empty str; got ''"),
        (
            [{"metric": "a"}, {"metric": "a", "direction": "minimize"}],
            f"{KEY}[1].metric: 'a' is already {KEY}[0]; list each once",
        ),
        (
            [{"metric": "a"}, {"metric": "auto"}],
            f"{KEY}[1].metric: 'auto' stands alone ({KEY}: {{metric: auto}}); a list names its metrics",
        ),
    ],
    ids=["empty", "not-a-mapping", "unknown-key", "bad-direction", "no-metric", "empty-metric", "duplicate", "auto"],
)
def test_a_bad_objective_list_names_its_key(entry: list, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_objective_list(entry, KEY)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_select_takes_a_rule_or_a_metric_name() -> None:
    assert parse_select(None) == "first"
    assert parse_select("knee") == "knee"
    assert parse_select(" stability ") == "stability"
    for bad in ("", 3, ["knee"]):
        with pytest.raises(
            ConfigError, match=r"^tuning\.select: must be 'first', 'knee' or the name of an objective metric; got "
        ):
            parse_select(bad)


def test_select_may_name_a_rule_per_stage() -> None:
    assert parse_select_node("knee", STAGES) == "knee"
    assert parse_select_node({"rules": "n_rules"}, STAGES) == {"rules": "n_rules"}
    with pytest.raises(ConfigError, match=r"^tuning\.select: unknown stage 'rule'; did you mean 'rules'\?$"):
        parse_select_node({"rule": "knee"}, STAGES)
    with pytest.raises(ConfigError, match=r"^tuning\.select\.rules: must be "):
        parse_select_node({"rules": 1}, STAGES)


def test_a_metric_rule_must_be_an_objective_of_each_multi_objective_stage() -> None:
    single = (Objective("roc_auc", "maximize"),)
    check_select("knee", {"segmentation": SEGMENTATION, "rules": RULES})
    check_select("stability", {"segmentation": SEGMENTATION, "prediction": single})  # one objective: no rule
    check_select({"rules": "n_rules"}, {"segmentation": SEGMENTATION, "rules": RULES})  # segmentation: first
    with pytest.raises(ConfigError) as caught:
        check_select("stabilty", {"segmentation": SEGMENTATION})
    assert str(caught.value) == (
        "tuning.select: 'stabilty' is neither first, knee nor an objective of segmentation "
        "(its objectives: silhouette, stability); did you mean 'stability'?"
    )
    with pytest.raises(
        ConfigError,
        match=r"^tuning\.select: 'stability' is neither .* of rules \(its objectives: hit_rate_at_5, n_rules\)",
    ):
        check_select("stability", {"segmentation": SEGMENTATION, "rules": RULES})
    with pytest.raises(ConfigError, match=r"^tuning\.select\.rules: 'silhouette' is neither "):
        check_select({"rules": "silhouette"}, {"segmentation": SEGMENTATION, "rules": RULES})


def test_constraints_parse_from_strings() -> None:
    node = {
        "segmentation": ["smallest_segment_share >= 0.02", "noise_share<=0.3"],
        "rules": "n_rules <= 200",
        "prediction": [],
    }
    assert parse_constraints(node, STAGES) == {
        "segmentation": (Constraint("smallest_segment_share", ">=", 0.02), Constraint("noise_share", "<=", 0.3)),
        "rules": (Constraint("n_rules", "<=", 200.0),),
    }
    assert parse_constraints(None, STAGES) == {}
    assert parse_constraints(OmegaConf.create({"rules": ["n_rules <= 1e3"]}), STAGES) == {
        "rules": (Constraint("n_rules", "<=", 1000.0),)
    }


def test_a_constraint_reads_back_as_written() -> None:
    assert str(Constraint("smallest_segment_share", ">=", 0.02)) == "smallest_segment_share >= 0.02"
    assert str(Constraint("n_rules", "<=", 200.0)) == "n_rules <= 200"
    assert str(Constraint("x", ">=", 0.123456789)) == "x >= 0.123456789"
    assert str(Constraint("x", "<=", -1e-5)) == "x <= -1e-05"


def test_a_violation_is_how_far_the_bound_is_broken() -> None:
    at_least = Constraint("smallest_segment_share", ">=", 0.02)
    at_most = Constraint("noise_share", "<=", 0.3)
    assert at_least.violation(0.05) == pytest.approx(-0.03)
    assert at_least.violation(0.02) == 0.0  # on the bound: feasible
    assert at_least.violation(0.0) == pytest.approx(0.02)
    assert at_most.violation(0.1) == pytest.approx(-0.2)
    assert at_most.violation(0.3) == 0.0
    assert at_most.violation(0.5) == pytest.approx(0.2)
    assert at_least.violation(math.nan) == math.inf  # Optuna refuses NaN: a missing metric is infeasible
    assert at_most.violation(math.nan) == math.inf


C = "tuning.constraints.segmentation"


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"segmentaton": ["x >= 1"]}, "tuning.constraints: unknown stage 'segmentaton'; did you mean 'segmentation'?"),
        ({"segmentation": 0.02}, f"{C}: expected a list of 'METRIC >= NUMBER' or 'METRIC <= NUMBER' strings; got 0.02"),
        (
            {"segmentation": ["x >= 1", "smallest_segment_share"]},
            f"{C}[1]: expected 'METRIC >= NUMBER' or 'METRIC <= NUMBER'; got 'smallest_segment_share'",
        ),
        ({"segmentation": ["x >="]}, f"{C}[0]: expected 'METRIC >= NUMBER' or 'METRIC <= NUMBER'; got 'x >='"),
        ({"segmentation": [{"x": 1}]}, f"{C}[0]: expected 'METRIC >= NUMBER' or 'METRIC <= NUMBER'; got {{'x': 1}}"),
        (
            {"segmentation": ["x > 0.2"]},
            f"{C}[0]: operator '>' is not accepted in 'x > 0.2'; use >= or <= (e.g. 'x >= 0.2')",
        ),
        (
            {"segmentation": ["x => 0.2"]},
            f"{C}[0]: operator '=>' is not accepted in 'x => 0.2'; use >= or <= (e.g. 'x >= 0.2')",
        ),
        (
            {"segmentation": ["x == 0.2"]},
            f"{C}[0]: operator '==' is not accepted in 'x == 0.2'; use >= or <= (e.g. 'x >= 0.2')",
        ),
        (
            {"segmentation": ["x >= abc"]},
            f"{C}[0]: bound 'abc' is not a finite number in 'x >= abc'; expected 'METRIC >= NUMBER' or 'METRIC <= NUMBER'",
        ),
        (
            {"segmentation": ["x <= nan"]},
            f"{C}[0]: bound 'nan' is not a finite number in 'x <= nan'; expected 'METRIC >= NUMBER' or 'METRIC <= NUMBER'",
        ),
        ({"segmentation": ["x >= 0.2", "x>=0.2"]}, f"{C}[1]: 'x >= 0.2' repeats {C}[0]; list each once"),
    ],
    ids=[
        "unknown-stage",
        "not-a-list",
        "no-operator",
        "no-bound",
        "not-a-string",
        "strict",
        "reversed",
        "equal",
        "not-a-number",
        "nan",
        "duplicate",
    ],
)
def test_a_bad_constraint_names_its_key(node: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_constraints(node, STAGES)
    assert str(caught.value) == message


KNOWN = ["silhouette", "stability", "smallest_segment_share", "noise_share"]


def test_metric_names_are_checked_against_what_the_stage_reports() -> None:
    constraints = (Constraint("noise_share", "<=", 0.3),)
    check_metric_names("segmentation", SEGMENTATION, constraints, KNOWN)
    check_metric_names("segmentation", (Objective("auto", "auto"),), (), KNOWN)  # resolved by the plan
    listed = (SEGMENTATION[0], Objective("stabilty", "maximize"))
    with pytest.raises(ConfigError) as caught:
        check_metric_names("segmentation", listed, (), KNOWN)
    assert str(caught.value) == (
        "tuning.objectives.segmentation[1].metric: unknown metric 'stabilty' for segmentation; did you mean "
        "'stability'? (known: silhouette, stability, smallest_segment_share, noise_share)"
    )
    with pytest.raises(ConfigError, match=r"^tuning\.objectives\.segmentation\.metric: unknown metric 'silhuette'"):
        check_metric_names("segmentation", (Objective("silhuette", "maximize"),), (), KNOWN)
    with pytest.raises(ConfigError, match=re.escape("tuning.objectives.segmentation[0].metric: unknown metric 'x'")):
        check_metric_names("segmentation", (Objective("x", "maximize"),), (), KNOWN, listed=True)
    bad = (constraints[0], Constraint("smallest_share", ">=", 0.02))
    with pytest.raises(ConfigError) as caught:
        check_metric_names("segmentation", SEGMENTATION, bad, KNOWN)
    assert str(caught.value) == (
        "tuning.constraints.segmentation[1]: unknown metric 'smallest_share' in 'smallest_share >= 0.02'; "
        "did you mean 'smallest_segment_share' or 'noise_share'? (known: silhouette, stability, smallest_segment_share, noise_share)"
    )
