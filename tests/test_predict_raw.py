"""`crmflow predict transactions=... as_of=...`: a small run logs a model, its synthetic tables are written
to files, and scoring them as of the run's cutoff rebuilds the run's own features and holdout predictions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import compose_config
from mlflow.tracking import MlflowClient

from crmflow.cli import main
from crmflow.data.base import CRMData
from crmflow.features.table import CustomerTable
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
    run_id: str
    model_uri: str
    tracking_uri: str
    data: CRMData  # the synthetic tables the run generated
    table: CustomerTable  # the run's own customer table
    holdout: pd.DataFrame  # predictor/predictor_holdout_predictions.csv, indexed by customer_id
    transactions: Path
    customers: Path
    folder: Path


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Logged:
    folder = tmp_path_factory.mktemp("raw-scoring")
    uri = f"sqlite:///{folder}/mlruns/mlflow.db"
    overrides = [*SMALL, f"tracking.uri={uri}", "tracking.experiment=test"]
    result = run(compose_config(overrides))
    state, _ = _load(plan_run(compose_config(overrides)), folder)  # the same seeded log, and the run's table
    holdout_csv = MlflowClient(uri).download_artifacts(
        result.run_id, "predictor/predictor_holdout_predictions.csv", str(folder)
    )
    transactions, customers = folder / "transactions.csv", folder / "customers.csv"
    state.data.transactions.to_csv(transactions, index=False)
    state.data.customers.to_csv(customers, index=False)
    holdout = pd.read_csv(holdout_csv, index_col="customer_id")
    return Logged(
        result.run_id, result.model_uri, uri, state.data, state.table, holdout, transactions, customers, folder
    )


def predict(logged: Logged, *args: str, model: str | None = None) -> None:
    main(["predict", f"model={model or logged.model_uri}", f"tracking_uri={logged.tracking_uri}", *args])


def one_line_error(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    with pytest.raises(SystemExit) as stopped:
        main(["predict", *args])
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("crmflow: error: "), lines
    return lines[0].removeprefix("crmflow: error: ")


@pytest.mark.slow
def test_the_whole_log_as_of_the_cutoff_rebuilds_the_runs_features(
    logged: Logged, capsys: pytest.CaptureFixture[str]
) -> None:
    output = logged.folder / "all.parquet"
    as_of = logged.table.cutoff.date()
    output_arg = f"output={output}"
    predict(
        logged, f"transactions={logged.transactions}", f"customers={logged.customers}", f"as_of={as_of}", output_arg
    )
    out = capsys.readouterr().out
    features_file = logged.folder / "all.features.parquet"
    n = len(logged.table.X)
    assert f"wrote predictions for {n} customers to {output} and their features to {features_file}" in out
    features = pd.read_parquet(features_file).set_index("customer_id")
    pd.testing.assert_frame_equal(features, logged.table.X, check_exact=True)
    scores = pd.read_parquet(output).set_index("customer_id")
    assert list(scores.columns) == [*logged.table.X.columns, "prediction", "probability"]


@pytest.mark.slow
def test_a_held_out_slice_of_the_log_scores_as_the_run_scored_its_holdout(logged: Logged) -> None:
    tx = logged.data.transactions
    ids = logged.holdout.index
    sliced = logged.folder / "holdout_tx.csv"
    tx[tx["customer_id"].isin(ids)].to_csv(sliced, index=False)
    output = logged.folder / "holdout_scores.csv"
    as_of = f"as_of={logged.table.cutoff.date()}"
    model = f"runs:/{logged.run_id}/model"  # the run (and its config) found from any model URI
    predict(logged, f"transactions={sliced}", f"customers={logged.customers}", as_of, f"output={output}", model=model)
    scores = pd.read_csv(output, index_col="customer_id")
    assert sorted(scores.index) == sorted(ids)
    scores = scores.loc[ids]
    np.testing.assert_allclose(scores["probability"], logged.holdout["probability"], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(scores["prediction"], logged.holdout["predicted_class"])
    assert (logged.folder / "holdout_scores.features.csv").is_file()


@pytest.mark.slow
def test_an_as_of_after_the_last_transaction_scores_every_customer(logged: Logged) -> None:
    last = logged.data.transactions["timestamp"].max()
    output = logged.folder / "today.csv"
    as_of = f"as_of={(last + pd.Timedelta(days=30)).date()}"
    predict(logged, f"transactions={logged.transactions}", f"customers={logged.customers}", as_of, f"output={output}")
    scores = pd.read_csv(output)
    assert len(scores) == logged.data.transactions["customer_id"].nunique()
    assert scores["recency"].min() > 29  # as_of is the start of the day, 30 dates after the last purchase


@pytest.mark.slow
def test_raw_scoring_errors_are_one_line(logged: Logged, capsys: pytest.CaptureFixture[str]) -> None:
    base = [f"model={logged.model_uri}", f"tracking_uri={logged.tracking_uri}", f"customers={logged.customers}"]
    output = f"output={logged.folder / 'bad.csv'}"
    early = f"as_of={(logged.data.transactions['timestamp'].min() - pd.Timedelta(days=1)).date()}"
    message = one_line_error(capsys, [*base, f"transactions={logged.transactions}", early, output])
    assert message.startswith(f"predict.as_of: no transaction in '{logged.transactions}' is on or before")
    no_amount = logged.folder / "no_amount.csv"
    logged.data.transactions.drop(columns="amount").to_csv(no_amount, index=False)
    message = one_line_error(capsys, [*base, f"transactions={no_amount}", "as_of=2023-06-01", output])
    assert message.startswith("predict.transactions: data.transactions.columns.amount: column 'amount' is not in")
    without_customers = [base[0], base[1], f"transactions={logged.transactions}", "as_of=2023-06-01", output]
    message = one_line_error(capsys, without_customers)
    assert message.startswith("predict.transactions: the features built lack column(s) age, region")
    assert message.endswith("give customers=<csv|parquet>")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["input=a.csv", "transactions=t.csv", "as_of=2024-01-31"], "predict: give input=<feature table> or"),
        ([], "predict: missing argument(s) input (or transactions) (usage: crmflow predict"),
        (
            ["transactions=t.csv"],
            "predict.as_of: required with transactions=: the date to build the features as of, YYYY-MM-DD",
        ),
        (["transactions=t.csv", "as_of=2024-13-01"], "predict.as_of: expected a date YYYY-MM-DD such as"),
        (["transactions=t.csv", "as_of=31/01/2024"], "predict.as_of: expected a date YYYY-MM-DD such as"),
        (["input=a.csv", "as_of=2024-01-31"], "predict.as_of: only applies with transactions="),
        (["input=a.csv", "customers=c.csv"], "predict.customers: only applies with transactions="),
        (["transactions=t.txt", "as_of=2024-01-31"], "predict.transactions: expected a .csv or .parquet file"),
        (["transactions=nope.csv", "as_of=2024-01-31"], "predict.transactions: file 'nope.csv' not found"),
    ],
)
def test_bad_raw_arguments_are_one_line(
    args: list[str], expected: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert one_line_error(capsys, ["model=m", "output=b.csv", *args]).startswith(expected)
