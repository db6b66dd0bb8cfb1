"""The forecaster stage in whole runs: MLflow metrics, artifacts and model; bad input; Online Retail."""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from helpers import (
    artifact_paths,
    assert_one_line_error,
    compose_config,
    data_file,
    run_cli,
)
from mlflow.tracking import MlflowClient

from crmflow.config.goals import Objective
from crmflow.errors import ConfigError, DataError
from crmflow.forecasting.ets import ETSForecaster
from crmflow.forecasting.metrics import FORECAST_METRICS
from crmflow.forecasting.settings import ForecasterSettings
from crmflow.forecasting.stage import per_segment
from crmflow.plan import plan_run
from crmflow.run import _load, run

ONLY_FORECASTS = ["rules=none", "predictor=none", "segmentation=none", "tuning=off"]


@pytest.mark.slow
def test_ets_run_logs_metrics_artifacts_and_model(tracking_overrides: list[str]) -> None:
    overrides = [
        "forecaster=ets",
        "rules=none",
        "predictor=none",
        "data.n_customers=400",
        "tuning.n_trials=2",
        "forecaster.settings.per_segment=true",
        "segmentation.settings.stability_resamples=2",
    ]
    result = run(compose_config(overrides + tracking_overrides))
    assert [s.stage for s in result.stages] == ["segmentation", "forecaster"]
    client = MlflowClient(result.tracking_uri)
    parent = client.get_run(result.run_id)
    assert parent.info.status == "FINISHED"
    metrics = parent.data.metrics
    for name in FORECAST_METRICS:
        assert f"forecaster.{name}" in metrics and f"forecaster.baseline_{name}" in metrics, name
    assert metrics["forecaster.n_periods"] == 730
    assert metrics["forecaster.mase"] < metrics["forecaster.baseline_mase"]  # weekly pattern and trend are learnt
    assert 0.5 <= metrics["forecaster.coverage"] <= 1
    assert {"forecaster.segments_mase", "forecaster.segments_baseline_mase", "forecaster.segments_failed"} <= set(
        metrics
    )
    assert parent.data.params["forecaster.best.seasonal"] in {"None", "add", "mul"}
    kids = client.search_runs([result.experiment_id], f"tags.mlflow.parentRunId = '{result.run_id}'")
    assert sum(k.data.tags["crmflow.stage"] == "forecaster" for k in kids) == 2

    artifacts = artifact_paths(client, result.run_id)
    for expected in (
        "forecaster/forecast.png",
        "forecaster/forecast_backtest.csv",
        "forecaster/forecast.csv",
        "forecaster/forecast_model.txt",
        "forecaster/forecast_segments.csv",
        "forecaster/tuning/forecaster_optuna_history.png",
    ):
        assert expected in artifacts, expected
    backtest = pd.read_csv(client.download_artifacts(result.run_id, "forecaster/forecast_backtest.csv"))
    assert len(backtest) == 3 * 28 and {"actual", "forecast", "baseline", "forecast_lower", "scale"} <= set(backtest)
    assert backtest.groupby("part")["fold"].unique().map(list).to_dict() == {"tuning": [0, 1], "holdout": [2]}
    assert {"forecaster.holdout_mase", "forecaster.holdout_baseline_mase"} <= set(metrics)
    segments = pd.read_csv(client.download_artifacts(result.run_id, "forecaster/forecast_segments.csv"))
    assert len(segments) >= 2 and segments["error"].isna().all()

    model = mlflow.pyfunc.load_model(result.model_uri)
    assert model.metadata.run_id == result.run_id and model.metadata.signature is not None
    forecast = model.predict(pd.DataFrame({"horizon": [5]}))
    assert forecast.columns.tolist() == ["timestamp", "forecast", "lower", "upper"] and len(forecast) == 5
    assert (forecast["lower"] < forecast["upper"]).all()


