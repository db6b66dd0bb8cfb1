"""Stages as plug-ins: a light contract, stages from the config, declared hand-offs, pinned parameters."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import compose_config, run_cli
from mlflow.tracking import MlflowClient

from crmflow.config.pinning import override_keys, pinned_parameters, recipe_keys
from crmflow.config.tuning import Budget, TuningSettings
from crmflow.errors import ConfigError
from crmflow.plan import plan_run

TOY_STAGE = '''
"""A plug-in stage written outside crmflow: counts the customers per segment, scaled."""
from dataclasses import dataclass

from crmflow.stages.contract import Stage, StageResult


class Scaler:
    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale


@dataclass
class ToySettings:
    per_segment: bool


class ToyStage(Stage):
    name = "toy"
    settings_type = ToySettings

    def requires(self, spec):
        return {"segments": "toy.settings.per_segment"} if spec.settings.per_segment else {}

    def metric_names(self, spec):
        return ["score", "n_segments_seen"]

    def prepare(self, spec, state):
        return len(state.table.X)

    def score(self, estimator, prepared, spec):
        return {"score": -abs(estimator.scale - 0.5), "n_segments_seen": 0.0}

    def finalize(self, estimator, prepared, spec, state, tuned):
        seen = float(state.segments.labels.nunique()) if state.segments is not None else 0.0
        path = state.artifact_dir / "toy.txt"
        path.write_text(f"{prepared} customers, scale {estimator.scale}, tuned: {tuned is not None}")
        return StageResult({**self.score(estimator, prepared, spec), "n_segments_seen": seen}, [path])
'''


def _toy_plugin(root: Path) -> Path:
    """A package `toy_plugin` and a user config dir with the group `toy` (options `count`, `none`)."""
    (root / "toy_plugin").mkdir()
    (root / "toy_plugin" / "__init__.py").write_text(textwrap.dedent(TOY_STAGE))
    group = root / "conf" / "toy"
    group.mkdir(parents=True)
    (group / "none.yaml").write_text("_target_: null\n")
    (group / "count.yaml").write_text(
        "_target_: toy_plugin.Scaler\nscale: 0.9\nsettings: {per_segment: true}\n"
        "search_space:\n  scale: {type: float, low: 0.1, high: 1.0}\n"
    )
    return root / "conf"


def test_the_contract_imports_neither_mlflow_nor_optuna() -> None:
    """The stage contract and the classification-or-regression strategy stay light."""
    code = (
        "import sys, crmflow.stages.contract, crmflow.prediction.task, crmflow.config.tuning; "
        "print(sorted(m for m in ('mlflow', 'optuna') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_stages_come_from_the_config_in_order() -> None:
    plan = plan_run(compose_config(["forecaster=naive"]))
    assert [stage.name for stage, _ in plan.stages] == ["segmentation", "rules", "predictor", "forecaster"]
    plan = plan_run(compose_config(["~stages.rules", "~rules", "~tuning.objectives.rules", "forecaster=naive"]))
    assert [stage.name for stage, _ in plan.stages] == ["segmentation", "predictor", "forecaster"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["+stages.toy=os.system"], "stages.toy: 'os.system' is not allowed"),
        (
            ["+stages.toy=sklearn.utils._testing.check_output"],
            "stages.toy: 'sklearn.utils._testing.check_output' is not",
        ),
        (["+stages.toy=crmflow.rules.stage.RulesStage"], "stages.toy: crmflow.rules.stage.RulesStage is the stage"),
        (["+stages.toy=crmflow.errors.ConfigError"], "stages.toy: crmflow.errors.ConfigError is not a crmflow stage"),
        (["+toy=1"], "unknown top-level key 'toy'"),
    ],
)
def test_a_bad_stage_entry_is_one_config_error(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        plan_run(compose_config(overrides))


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["rules.settings.per_segment=true"], "rules.settings.per_segment"),
        (["forecaster=naive", "forecaster.settings.per_segment=true"], "forecaster.settings.per_segment"),
    ],
)
def test_a_missing_hand_off_names_the_key_and_the_provider(overrides: list[str], key: str) -> None:
    message = f"{key} needs segment labels: segmentation=none; choose a segmentation option, e.g. segmentation=kmeans"
    with pytest.raises(ConfigError, match=message):
        plan_run(compose_config(["segmentation=none", *overrides]))
    plan_run(compose_config(overrides))  # with a segmentation, the same config plans


def test_override_and_recipe_keys() -> None:
    assert override_keys(["rules.min_support=25", "+rules.x=1", "++a.b=2", "~rules.y", "rules=apriori"]) == {
        "rules.min_support",
        "rules.x",
        "a.b",
        "rules",
    }
    recipe = {"defaults": [{"override /rules": "apriori"}], "rules": {"min_support": 0.01, "search_space": {}}}
    assert recipe_keys(recipe) == {"rules.min_support", "rules.search_space"}


def test_pinned_parameters() -> None:
    tunable = ["min_support", "min_threshold", "estimator__C"]
    keys = {"rules.min_support", "rules.settings.k", "segmentation.min_threshold"}
    assert pinned_parameters("rules", keys, tunable) == ["min_support"]
    assert pinned_parameters("predictor", {"predictor.estimator.C"}, tunable) == ["estimator__C"]
    ranged = {"rules.min_support", "rules.search_space.min_support.low"}
    assert pinned_parameters("rules", ranged, tunable) == []  # a recipe giving a range asks for tuning
    assert pinned_parameters("rules", {"rules.min_support", "rules.search_space"}, tunable) == []


def test_a_parameter_set_by_hand_leaves_the_search_space(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="crmflow.plan")
    overrides = ["rules.min_support=25", "rules.metric=lift", "rules.min_threshold=2"]
    plan = plan_run(compose_config(overrides), override_keys(overrides))
    spec = dict((stage.name, spec) for stage, spec in plan.stages)["rules"]
    assert not spec.search_space and spec.params["min_support"] == 25 and spec.params["min_threshold"] == 2
    assert (
        "rules.min_support pinned to 25, rules.min_threshold pinned to 2; nothing left to tune: one fit" in caplog.text
    )
    plan = plan_run(compose_config(["rules.min_support=25"]), {"rules.min_support"})
    spec = dict((stage.name, spec) for stage, spec in plan.stages)["rules"]
    assert spec.search_space.names == ["min_threshold"]


def test_per_stage_budgets() -> None:
    node = {"n_trials": 5, "timeout": None, "stages": {"rules": {"n_trials": 1}, "predictor": {"timeout": 30}}}
    settings = TuningSettings.parse({**node, "objectives": {"rules": {"metric": "n_rules"}}}, ["rules", "predictor"])
    assert settings.budget("rules") == Budget(1, None)
    assert settings.budget("predictor") == Budget(5, 30)
    assert settings.budget("segmentation") == Budget(5, None)
    assert settings.wants("rules") and not settings.wants("predictor")
    with pytest.raises(ConfigError, match="tuning.stages: unknown stage 'rule'; did you mean 'rules'"):
        TuningSettings.parse({"stages": {"rule": {"n_trials": 1}}}, ["rules"])
    with pytest.raises(ConfigError, match="tuning.stages.rules: unknown key 'trials'"):
        TuningSettings.parse({"stages": {"rules": {"trials": 1}}}, ["rules"])


@pytest.mark.slow
def test_cli_runs_exactly_the_rule_parameters_asked_for(tmp_path: Path) -> None:
    """README's `rules.min_support=25 rules.metric=lift rules.min_threshold=2`: every logged rule has lift >= 2."""
    store = f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    args = ["rules.min_support=25", "rules.metric=lift", "rules.min_threshold=2", "segmentation=none"]
    args += ["predictor=none", "data.n_customers=400", "tuning.n_trials=3", f"tracking.uri={store}"]
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    client = MlflowClient(store)
    (run,) = client.search_runs([client.get_experiment_by_name("synthetic").experiment_id])
    assert run.data.params["rules.min_support"] == "25" and run.data.params["rules.min_threshold"] == "2"
    assert not [p for p in run.data.params if p.startswith("rules.best.")]
    assert "rules.tuning.n_trials_complete" not in run.data.metrics  # nothing left to tune: one fit
    import pandas as pd

    rules = pd.read_csv(client.download_artifacts(run.info.run_id, "rules/rules.csv", str(tmp_path)))
    assert len(rules) and (rules["lift"] >= 2).all() and (rules["support_count"] >= 25).all()


