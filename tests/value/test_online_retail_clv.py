"""+experiment=online_retail_value_clv on UCI Online Retail: the value stage fits BG/NBD and Gamma-Gamma on the
log before the features cutoff, its columns feed the spend regressor and the segment profiles, and its model is
logged (real data: required in CI, skipped with the reason elsewhere)."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import artifact_paths, compose_config, data_file
from mlflow.tracking import MlflowClient

from crmflow.run import run

VALUE_COLUMNS = ["p_alive", "expected_purchases", "expected_spend", "clv"]


@pytest.mark.slow
@pytest.mark.real_data
def test_online_retail_clv_feeds_the_spend_regressor(tracking_overrides: list[str], tmp_path) -> None:
    data_file("online_retail.parquet")
    result = run(compose_config(["+experiment=online_retail_value_clv", "tuning=off"] + tracking_overrides))
    metrics = result.metrics
    assert metrics["data.rows_dropped_zero_amounts"] > 0  # free lines: Gamma-Gamma needs positive spend
    assert metrics["value.n_customers"] == metrics["features.n_customers"]  # the customers the features describe
    assert metrics["value.n_repeat_buyers"] > 1000
    for name in ("r", "alpha", "a", "b", "spend.p", "spend.q", "spend.gamma"):
        assert metrics[f"value.{name}"] > 0, name
    assert metrics["value.spend.q"] > 1  # the mean spend exists: no spend scale problem
    assert metrics["value.log_likelihood"] < 0 and metrics["value.clv_total"] > 0
    assert metrics["value.holdout_mae"] <= metrics["value.baseline_holdout_mae"] * 1.05
    assert {"predictor.holdout_rmse", "predictor.holdout_r2"} <= set(metrics)
    assert sorted(result.model_uris) == ["predictor", "value"]
    client = MlflowClient(result.tracking_uri)
    logged = artifact_paths(client, result.run_id)
    assert {"value/customer_value.csv", "value/value_p_alive.png", "segmentation/segment_profiles.csv"} <= logged
    importances = pd.read_csv(
        client.download_artifacts(result.run_id, "predictor/predictor_feature_importances.csv", str(tmp_path))
    )
    assert set(VALUE_COLUMNS) <= set(importances.iloc[:, 0])  # the regressor was given the value columns
    profiles = pd.read_csv(client.download_artifacts(result.run_id, "segmentation/segment_profiles.csv", str(tmp_path)))
    assert {"mean_clv", "mean_p_alive"} <= set(profiles.columns)
