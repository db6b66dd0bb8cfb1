"""Task detection, metrics, thresholds, settings and bad targets, on tiny inputs with hand-computed answers."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import compose_config

from crmflow.config.components import parse_component
from crmflow.data.base import CRMData
from crmflow.errors import ConfigError, DataError
from crmflow.features.table import CustomerTable
from crmflow.plan import plan_run
from crmflow.prediction.metrics import (
    classification_metrics,
    f1_optimal_threshold,
    regression_metrics,
)
from crmflow.prediction.settings import PredictorSettings
from crmflow.prediction.stage import PredictorStage
from crmflow.prediction.task import CLASSIFICATION, REGRESSION, task_of
from crmflow.run import _load, run
from crmflow.stages.contract import RunState

SETTINGS = {
    "cv_folds": 2,
    "holdout_fraction": 0.0,
    "threshold": 0.5,
    "segment_feature": False,
    "permutation_repeats": 1,
    "target_transform": "none",
    "n_jobs": 1,
}


def spec(target: str, **params: object):
    return parse_component({"_target_": target, **params, "settings": SETTINGS}, "predictor", PredictorSettings)


def context(y: pd.Series, tmp_path: Path) -> RunState:
    X = pd.DataFrame({"x": np.arange(len(y), dtype=float)}, index=y.index)
    return RunState(CRMData("toy"), CustomerTable(X, y), {}, 0, tmp_path)


def test_task_follows_the_estimator_class() -> None:
    assert task_of(spec("sklearn.linear_model.LogisticRegression")) is CLASSIFICATION
    assert task_of(spec("sklearn.linear_model.Ridge")) is REGRESSION
    with pytest.raises(ConfigError, match="StandardScaler is neither a scikit-learn classifier nor a regressor"):
        task_of(spec("sklearn.preprocessing.StandardScaler"))


def test_a_classifier_without_probabilities_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="predictor: LinearSVC has no predict_proba"):
        task_of(spec("sklearn.svm.LinearSVC"))


def test_classification_metrics_by_hand() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.6, 0.4, 0.9])
    at_half = classification_metrics(y, p, 0.5)
    assert at_half["roc_auc"] == 0.75  # 3 of the 4 positive-negative pairs are ordered correctly
    assert (at_half["accuracy"], at_half["precision"], at_half["recall"], at_half["f1"]) == (0.5, 0.5, 0.5, 0.5)
    assert at_half["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.4, 0.4, 0.9])))
    at_04 = classification_metrics(y, p, 0.4)  # class 1 when p >= 0.4
    assert (at_04["recall"], at_04["precision"]) == (1.0, pytest.approx(2 / 3))


def test_f1_optimal_threshold_by_hand() -> None:
    y = np.array([0, 0, 1, 1, 0])
    p = np.array([0.1, 0.2, 0.3, 0.8, 0.7])
    # cut 0.3 -> predicted {0.3, 0.7, 0.8}: precision 2/3, recall 1, F1 0.8 (the best; 0.7 gives 2/3)
    assert f1_optimal_threshold(y, p) == 0.3


def test_regression_metrics_by_hand() -> None:
    scores = regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 6.0]))
    assert scores == {"rmse": pytest.approx(np.sqrt(3)), "mae": 1.0, "r2": pytest.approx(1 - 9 / 2)}


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("cv_folds", 1, "predictor.settings.cv_folds: must be an int in the range [2, inf); got 1"),
        (
            "holdout_fraction",
            0.7,
            "predictor.settings.holdout_fraction: must be a float in the range [0, 0.5]; got 0.7",
        ),
        (
            "threshold",
            "best",
            "predictor.settings.threshold: must be a float in the range (0, 1) or a str among {'optimal'}; got 'best'",
        ),
        (
            "threshold",
            1.0,
            "predictor.settings.threshold: must be a float in the range (0, 1) or a str among {'optimal'}; got 1.0",
        ),
        (
            "permutation_repeats",
            0,
            "predictor.settings.permutation_repeats: must be an int in the range [1, inf); got 0",
        ),
        (
            "target_transform",
            "log",
            "predictor.settings.target_transform: must be a str among {'log1p', 'none'}; got 'log'; did you mean 'log1p'?",
        ),
    ],
)
def test_bad_settings_fail_at_plan_time(key: str, value: object, expected: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        plan_run(compose_config([f"predictor.settings.{key}={value}"]))


def test_objective_auto_is_rmse_minimized_for_a_regressor() -> None:
    plan = plan_run(compose_config(["predictor=ridge", "features.target=spend"]))
    assert plan.tuning.objectives["predictor"].metric == "rmse"
    assert plan.tuning.objectives["predictor"].direction == "minimize"
    with pytest.raises(ConfigError, match="unknown metric 'roc_auc'.*valid: rmse, mae, r2"):
        plan_run(compose_config(["predictor=ridge", "tuning.objectives.predictor.metric=roc_auc"]))


def test_a_classifier_on_a_continuous_target_is_a_config_error(tmp_path: Path) -> None:
    y = pd.Series(np.linspace(0, 50, 40), name="spend")
    with pytest.raises(ConfigError, match="LogisticRegression is a classifier, but the target 'spend' is not a 0/1"):
        PredictorStage().check(spec("sklearn.linear_model.LogisticRegression"), context(y, tmp_path))


def test_a_regressor_on_a_0_1_class_label_is_refused(tmp_path: Path) -> None:
    y = pd.Series([0, 1] * 20, name="churn")
    with pytest.raises(ConfigError, match="predictor: Ridge is a regressor, but the target 'churn' is a 0/1 class"):
        PredictorStage().check(spec("sklearn.linear_model.Ridge"), context(y, tmp_path))


@pytest.mark.parametrize(
    ("target", "y", "expected"),
    [
        (
            "sklearn.linear_model.LogisticRegression",
            [0] * 40,
            "predictor: target 'churn' has 1 class(es); a classifier needs 2",
        ),
        (
            "sklearn.linear_model.LogisticRegression",
            [1] + [0] * 39,
            "predictor: target 'churn' has only 1 rows of class 1",
        ),
        (
            "sklearn.linear_model.Ridge",
            [3.0] * 40,
            "predictor: target 'churn' is constant (3.0); a regressor needs variation",
        ),
    ],
)
def test_unusable_targets_are_data_errors(target: str, y: list, expected: str, tmp_path: Path) -> None:
    with pytest.raises(DataError) as raised:
        PredictorStage().check(spec(target), context(pd.Series(y, name="churn"), tmp_path))
    assert expected in str(raised.value)


def test_a_cutoff_after_the_data_stops_the_run_before_fitting(tracking_overrides: list[str], tmp_path: Path) -> None:
    # a cutoff after the last transaction: nobody buys in the horizon, so every customer churned
    overrides = [
        "data.n_customers=200",
        "data.days=400",
        "features.cutoff=2030-01-01",
        "rules=none",
        "segmentation=none",
        "tuning=off",
        *tracking_overrides,
    ]
    with pytest.raises(DataError, match="features.cutoff: 2030-01-01 is on or after the last transaction"):
        run(compose_config(overrides))
    assert not (tmp_path / "mlruns").exists()


def test_an_absent_target_column_names_the_key(tmp_path: Path, tracking_overrides: list[str]) -> None:
    path = tmp_path / "customers.csv"
    pd.DataFrame({"id": range(30), "age": range(30), "churned": [0, 1] * 15}).to_csv(path, index=False)
    overrides = [
        "data=csv",
        "features=none",
        "segmentation=none",
        "rules=none",
        "data.transactions=null",
        f"+data.customers={{path: {path}, id_column: id, target: churn}}",
        *tracking_overrides,
    ]
    with pytest.raises(DataError, match="data.customers.target.*'churn'.*did you mean 'churned'"):
        run(compose_config(overrides))


def test_a_numeric_customer_target_is_a_value_for_regressors(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    rng = np.random.default_rng(0)
    age = rng.integers(20, 70, 120)
    pd.DataFrame({"id": range(120), "age": age, "value": 3.0 * age + rng.normal(0, 5, 120)}).to_csv(path, index=False)
    base = [
        "data=csv",
        "features=none",
        "segmentation=none",
        "rules=none",
        "data.transactions=null",
        "tuning=off",
        f"+data.customers={{path: {path}, id_column: id, target: value}}",
    ]
    plan = plan_run(compose_config(base))
    ctx, _ = _load(plan, tmp_path)
    ((stage, classifier),) = plan.stages
    with pytest.raises(ConfigError, match="LogisticRegression is a classifier, but the target 'value'"):
        stage.check(classifier, ctx)
    ((_, regressor),) = plan_run(compose_config([*base, "predictor=linear_regression"])).stages
    stage.check(regressor, ctx)
    result = stage.finalize(regressor.build(), stage.prepare(regressor, ctx), regressor, ctx, None)
    assert result.metrics["holdout_r2"] > 0.9


def test_log1p_target_transform_fits_on_the_log_and_predicts_amounts(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 3, 200)
    y = pd.Series(np.expm1(2.0 * x + rng.normal(0, 0.05, 200)), name="spend")  # exponential in x
    ctx = RunState(CRMData("toy"), CustomerTable(pd.DataFrame({"x": x}, index=y.index), y), {}, 0, tmp_path)
    settings = {**SETTINGS, "holdout_fraction": 0.2}
    results = {}
    for transform in ("none", "log1p"):
        ridge = parse_component(
            {
                "_target_": "sklearn.linear_model.Ridge",
                "alpha": 1e-6,
                "settings": {**settings, "target_transform": transform},
            },
            "predictor",
            PredictorSettings,
        )
        PredictorStage().check(ridge, ctx)
        results[transform] = PredictorStage().finalize(
            ridge.build(), PredictorStage().prepare(ridge, ctx), ridge, ctx, None
        )
    assert results["log1p"].metrics["holdout_r2"] > 0.99 > results["none"].metrics["holdout_r2"]
    model = results["log1p"].model.model
    assert model.predict(pd.DataFrame({"x": [1.0]}))[0] == pytest.approx(np.expm1(2.0), rel=0.05)  # an amount


@pytest.mark.parametrize(
    ("target", "y", "error", "expected"),
    [
        ("sklearn.linear_model.LogisticRegression", [0, 1] * 20, ConfigError, "log1p transforms a regression target"),
        (
            "sklearn.linear_model.Ridge",
            [-2.0, 5.0] * 20,
            DataError,
            "log1p needs target 'spend' > -1; its minimum is -2",
        ),
    ],
)
def test_log1p_needs_a_regressor_and_a_target_above_minus_one(
    target: str, y: list, error: type, expected: str, tmp_path: Path
) -> None:
    chosen = parse_component(
        {"_target_": target, "settings": {**SETTINGS, "target_transform": "log1p"}}, "predictor", PredictorSettings
    )
    stage = PredictorStage()
    with pytest.raises(error, match=expected):  # the data-free check runs in the plan, the other after loading
        stage.check_config(chosen)
        stage.check(chosen, context(pd.Series(y, name="spend"), tmp_path))
