"""Small whole runs log the new plots and the gains table under the names the report reads."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from helpers import artifact_paths, compose_config
from mlflow.tracking import MlflowClient

from crmflow.run import run

SMALL = ["data.n_customers=500", "data.days=400", "tuning=off", "rules=none"]


@pytest.mark.slow
def test_classifier_run_logs_gains_calibration_and_segment_sizes(tracking_overrides: list[str], tmp_path: Path) -> None:
    result = run(compose_config(SMALL + tracking_overrides))
    client = MlflowClient(result.tracking_uri)
    artifacts = artifact_paths(client, result.run_id)
    for name in (
        "predictor/predictor_gains.png",
        "predictor/predictor_gains.csv",
        "predictor/predictor_calibration.png",
        "segmentation/segment_sizes.png",
    ):
        assert name in artifacts, name
    gains = pd.read_csv(client.download_artifacts(result.run_id, "predictor/predictor_gains.csv", str(tmp_path)))
    assert gains["decile"].tolist() == list(range(1, 11)) and gains["cumulative_gain"].iloc[-1] == pytest.approx(1)
    importances = pd.read_csv(
        client.download_artifacts(result.run_id, "predictor/predictor_feature_importances.csv", str(tmp_path))
    )
    features = set(importances["feature"])
    assert "segment=0" in features and not any(f.startswith("segment_segment") for f in features)
    assert (importances["importance"] < 0).any()  # coefficients keep their sign


@pytest.mark.slow
def test_regression_and_per_segment_forecast_run_logs_one_plot_per_segment(tracking_overrides: list[str]) -> None:
    overrides = [
        "features.target=spend",
        "predictor=ridge",
        "forecaster=seasonal_naive",
        "forecaster.settings.per_segment=true",
    ]
    result = run(compose_config(SMALL + overrides + tracking_overrides))
    artifacts = artifact_paths(MlflowClient(result.tracking_uri), result.run_id)
    assert "predictor/predictor_predicted_vs_actual.png" in artifacts
    assert "predictor/predictor_gains.png" not in artifacts  # classifiers only
    assert "forecaster/forecast.png" in artifacts
    segments = {p for p in artifacts if p.startswith("forecaster/forecast_segment_")}
    assert {f"forecaster/forecast_segment_{i}.png" for i in range(4)} <= segments  # kmeans' 4 segments
