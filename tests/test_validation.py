"""The one validation vocabulary: every constraint kind, the message shapes, and every shipped option checked."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_one_line_error, compose_config, run_cli
from omegaconf import OmegaConf

from crmflow.config.components import parse_component
from crmflow.config.constraints import (
    Boolean,
    Date,
    Encoding,
    InstanceOf,
    Interval,
    ListOf,
    Options,
    Text,
    as_constraint,
)
from crmflow.config.validation import invalid, parse_settings, validate, validate_parameters
from crmflow.errors import ConfigError
from crmflow.forecasting.arima import ARIMAForecaster
from crmflow.forecasting.baselines import NaiveForecaster, SeasonalNaiveForecaster
from crmflow.forecasting.ets import ETSForecaster
from crmflow.forecasting.settings import ForecasterSettings
from crmflow.paths import config_dir
from crmflow.plan import plan_run
from crmflow.prediction.settings import PredictorSettings
from crmflow.preprocessing import build_preprocessor
from crmflow.rules.estimator import AssociationRules
from crmflow.rules.settings import RulesSettings
from crmflow.segmentation.rfm_scores import RFMQuantileSegmenter
from crmflow.segmentation.settings import SegmentationSettings
from crmflow.segmentation.tree_segments import DecisionTreeSegmenter
from crmflow.transformers import Log1p, OutlierClipper


def message(values: Mapping, constraints: Mapping, key: str = "k", owner: str | None = None) -> str:
    with pytest.raises(ConfigError) as raised:
        validate(values, constraints, key, owner)
    return str(raised.value)


# --- constraint kinds: what each accepts and how it reads ---------------------------------------


@pytest.mark.parametrize(
    ("constraint", "accepted", "rejected", "text"),
    [
        (Interval(int, 0, None), [0, 7, np.int64(3)], [-1, True, np.bool_(True), 1.0, "1", None], "an int in the range [0, inf)"),
        (Interval(int, 2, 10), [2, 10], [1, 11], "an int in the range [2, 10]"),
        (Interval(float, 0, 1, closed="right"), [1, 0.5, np.float32(0.25)], [0, 0.0, 1.01, False], "a float in the range (0, 1]"),
        (Interval(float, 0, 1, closed="left"), [0, 0.999], [1, 1.0], "a float in the range [0, 1)"),
        (Interval(float, 0, 0.5, closed="neither"), [0.25], [0, 0.5, math.nan], "a float in the range (0, 0.5)"),
        (Interval(float, -1, math.inf), [-1, 1e300, math.inf], [-1.5], "a float in the range [-1, inf)"),
        (Interval(float, None, -1), [-1, -5.5], [0], "a float in the range (-inf, -1]"),
        (Interval(int), [-5, 0], [1.5, False], "an int"),
        (Options(("b", "a")), ["a", "b"], ["c", None, 1], "a str among {'a', 'b'}"),
        (Options((0,)), [0], [False, 0.5, "0"], "one of {0}"),
        (Boolean(), [True, False, np.bool_(False)], [0, 1, "true", None], "an instance of 'bool'"),
        (InstanceOf(Mapping), [{}, OmegaConf.create({"a": 1})], [[], "a"], "an instance of 'Mapping'"),
        (ListOf(str), [[], ["a"], ("a", "b"), frozenset({"a"}), OmegaConf.create(["a"])], ["a", ["a", 1], None], "a list of str"),
        (ListOf(Interval(int, 1, None)), [[1, 2]], [[0], [True]], "a list whose items are each an int in the range [1, inf)"),
        (ListOf([str, Interval(int, 0, None)]), [["a", 0], []], [[-1], [1.5], "a"], "a list whose items are each an instance of 'str' or an int in the range [0, inf)"),
        (Text(), [",", "ab"], ["", None, 1], "a non-empty str"),
        (Text(1, 1, exclude=(".",)), [","], [".", ",,", ""], "a single character other than '.'"),
        (Date(), ["2023-01-01", "2023-01-01 10:00"], ["", "not a date", 2023, None], "a date string like '2023-01-01'"),
        (Encoding(), ["utf-8", "latin-1", "CP1252"], ["nope", "base64", "", None], "a text encoding such as 'utf-8', 'latin-1' or 'cp1252'"),
    ],
)  # fmt: skip
def test_each_constraint_accepts_rejects_and_describes(constraint, accepted: list, rejected: list, text: str) -> None:
    assert all(constraint.accepts(v) for v in accepted), [v for v in accepted if not constraint.accepts(v)]
    assert not any(constraint.accepts(v) for v in rejected), [v for v in rejected if constraint.accepts(v)]
    assert str(constraint) == text


def test_plain_entries_stand_for_constraints_and_bool_is_not_an_int() -> None:
    assert as_constraint(int) == Interval(int) and not as_constraint(int).accepts(True)
    assert as_constraint(float).accepts(3) and not as_constraint(float).accepts(False)
    assert as_constraint(bool) == Boolean()
    assert as_constraint(str) == InstanceOf(str) and str(as_constraint(None)) == "None"
    with pytest.raises(TypeError):
        as_constraint("boolean")  # scikit-learn's string shorthands are not ours
    with pytest.raises(TypeError):
        Interval(str, 0, 1)
    with pytest.raises(TypeError):
        Interval(int, 0, 1, closed="open")


def test_doc_replaces_the_rule_text_and_hint_is_the_fix() -> None:
    constraint = Interval(int, 1, None, doc="a positive count", hint="; e.g. 3")
    assert str(constraint) == "a positive count"
    assert message({"n": 0}, {"n": [constraint]}) == "k.n: must be a positive count; got 0; e.g. 3"


# --- message shapes -------------------------------------------------------------------------


def test_a_setting_message_names_key_rule_and_value() -> None:
    constraints = {"stability_resamples": [Interval(int, 0, None)]}
    assert (
        message({"stability_resamples": "abc"}, constraints, "segmentation.settings")
        == "segmentation.settings.stability_resamples: must be an int in the range [0, inf); got 'abc'"
    )


def test_any_constraint_in_the_list_accepts_and_none_is_named_last() -> None:
    constraints = {"max_rules": [None, Interval(int, 1, None)], "mode": [Options(("fast",)), Interval(int, 0, 3)]}
    validate({"max_rules": None, "mode": 2}, constraints, "x")
    validate({"max_rules": 5, "mode": "fast"}, constraints, "x")
    assert message({"max_rules": 0, "mode": 2}, constraints) == (
        "k.max_rules: must be an int in the range [1, inf) or None; got 0"
    )
    assert message({"max_rules": 1, "mode": 7}, constraints) == (
        "k.mode: must be a str among {'fast'} or an int in the range [0, 3]; got 7"
    )
    three = {"n": [Interval(int, 1, None), Options(("all",)), None]}
    assert message({"n": 0}, three) == "k.n: must be an int in the range [1, inf), a str among {'all'} or None; got 0"


def test_a_mistyped_option_gets_a_did_you_mean() -> None:
    constraints = {"direction": [Options(("maximize", "minimize"))]}
    assert message({"direction": "maximise"}, constraints, "tuning.objectives.rules") == (
        "tuning.objectives.rules.direction: must be a str among {'maximize', 'minimize'}; got 'maximise'; "
        "did you mean 'maximize' or 'minimize'?"
    )
    assert message({"direction": 1}, constraints).endswith("got 1")  # nothing to suggest for a number


def test_a_component_parameter_reads_like_scikit_learn_with_the_key_in_front() -> None:
    constraints = {"min_len": [Interval(int, 2, None)]}
    assert message({"min_len": 1}, constraints, "rules", owner="AssociationRules") == (
        "rules.min_len: The 'min_len' parameter of AssociationRules must be an int in the range [2, inf). "
        "Got 1 instead."
    )
    # a call argument (no config key): scikit-learn's message as it is
    assert message({"k": 0}, {"k": [Interval(int, 1, None)]}, "", owner="evaluate_recommendations") == (
        "The 'k' parameter of evaluate_recommendations must be an int in the range [1, inf). Got 0 instead."
    )
    assert str(invalid("a.b", "an int", "x", "; use 3")) == "a.b: must be an int; got 'x'; use 3"


def test_cross_field_rules_run_after_the_plain_ones() -> None:
    def max_len(values: Mapping) -> Interval:
        return Interval(int, values["min_len"], None)

    constraints = {"max_len": [max_len, None], "min_len": [Interval(int, 2, None)]}
    validate({"max_len": None, "min_len": 3}, constraints, "rules")
    validate({"max_len": 3, "min_len": 3}, constraints, "rules")
    # min_len is checked first although it is declared second, so max_len's rule may read it
    assert message({"max_len": 2, "min_len": "x"}, constraints).startswith("k.min_len: must be an int in the range")
    assert message({"max_len": 2, "min_len": 3}, constraints) == (
        "k.max_len: must be an int in the range [3, inf) or None; got 2"
    )


# --- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize("settings_type", [SegmentationSettings, RulesSettings, PredictorSettings, ForecasterSettings])
def test_every_setting_has_a_declared_rule(settings_type: type) -> None:
    assert set(settings_type.constraints) == {f.name for f in dataclasses.fields(settings_type)}


def test_parse_settings_names_unknown_and_missing_keys_before_checking_values() -> None:
    given = {"columns": None, "silhouette_sample_size": 0, "stability_resamples": 5, "max_noise_share": 0.5}
    given |= {"size_parameter": "n_clusters", "memory": "linear", "memory_budget_gib": 4.0, "fit_sample": None}
    assert parse_settings(given, SegmentationSettings, "segmentation.settings").silhouette_sample_size == 0
    with pytest.raises(ConfigError, match="segmentation.settings: unknown setting 'columnz'; did you mean 'columns'"):
        parse_settings({**given, "columnz": 1}, SegmentationSettings, "segmentation.settings")
    with pytest.raises(ConfigError, match="segmentation.settings: missing setting 'max_noise_share'"):
        parse_settings(
            {k: v for k, v in given.items() if k != "max_noise_share"}, SegmentationSettings, "segmentation.settings"
        )
    with pytest.raises(ConfigError, match=re.escape("s.max_noise_share: must be a float in the range [0, 1]; got 1.5")):
        parse_settings({**given, "max_noise_share": 1.5}, SegmentationSettings, "s")
    with pytest.raises(ConfigError, match=re.escape("s.silhouette_sample_size: must be an int in the range [2, inf)")):
        parse_settings({**given, "silhouette_sample_size": 1}, SegmentationSettings, "s")
    with pytest.raises(ConfigError, match=re.escape("s.columns: must be a list of str or None; got 'recency'")):
        parse_settings({**given, "columns": "recency"}, SegmentationSettings, "s")
    with pytest.raises(ConfigError, match="stage takes no settings"):
        parse_settings({"a": 1}, None, "s")


STABILITY = "segmentation.settings.stability_resamples: must be an int in the range [0, inf); got 'abc'"


def test_a_bad_segmentation_setting_is_one_config_error_in_the_plan() -> None:
    with pytest.raises(ConfigError) as raised:
        plan_run(compose_config(["segmentation.settings.stability_resamples=abc"]))
    assert str(raised.value) == STABILITY


def test_a_bad_segmentation_setting_is_one_line_from_the_cli(tmp_path: Path) -> None:
    result = run_cli("segmentation.settings.stability_resamples=abc", cwd=tmp_path)
    assert_one_line_error(result, STABILITY, tmp_path)


def test_forecaster_holdout_folds_depend_on_folds() -> None:
    node = OmegaConf.to_container(compose_config(["forecaster=naive"]).forecaster, resolve=True)
    node["settings"].update(folds=4, holdout_folds=4)
    expected = "forecaster.settings.holdout_folds: must be an int in the range [0, folds - 1] = [0, 3]; got 4"
    with pytest.raises(ConfigError, match=re.escape(expected)):
        parse_component(node, "forecaster", ForecasterSettings)


# --- components -------------------------------------------------------------------------------

CRMFLOW_COMPONENTS = [
    AssociationRules,
    ARIMAForecaster,
    ETSForecaster,
    SeasonalNaiveForecaster,
    NaiveForecaster,
    RFMQuantileSegmenter,
    DecisionTreeSegmenter,
    OutlierClipper,
    Log1p,
]


@pytest.mark.parametrize("cls", CRMFLOW_COMPONENTS, ids=lambda c: c.__name__)
def test_crmflow_components_declare_a_rule_for_every_parameter(cls: type) -> None:
    component = cls()
    assert set(component.get_params()) <= set(cls._parameter_constraints)
    assert all(hasattr(component, name) for name in cls._parameter_constraints)
    validate_parameters(component, "group")  # the defaults are valid


@pytest.mark.parametrize(
    ("component", "expected"),
    [
        (
            AssociationRules(metric="lift", min_threshold=-1),
            "rules.min_threshold: The 'min_threshold' parameter of AssociationRules must be a float in the "
            "range [0, inf) for metric='lift'. Got -1 instead.",
        ),
        (
            ETSForecaster(seasonal="add", seasonal_period=1),
            "forecaster.seasonal_period: The 'seasonal_period' parameter of ETSForecaster must be an int in the "
            "range [2, inf) with seasonal='add'. Got 1 instead; set forecaster.settings.seasonal_period, or "
            "forecaster.seasonal=null",
        ),
        (
            DecisionTreeSegmenter(criterion="ginni"),
            "segmentation.criterion: The 'criterion' parameter of DecisionTreeSegmenter must be a str among "
            "{'absolute_error', 'entropy', 'friedman_mse', 'gini', 'log_loss', 'poisson', 'squared_error'} or "
            "None. Got 'ginni' instead; did you mean 'gini'?",
        ),
        (
            RFMQuantileSegmenter(bins=1),
            "segmentation.bins: The 'bins' parameter of RFMQuantileSegmenter must be an int in the range "
            "[2, inf). Got 1 instead.",
        ),
    ],
)
def test_validate_parameters_uses_the_crmflow_declaration(component: object, expected: str) -> None:
    group = expected.partition(".")[0]
    with pytest.raises(ConfigError) as raised:
        validate_parameters(component, group)
    assert str(raised.value) == expected


def test_validate_parameters_turns_scikit_learn_errors_into_config_errors() -> None:
    from sklearn.cluster import KMeans

    with pytest.raises(ConfigError) as raised:
        validate_parameters(KMeans(n_clusters="abc"), "segmentation")
    assert str(raised.value) == (
        "segmentation.n_clusters: The 'n_clusters' parameter of KMeans must be an int in the range [1, inf). "
        "Got 'abc' instead."
    )
    assert isinstance(raised.value.__cause__, ValueError)
    validate_parameters(KMeans(n_clusters=3), "segmentation")
    validate_parameters(object(), "segmentation")  # nothing declared: nothing to check


def test_validate_parameters_checks_an_estimator_given_as_a_parameter() -> None:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import SVC

    with pytest.raises(ConfigError, match=r"^predictor.estimator.C: The 'C' parameter of SVC must be a float"):
        validate_parameters(CalibratedClassifierCV(SVC(C=-1)), "predictor")
    with pytest.raises(ConfigError, match=r"^The 'C' parameter of SVC"):
        validate_parameters(SVC(C=-1), "")  # no key: scikit-learn's message as it is


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (config_dir() / group).glob("*.yaml") if p.stem not in ("_settings", "none"))


STAGE_OPTIONS = [(g, o) for g in ("segmentation", "rules", "predictor", "forecaster") for o in _options(g)]


@pytest.mark.parametrize(("group", "option"), STAGE_OPTIONS, ids=[f"{g}={o}" for g, o in STAGE_OPTIONS])
def test_every_shipped_option_builds_valid_parameters(group: str, option: str) -> None:
    plan = plan_run(compose_config([f"{group}={option}"]))
    (spec,) = [spec for stage, spec in plan.stages if stage.name == group]
    validate_parameters(spec.build(), group)


@pytest.mark.parametrize("option", _options("preprocessing"))
def test_every_preprocessing_step_has_valid_parameters(option: str) -> None:
    preprocessor = build_preprocessor(OmegaConf.to_container(compose_config([f"preprocessing={option}"]).preprocessing))
    steps = {name: value for name, value in preprocessor.get_params(deep=True).items() if hasattr(value, "get_params")}
    for name, step in steps.items():
        validate_parameters(step, f"preprocessing.{name}")