def test_objective_auto_is_mase_minimized() -> None:
    plan = plan_run(compose_config(["forecaster=arima", "rules=none", "predictor=none"]))
    assert plan.tuning.objectives["forecaster"] == Objective("mase", "minimize")
    assert [stage.name for stage, _ in plan.stages] == ["segmentation", "forecaster"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["forecaster.settings.per_segment=true"],
            "forecaster.settings.per_segment needs segment labels: segmentation=none; choose a segmentation option, e.g. segmentation=kmeans",
        ),
        (
            ["forecaster.settings.horizon=0"],
            r"forecaster.settings.horizon: must be an int in the range \[1, inf\); got 0",
        ),
        (
            ["forecaster.settings.interval=95"],
            r"forecaster.settings.interval: must be a float in the range \(0, 1\); got 95",
        ),
        (
            ["+forecaster.seasonl=add"],
            "forecaster: unknown parameter 'seasonl' for ETSForecaster; did you mean 'seasonal'",
        ),
        (
            ["tuning=default", "tuning.objectives.forecaster.metric=mape2"],
            "tuning.objectives.forecaster.metric: unknown metric 'mape2'; did you mean 'mape'",
        ),
    ],
)
def test_bad_config_fails_in_the_plan(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        plan_run(compose_config(["forecaster=ets", *ONLY_FORECASTS, *overrides]))


def test_too_short_a_series_stops_the_cli_before_any_run(tmp_path: Path) -> None:
    args = ["forecaster=sarimax", *ONLY_FORECASTS, "features=none", "data.n_customers=200", "data.days=90"]
    result = run_cli(*args, cwd=tmp_path)
    assert_one_line_error(
        result,
        "forecaster: the daily revenue series has 90 periods; forecaster.settings.horizon=28, "
        "folds=3, step=28 leave 6 for the first training window",
        tmp_path,
    )


def test_per_segment_needs_labels_before_any_data(tmp_path: Path) -> None:
    """The one hand-off check runs in the plan, with or without tuning, before anything is loaded."""
    overrides = ["forecaster=naive", *ONLY_FORECASTS, "tuning=off", "forecaster.settings.per_segment=true"]
    with pytest.raises(ConfigError, match="forecaster.settings.per_segment needs segment labels"):
        plan_run(compose_config(overrides))


@pytest.fixture(scope="module")
def online_retail(tmp_path_factory: pytest.TempPathFactory):
    data_file("online_retail.parquet")
    plan = plan_run(
        compose_config(
            [
                "+experiment=online_retail_forecast",
                "segmentation=none",
                "forecaster.settings.per_segment=false",
                "tuning=off",
            ]
        )
    )
    ctx, _ = _load(plan, tmp_path_factory.mktemp("online_retail"))
    return plan, ctx


@pytest.mark.slow
def test_online_retail_weekly_ets_beats_seasonal_naive(online_retail) -> None:
    plan, ctx = online_retail
    ((stage, spec),) = plan.stages
    stage.check(spec, ctx)
    prepared = stage.prepare(spec, ctx)
    assert len(prepared.series) == 52 and prepared.series.index[0] == pd.Timestamp("2010-12-06")
    metrics = stage.score(spec.build({}), prepared, spec)
    assert metrics["mase"] < metrics["baseline_mase"]
    assert metrics["mae"] < metrics["baseline_mae"]


@pytest.mark.slow
def test_online_retail_multiplicative_model_names_the_empty_week(online_retail) -> None:
    plan, ctx = online_retail
    ((stage, spec),) = plan.stages
    prepared = stage.prepare(spec, ctx)
    with pytest.raises(
        DataError,
        match=r"is multiplicative and needs strictly positive values; the weekly revenue "
        r"series has 1 value\(s\) <= 0 \(first at 2010-12-27\)",
    ):
        stage.score(spec.build({"seasonal": "mul"}), prepared, spec)


def test_a_segment_the_model_cannot_fit_is_reported_not_fatal() -> None:
    index = pd.date_range("2024-01-01", periods=40, freq="W-MON")
    wave = 100 + 10 * np.sin(np.arange(40))
    segments = pd.DataFrame({"0": wave, "1": np.where(np.arange(40) == 3, 0.0, wave)}, index=index)
    settings = ForecasterSettings(
        frequency="W",
        value="revenue",
        seasonal_period=4,
        horizon=4,
        folds=3,
        step=4,
        holdout_folds=1,
        interval=0.9,
        per_segment=True,
        complete_periods_only=True,
    )
    rows = per_segment(ETSForecaster(trend=None, seasonal="mul", seasonal_period=4), segments, settings).set_index(
        "segment"
    )
    assert pd.isna(rows.loc["0", "error"]) and np.isfinite(rows.loc["0", ["mase", "baseline_mase"]]).all()
    assert "needs strictly positive values; the segment 1 series has 1 value(s) <= 0" in rows.loc["1", "error"]
    assert np.isnan(rows.loc["1", "mase"]) and np.isfinite(rows.loc["0", "holdout_mase"])


def test_trials_score_only_the_tuning_folds(tmp_path: Path) -> None:
    plan = plan_run(compose_config(["forecaster=seasonal_naive", *ONLY_FORECASTS, "data.n_customers=200"]))
    ((stage, spec),) = plan.stages
    ctx, _ = _load(plan, tmp_path)
    prepared = stage.prepare(spec, ctx)
    # the baseline forecaster scored as a trial equals the baseline on the first two of three folds
    trial = stage.score(spec.build({}), prepared, spec)
    assert trial["mase"] == pytest.approx(trial["baseline_mase"])
    final = stage.finalize(spec.build({}), prepared, spec, ctx, None).metrics
    assert final["mase"] == pytest.approx(trial["mase"])  # the same two folds
    assert final["holdout_mase"] == pytest.approx(final["holdout_baseline_mase"])
    assert final["holdout_mase"] != pytest.approx(final["mase"])  # the third, latest fold


@pytest.mark.parametrize("value", [-1, 3, True])
def test_holdout_folds_must_leave_a_tuning_fold(value: object) -> None:
    with pytest.raises(
        ConfigError, match=r"forecaster.settings.holdout_folds: must be an int in the range \[0, folds - 1\]"
    ):
        plan_run(compose_config(["forecaster=naive", f"forecaster.settings.holdout_folds={value}"]))
