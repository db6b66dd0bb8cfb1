"""The command line: bad input exits non-zero with one line naming the key, before any run starts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from helpers import assert_one_line_error, main_error_line, run_cli
from mlflow.tracking import MlflowClient

from crmflow.cli import main

crmflow = run_cli


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["segmentation=kmean"],
            (
                "segmentation: unknown option 'kmean'; did you mean 'kmeans'? (valid: agglomerative, "
                "birch, dbscan, decision_tree, gmm, hdbscan, hmm, kmeans, minibatch_kmeans, none, rfm_quantiles)"
            ),
        ),
        (
            ["segmentation.n_cluster=3"],
            "segmentation.n_cluster: KMeans has no parameter 'n_cluster'; did you mean 'n_clusters'?",
        ),
        (
            ["segmentation=gmm", "segmentation.n_clusters=6"],
            "segmentation.n_clusters: GaussianMixture has no parameter 'n_clusters'",
        ),
        (["tuning.sampler.seeds=1"], "tuning.sampler.seeds: TPESampler has no parameter 'seeds'; did you mean 'seed'?"),
        (
            ["segmentation.init=random"],
            "segmentation.init: KMeans takes 'init' but this option's YAML does not set it; add it with +segmentation.init=...",
        ),
        (["segmentaton=gmm"], "segmentaton: unknown key; did you mean 'segmentation'?"),
        (["+experiment=nope"], "experiment: unknown option 'nope'"),
        (
            ["segmentation.search_space.n_clusters.low=20"],
            "segmentation.search_space.n_clusters: low must be <= high; got low=20, high=10",
        ),
        (
            ["segmentation.search_space.n_clusters.type=integer"],
            "segmentation.search_space.n_clusters.type: expected one of int, float, categorical",
        ),
        (
            ["+segmentation.search_space.n_cluster={type:int,low:2,high:5}"],
            "segmentation.search_space: unknown parameter 'n_cluster' for KMeans; did you mean 'n_clusters'?",
        ),
        (
            ["tuning.objectives.predictor.metric=auc"],
            "tuning.objectives.predictor.metric: unknown metric 'auc'; did you mean 'pr_auc' or 'roc_auc'?",
        ),
    ],
)
def test_bad_config_is_one_line_and_exit_2(args: list[str], expected: str, tmp_path: Path) -> None:
    assert_one_line_error(crmflow(*args, cwd=tmp_path), expected, tmp_path)


def test_stage_missing_its_column_is_named(tmp_path: Path) -> None:
    days = pd.date_range("2023-01-01", periods=40, freq="10D").strftime("%Y-%m-%d")
    log = pd.DataFrame({"cid": ["a", "b", "c", "d"] * 10, "ts": days, "amt": range(40)})
    log.to_csv(tmp_path / "log.csv", index=False)
    columns = "{customer_id: cid, timestamp: ts, amount: amt}"
    result = crmflow(
        "data=csv", f"data.transactions.path={tmp_path}/log.csv", f"data.transactions.columns={columns}", cwd=tmp_path
    )
    assert_one_line_error(result, "rules: the data has no 'item' column", tmp_path)


def test_single_item_baskets_fail_before_any_run(tmp_path: Path) -> None:
    days = pd.date_range("2023-01-01", periods=40, freq="10D").strftime("%Y-%m-%d")
    log = pd.DataFrame(
        {"cid": ["a", "b", "c", "d"] * 10, "ts": days, "amt": range(40), "item": ["x", "y"] * 20, "basket": range(40)}
    )
    log.to_csv(tmp_path / "log.csv", index=False)
    columns = "{customer_id: cid, timestamp: ts, amount: amt, item: item, basket_id: basket}"
    result = crmflow(
        "data=csv", f"data.transactions.path={tmp_path}/log.csv", f"data.transactions.columns={columns}", cwd=tmp_path
    )
    assert_one_line_error(result, "rules: every one of the 40 baskets has fewer than 2 items", tmp_path)


def test_help_lists_the_groups(tmp_path: Path) -> None:
    result = crmflow("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "segmentation: " in result.stdout and "kmeans" in result.stdout
    assert "logistic_regression (default)" in result.stdout and "_settings" not in result.stdout


@pytest.mark.slow
def test_multirun_makes_one_finished_parent_per_job(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    result = crmflow(
        "--multirun",
        "segmentation=kmeans,gmm",
        "predictor=logistic_regression,random_forest",
        "tuning.n_trials=1",
        "data.n_customers=300",
        "data.days=400",
        "rules=none",
        f"tracking.uri={uri}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("synthetic")
    parents = client.search_runs([experiment.experiment_id], "tags.crmflow.sweep_id != ''")
    parents = [r for r in parents if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 4
    assert {r.info.status for r in parents} == {"FINISHED"}
    assert len({r.data.tags["crmflow.sweep_id"] for r in parents}) == 1
    assert {r.info.run_name.rsplit(" · ", 1)[0] for r in parents} == {  # then a short id, one per run
        "kmeans · logistic_regression",
        "kmeans · random_forest",
        "gmm · logistic_regression",
        "gmm · random_forest",
    }
    assert len({r.info.run_name for r in parents}) == 4
    assert "MLflow run" in result.stdout and "mlflow ui --backend-store-uri" in result.stdout


@pytest.mark.slow
def test_a_failing_sweep_job_is_reported_and_the_sweep_goes_on(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    result = crmflow(
        "--multirun",
        "segmentation=dbscan,kmeans",
        "segmentation.settings.max_noise_share=0.0",
        "tuning.n_trials=2",
        "data.n_customers=400",
        "data.days=400",
        "rules=none",
        "predictor=none",
        f"tracking.uri={uri}",
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "crmflow: 1 sweep job(s) failed:" in result.stderr
    assert "segmentation=dbscan" in result.stderr and "max_noise_share" in result.stderr
    client = MlflowClient(uri)
    parents = [
        r
        for r in client.search_runs([client.get_experiment_by_name("synthetic").experiment_id])
        if "mlflow.parentRunId" not in r.data.tags
    ]
    named = sorted((r.info.run_name.rsplit(" · ", 1)[0], r.info.status) for r in parents)
    assert named == [("dbscan · max_noise_share=0.0", "FAILED"), ("kmeans · max_noise_share=0.0", "FINISHED")]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["model=m", "input=a.txt", "output=b.csv"], "predict.input: expected a .csv or .parquet file; got 'a.txt'"),
        (["modle=m", "input=a.csv", "output=b.csv"], "predict: unknown argument 'modle'; did you mean 'model'?"),
        (["model=m", "input=a.csv"], "predict: missing argument(s) output (usage: crmflow predict model="),
        (["model=m", "input", "output=b.csv"], "predict: expected key=value arguments; got 'input'"),
        (["model=m", "input=nope.csv", "output=b.parquet"], "predict.input: file 'nope.csv' not found"),
    ],
)
def test_predict_bad_arguments_are_one_line_and_exit_2(
    args: list[str],
    expected: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    line = main_error_line(capsys, "predict", *args)
    assert line.startswith(f"crmflow: error: {expected}"), line


def test_predict_help_prints_its_usage(capsys: pytest.CaptureFixture[str]) -> None:
    main(["predict", "--help"])
    assert capsys.readouterr().out.startswith("usage: crmflow predict model=<MLflow model URI>")
