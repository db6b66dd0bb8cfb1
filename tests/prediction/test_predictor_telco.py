"""IBM Telco churn: the recipe's logistic regression lands in the published ROC-AUC band (0.83–0.86),
on 10-fold CV and on the stratified holdout; an F1-optimal threshold trades precision for recall."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from helpers import compose_config, data_file

from crmflow.plan import plan_run
from crmflow.prediction.metrics import classification_metrics, f1_optimal_threshold
from crmflow.run import _load
from crmflow.stages.contract import StageResult

RECIPE = ["+experiment=telco_churn", "segmentation=none", "tuning=off"]


def finalize(overrides: list[str], folder: Path) -> StageResult:
    plan = plan_run(compose_config([*RECIPE, *overrides]))
    ctx, _ = _load(plan, folder)
    ((stage, spec),) = plan.stages
    stage.check(spec, ctx)
    return stage.finalize(spec.build(), stage.prepare(spec, ctx), spec, ctx, None)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> StageResult:
    data_file("WA_Fn-UseC_-Telco-Customer-Churn.csv")
    return finalize(["predictor.settings.threshold=optimal"], tmp_path_factory.mktemp("telco"))


def artifact(result: StageResult, name: str) -> Path:
    return next(path for path in result.artifacts if path.name == name)


def test_logistic_regression_lands_in_the_published_band(result: StageResult) -> None:
    metrics = result.metrics
    assert 0.83 <= metrics["roc_auc"] <= 0.86  # mean of 10 stratified folds on the 80% training share
    assert 0.83 <= metrics["holdout_roc_auc"] <= 0.86
    assert (metrics["n_train"], metrics["n_holdout"]) == (5634, 1409)


def test_optimal_threshold_comes_from_the_folds_and_raises_recall_and_f1(result: StageResult) -> None:
    oof = pd.read_csv(artifact(result, "predictor_oof_predictions.csv"))
    holdout = pd.read_csv(artifact(result, "predictor_holdout_predictions.csv"))
    threshold = result.metrics["threshold"]
    assert threshold == f1_optimal_threshold(oof["actual"].to_numpy(), oof["probability"].to_numpy())
    assert threshold < 0.5  # churners are the 27% minority: the F1-optimal cut-off is lower
    at_half = classification_metrics(holdout["actual"].to_numpy(), holdout["probability"].to_numpy(), 0.5)
    assert result.metrics["holdout_recall"] > at_half["recall"] + 0.1
    assert result.metrics["holdout_f1"] > at_half["f1"]
    assert (holdout["predicted_class"] == (holdout["probability"] >= threshold)).all()


def test_importances_rank_the_known_churn_drivers(result: StageResult) -> None:
    top = pd.read_csv(artifact(result, "predictor_feature_importances.csv"))["feature"].head(5)
    assert top.str.startswith(("tenure", "Contract=", "InternetService=")).sum() >= 3, list(top)