@pytest.mark.slow
def test_a_toy_stage_from_a_user_config_dir_runs_end_to_end(tmp_path: Path) -> None:
    conf = _toy_plugin(tmp_path)
    store = f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    args = ["--config-dir", str(conf), "+toy=count", "+stages.toy=toy_plugin.ToyStage", "allowed_packages=[toy_plugin]"]
    args += ["+tuning.objectives.toy={metric: score, direction: maximize}", "tuning.n_trials=3", "rules=none"]
    args += ["predictor=none", "data.n_customers=300", "tuning.stages.segmentation.n_trials=1", f"tracking.uri={store}"]
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    client = MlflowClient(store)
    runs = client.search_runs([client.get_experiment_by_name("synthetic").experiment_id])
    (run,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert run.data.metrics["toy.n_segments_seen"] == run.data.metrics["segmentation.n_segments"]
    assert run.data.metrics["toy.tuning.n_trials_complete"] == 3
    assert run.data.metrics["segmentation.tuning.n_trials_complete"] == 1
    text = Path(client.download_artifacts(run.info.run_id, "toy/toy.txt", str(tmp_path))).read_text()
    assert text.endswith("tuned: True") and "toy.best.scale" in run.data.params


def test_a_toy_stage_without_its_hand_off_stops_before_any_data(tmp_path: Path) -> None:
    conf = _toy_plugin(tmp_path)
    args = ["--config-dir", str(conf), "+toy=count", "+stages.toy=toy_plugin.ToyStage", "allowed_packages=[toy_plugin]"]
    result = run_cli(*args, "segmentation=none", cwd=tmp_path)
    assert result.returncode == 2
    assert (
        "toy.settings.per_segment needs segment labels: segmentation=none; choose a segmentation option"
        in result.stderr
    )
    assert not (tmp_path / "mlruns").exists()


def test_a_pinned_value_is_type_checked_like_any_value() -> None:
    """`segmentation.n_clusters=abc` is no longer drawn over while tuning: it is pinned, and refused."""
    overrides = ["segmentation.n_clusters=abc"]
    with pytest.raises(ConfigError, match=r"segmentation.n_clusters: The 'n_clusters' parameter of KMeans must be"):
        plan_run(compose_config(overrides), override_keys(overrides))


def test_recipe_keys_follow_the_search_path_and_nested_recipes(tmp_path: Path) -> None:
    from crmflow.config.experiments import STORE, recipe_keys, register_experiments

    register_experiments()
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "base.yaml").write_text("# @package _global_\nrules: {max_len: 3}\n")
    (tmp_path / "experiment" / "mine.yaml").write_text(
        "# @package _global_\ndefaults: [/experiment/base, online_retail]\nrules: {min_support: 0.05}\n"
    )
    keys = recipe_keys("mine", [tmp_path, STORE])
    assert {"rules.min_support", "rules.max_len", "data.transactions.path"} <= keys
    (tmp_path / "experiment" / "groceries.yaml").write_text("# @package _global_\nrules: {min_len: 3}\n")
    assert recipe_keys("groceries", [tmp_path, STORE]) == {"rules.min_len"}  # the user's recipe comes first
    assert "rules.min_threshold" in recipe_keys("groceries", [STORE, tmp_path])
