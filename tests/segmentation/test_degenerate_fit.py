"""A chosen segmentation that finds fewer than 2 segments stops the run with one line, and the run is FAILED."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_cli
from mlflow.tracking import MlflowClient


@pytest.mark.slow
def test_dbscan_with_a_tiny_eps_stops_with_one_line_and_a_failed_run(tmp_path: Path) -> None:
    small = ["data.n_customers=300", "rules=none", "predictor=none"]
    result = run_cli("segmentation=dbscan", "segmentation.eps=0.01", "tuning=off", *small, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("crmflow: error")]
    assert errors == [
        "crmflow: error: segmentation: DBSCAN: segmentation found 0 segment(s) besides noise; at least 2 are "
        "needed; change its parameters or the option"
    ]
    assert "Traceback" not in result.stderr
    client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    (experiment,) = [e for e in client.search_experiments() if e.name != "Default"]
    (parent,) = client.search_runs([experiment.experiment_id])
    assert parent.info.status == "FAILED"
