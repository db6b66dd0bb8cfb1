"""`crmflow predict` round-trips a logged model: a small run logs it, fresh customers are scored from a
file, and the scores equal the logged pipeline's own and rank the fresh customers' churn well."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import compose_config
from sklearn.metrics import roc_auc_score

from crmflow.cli import main
from crmflow.model_loading import load_model
from crmflow.plan import plan_run
from crmflow.run import _load, run

SMALL = [
    "data.n_customers=500",
    "data.days=400",
    "rules=none",
    "tuning=off",
    "segmentation.settings.stability_resamples=0",
]


@dataclass
class Logged:
    model_uri: str
    tracking_uri: str
    fresh: pd.DataFrame  # new customers: raw feature columns, customer_id, and their churn label
    folder: Path


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Logged:
    folder = tmp_path_factory.mktemp("scoring")
    uri = f"sqlite:///{folder}/mlruns/mlflow.db"
    result = run(compose_config([*SMALL, "segmentation=kmeans", f"tracking.uri={uri}", "tracking.experiment=test"]))
    ctx, _ = _load(plan_run(compose_config([*SMALL, "data.seed=11"])), folder)  # another population
    fresh = ctx.table.X.assign(churn=ctx.table.y).reset_index()
    return Logged(result.model_uri, uri, fresh, folder)


def predict_args(logged: Logged, source: Path, output: Path) -> list[str]:
    return [
        "predict",
        f"model={logged.model_uri}",
        f"input={source}",
        f"output={output}",
        f"tracking_uri={logged.tracking_uri}",
    ]


def test_predict_round_trips_the_logged_model(logged: Logged, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")  # crmflow's models load with pickle off
    source, output = logged.folder / "fresh.csv", logged.folder / "scores.parquet"
    logged.fresh.drop(columns="churn").to_csv(source, index=False)
    done = subprocess.run(
        [sys.executable, "-m", "crmflow", *predict_args(logged, source, output)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=logged.folder,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"wrote {len(logged.fresh)} predictions" in done.stdout
    scores = pd.read_parquet(output)
    assert list(scores["customer_id"]) == list(logged.fresh["customer_id"])  # extra columns are kept
    pipeline = load_model(logged.model_uri, logged.tracking_uri).get_raw_model()
    raw = logged.fresh.drop(columns=["customer_id", "churn"])
    np.testing.assert_array_equal(scores["prediction"], pipeline.predict(raw))
    np.testing.assert_allclose(scores["probability"], pipeline.predict_proba(raw)[:, 1])
    assert roc_auc_score(logged.fresh["churn"], scores["probability"]) > 0.75


def test_missing_model_columns_are_named(logged: Logged, capsys: pytest.CaptureFixture[str]) -> None:
    source = logged.folder / "partial.csv"
    logged.fresh.drop(columns=["recency", "region"]).head(20).to_csv(source, index=False)
    with pytest.raises(SystemExit) as stopped:
        main(predict_args(logged, source, logged.folder / "never.csv"))
    assert stopped.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("crmflow: error: predict.input:") and "lacks column(s) recency, region" in error
    assert len(error.splitlines()) == 1
    assert not (logged.folder / "never.csv").exists()


def test_an_unknown_model_is_a_one_line_error(logged: Logged, capsys: pytest.CaptureFixture[str]) -> None:
    source = logged.folder / "few.csv"
    logged.fresh.head(5).to_csv(source, index=False)
    args = predict_args(logged, source, logged.folder / "out.csv")
    args[1] = "model=runs:/0123456789abcdef/model"
    with pytest.raises(SystemExit):
        main(args)
    assert "crmflow: error: predict.model: cannot load 'runs:/0123456789abcdef/model'" in capsys.readouterr().err
