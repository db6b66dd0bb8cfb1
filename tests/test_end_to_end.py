"""Whole runs against a temporary MLflow store: runs, metrics, children, artifacts, model."""

from __future__ import annotations

import mlflow.pyfunc
import pytest
from helpers import artifact_paths, compose_config
from mlflow.tracking import MlflowClient

from crmflow.run import run

SMALL = ["data.n_customers=800", "data.days=540", "tuning.n_trials=2"]


@pytest.mark.slow
def test_default_run_logs_everything(tracking_overrides: list[str]) -> None:
    result = run(compose_config(SMALL + tracking_overrides))
    client = MlflowClient(result.tracking_uri)
    parent = client.get_run(result.run_id)
    assert parent.info.status == "FINISHED"
    metrics = parent.data.metrics
    for name in (
        "segmentation.silhouette",
        "rules.n_rules",
        "rules.hit_rate_at_5",
        "predictor.roc_auc",
        "predictor.accuracy",
        "predictor.f1",
        "data.n_transactions",
    ):
        assert name in metrics, name
    assert metrics["predictor.roc_auc"] > 0.7
    assert 0 < metrics["rules.hit_rate_at_5"] <= 1 and 0 < metrics["rules.baseline_hit_rate_at_5"] <= 1
    assert parent.data.params["segmentation.n_clusters"] == "4"
    assert parent.data.tags["crmflow.version"]
    kids = client.search_runs([result.experiment_id], f"tags.mlflow.parentRunId = '{result.run_id}'")
    assert len(kids) == 6 and {k.info.status for k in kids} == {"FINISHED"}
    artifacts = artifact_paths(client, result.run_id)
    for expected in (
        "config.yaml",
        "segmentation/segment_profiles.csv",
        "segmentation/segments_pca.png",
        "rules/rules.csv",
        "rules/rules_scatter.png",
        "predictor/predictor_curves.png",
        "segmentation/tuning/segmentation_optuna_history.png",
    ):
        assert any(path.endswith(expected) for path in artifacts), expected
    model = mlflow.pyfunc.load_model(result.model_uri)
    assert model.metadata.run_id == result.run_id
    assert model.metadata.signature is not None
    rows = model.input_example if model.input_example is not None else None
    assert set(model.predict(rows)) <= {0, 1}


@pytest.mark.slow
def test_untuned_run_with_stages_off(tracking_overrides: list[str]) -> None:
    overrides = ["data.n_customers=500", "tuning=off", "rules=none", "predictor=none", "segmentation=gmm"]
    result = run(compose_config(overrides + tracking_overrides))
    assert [s.stage for s in result.stages] == ["segmentation"]
    assert result.stages[0].tuning is None
    assert result.metrics["segmentation.n_segments"] == 4
    assert MlflowClient(result.tracking_uri).get_run(result.run_id).info.status == "FINISHED"
