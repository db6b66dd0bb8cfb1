"""Sweeps with Hydra's joblib launcher: jobs in worker processes, one MLflow store made before they start,
one shared sweep id, the customer table built once, and failed jobs reported by the launching process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import compose_config, run_cli
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf

from crmflow.hydra_callbacks import FAILURE_FILE, SweepCallback, record_failure, sweep_failures

SMALL = ["data.n_customers=300", "data.days=400", "tuning.n_trials=1", "rules=none"]
JOBLIB = ["--multirun", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]


def parents(uri: str) -> list:
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("synthetic")
    return [r for r in client.search_runs([experiment.experiment_id]) if "mlflow.parentRunId" not in r.data.tags]


def sweep_config(tmp_path: Path, *overrides: str) -> DictConfig:
    """A sweep's shared config as the launching process sees it: the run's config and its `hydra` node."""
    tracking = [f"tracking.uri=sqlite:///{tmp_path}/mlruns/mlflow.db", "tracking.experiment=crmflow"]
    config = compose_config([*tracking, *overrides])
    OmegaConf.set_struct(config, False)
    config.hydra = {"sweep": {"dir": str(tmp_path / "multirun")}}
    return config


def test_failure_records_are_listed_in_job_order(tmp_path: Path) -> None:
    record_failure(tmp_path / "10", 10, "segmentation=gmm", "late")
    record_failure(tmp_path / "2", 2, "segmentation=dbscan", "early")
    assert sweep_failures(tmp_path) == ["segmentation=dbscan: early", "segmentation=gmm: late"]
    assert json.loads((tmp_path / "2" / FAILURE_FILE).read_text())["num"] == 2
    assert sorted(p.name for p in (tmp_path / "2").iterdir()) == [FAILURE_FILE]  # no scratch file left


def test_sweep_start_makes_the_store_and_clears_an_earlier_sweeps_records(tmp_path: Path) -> None:
    config = sweep_config(tmp_path)
    record_failure(tmp_path / "multirun" / "0", 0, "old", "from an earlier sweep into the same folder")
    SweepCallback().on_multirun_start(config)
    assert sweep_failures(tmp_path / "multirun") == []
    assert MlflowClient(config.tracking.uri).get_experiment_by_name("crmflow") is not None
    SweepCallback().on_multirun_end(config)  # nothing failed: returns


def test_a_wrong_shared_config_creates_no_store(tmp_path: Path) -> None:
    SweepCallback().on_multirun_start(sweep_config(tmp_path, "tuning.n_trials=-3"))
    assert not (tmp_path / "mlruns").exists()  # each job reports the one line; the sweep exits 2


def test_sweep_end_lists_the_failed_jobs_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record_failure(tmp_path / "multirun" / "1", 1, "segmentation=dbscan", "all trials failed")
    with pytest.raises(SystemExit) as stopped:
        SweepCallback().on_multirun_end(sweep_config(tmp_path))
    assert stopped.value.code == 2
    assert capsys.readouterr().err == "crmflow: 1 sweep job(s) failed:\n  segmentation=dbscan: all trials failed\n"


@pytest.mark.slow
def test_a_joblib_sweep_makes_four_finished_runs_in_one_fresh_store(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    result = run_cli(
        *JOBLIB,
        "segmentation=kmeans,gmm",
        "predictor=logistic_regression,random_forest",
        *SMALL,
        f"tracking.uri={uri}",
        f"features.cache_dir={tmp_path}/cache",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = parents(uri)  # a new client: the store opens after the parallel jobs
    assert len(runs) == 4 and {r.info.status for r in runs} == {"FINISHED"}
    assert len({r.data.tags["crmflow.sweep_id"] for r in runs}) == 1
    assert {r.info.run_name.rsplit(" · ", 1)[0] for r in runs} == {  # then a short id, one per run
        "kmeans · logistic_regression",
        "kmeans · random_forest",
        "gmm · logistic_regression",
        "gmm · random_forest",
    }
    assert len({r.info.run_name for r in runs}) == 4
    assert len(list((tmp_path / "cache" / "features").iterdir())) == 1  # one table for the whole sweep
    assert sum(r.data.metrics["features.cache_hit"] for r in runs) >= 2  # at most n_jobs=2 jobs built it


@pytest.mark.slow
def test_a_failing_joblib_job_is_reported_and_the_others_finish(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    result = run_cli(
        *JOBLIB,
        "segmentation=dbscan,kmeans,gmm",
        "segmentation.settings.max_noise_share=0.0",
        "predictor=none",
        *SMALL,
        f"tracking.uri={uri}",
        f"features.cache_dir={tmp_path}/cache",
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "crmflow: 1 sweep job(s) failed:" in result.stderr
    summary = result.stderr.split("crmflow: 1 sweep job(s) failed:")[1]
    assert "segmentation=dbscan" in summary and "max_noise_share" in summary
    runs = parents(uri)
    assert sorted((r.info.run_name.rsplit(" · ", 1)[0], r.info.status) for r in runs) == [
        ("dbscan · max_noise_share=0.0", "FAILED"),
        ("gmm · max_noise_share=0.0", "FINISHED"),
        ("kmeans · max_noise_share=0.0", "FINISHED"),
    ]
    assert len({r.data.tags["crmflow.sweep_id"] for r in runs}) == 1
