"""The value stage's logged model: JSON parameters that load without pickle, predict what the run's customer table
holds, summarise a raw log as the run did, and give a predictor trained on the value columns its features again."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import compose_config
from mlflow.tracking import MlflowClient

from crmflow.cli import main
from crmflow.errors import ConfigError
from crmflow.plan import plan_run
from crmflow.run import _load, run
from crmflow.value.bg_nbd import BGNBD
from crmflow.value.estimator import CustomerValue
from crmflow.value.pareto_nbd import ParetoNBD
from crmflow.value.pyfunc import ValueModel, ValueScoring, _load_pyfunc, restore_value_model, value_state
from crmflow.value.summary import customer_summary

SCORING = ValueScoring("W", True, 13.0, 12, 0.01, 1.0)
OUTPUTS = ["expected_purchases", "p_alive", "expected_spend", "clv"]


def toy_log() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for customer in range(120):
        days = np.sort(rng.choice(200, size=rng.integers(1, 8), replace=False))
        rows += [
            (f"c{customer:03d}", pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(d)), 5.0 + d % 7) for d in days
        ]
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])


@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    return customer_summary(toy_log(), pd.Timestamp("2024-06-30"))


def fitted_model(summary: pd.DataFrame, purchases: type = BGNBD, spend: str = "gamma_gamma") -> ValueModel:
    return ValueModel(CustomerValue(purchases(penalizer=1e-3), spend, 1e-3).fit(summary), SCORING)


@pytest.mark.parametrize(("purchases", "spend"), [(BGNBD, "gamma_gamma"), (ParetoNBD, "none")])
def test_the_json_state_loads_back_to_the_same_predictions(
    summary: pd.DataFrame, purchases: type, spend: str, tmp_path: Path
) -> None:
    model = fitted_model(summary, purchases, spend)
    loaded = _load_pyfunc(str(model.save(tmp_path)))
    rows = summary[model.input_columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(loaded.predict(rows), model.predict(rows), check_exact=True)
    expected = OUTPUTS if spend != "none" else OUTPUTS[:2]
    assert list(model.predict(rows).columns) == expected
    table = model.fitted.customer_table(summary, 13.0, 12, 0.01, 1.0, "W")
    np.testing.assert_array_equal(model.predict(rows)["p_alive"], table["p_alive"])
    assert json.loads((tmp_path / "value_model.json").read_text())["scoring"]["horizon"] == 13.0


def test_inputs_at_summarise_the_log_as_of_the_day_before(summary: pd.DataFrame) -> None:
    model = fitted_model(summary)
    built = model.inputs_at(toy_log(), pd.Timestamp("2024-07-01"))
    pd.testing.assert_frame_equal(built, summary.set_axis(summary.index.astype(str)), check_exact=True)
    later = model.inputs_at(toy_log(), pd.Timestamp("2024-12-01"))  # after the last purchase: only T grows
    assert (later["T"] > built.reindex(later.index)["T"].fillna(0)).all()
    assert (later["frequency"] >= 0).all()


def _broken(summary: pd.DataFrame, change: str) -> dict:
    state = value_state(fitted_model(summary))
    if change == "format":
        state["format"] = "other"
    elif change == "class":
        state["purchases"]["class"] = "os.system"
    elif change == "not_a_purchase_model":
        state["purchases"]["class"] = "sklearn.linear_model.LinearRegression"
    elif change == "missing_param":
        del state["purchases"]["params"]["r"]
    elif change == "infinite_param":
        state["spend"]["params"]["p"] = float("inf")
    elif change == "spend_name":
        state["spend"]["name"] = "lognormal"
    elif change == "time_unit":
        state["scoring"]["time_unit"] = "M"
    return state


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("format", "not a crmflow value model"),
        ("class", "'os.system' is not allowed"),
        ("not_a_purchase_model", "is not a crmflow purchase model"),
        ("missing_param", "purchase model parameters must be ['r', 'alpha', 'a', 'b']"),
        ("infinite_param", "spend model parameter p must be a finite number"),
        ("spend_name", "spend model must be one of ['gamma_gamma']"),
        ("time_unit", "predict.model.scoring.time_unit: must be"),
    ],
)
def test_a_tampered_state_is_refused_in_one_line(summary: pd.DataFrame, change: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        restore_value_model(_broken(summary, change))
    text = str(error.value)
    assert text.startswith("predict.model") and message in text and "\n" not in text


@dataclass
class Logged:
    uri: str
    run_id: str
    models: dict[str, str]
    table: pd.DataFrame  # value/customer_value.csv
    holdout: pd.DataFrame  # predictor/predictor_holdout_predictions.csv
    cutoff: pd.Timestamp
    transactions: Path
    customers: Path
    folder: Path


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Logged:
    folder = tmp_path_factory.mktemp("value-model")
    uri = f"sqlite:///{folder}/mlflow.db"
    overrides = [
        "value=bg_nbd",
        "value.settings.add_features=true",
        "rules=none",
        "tuning=off",
        "data.n_customers=400",
        "segmentation.settings.stability_resamples=0",
        f"tracking.uri={uri}",
    ]
    result = run(compose_config(overrides))
    state, _ = _load(plan_run(compose_config(overrides)), folder / "load")
    transactions, customers = folder / "transactions.csv", folder / "customers.csv"
    state.data.transactions.to_csv(transactions, index=False)
    state.data.customers.to_csv(customers, index=False)
    client = MlflowClient(uri)
    read = {"dtype": {"customer_id": str}, "index_col": "customer_id"}
    table = pd.read_csv(client.download_artifacts(result.run_id, "value/customer_value.csv", str(folder)), **read)
    holdout_path = client.download_artifacts(result.run_id, "predictor/predictor_holdout_predictions.csv", str(folder))
    holdout = pd.read_csv(holdout_path, **read)
    return Logged(
        uri, result.run_id, result.model_uris, table, holdout, state.table.cutoff, transactions, customers, folder
    )


def predict(logged: Logged, model: str, *args: str) -> None:
    main(["predict", f"model={model}", f"tracking_uri={logged.uri}", *args])


@pytest.mark.slow
def test_the_run_logs_a_value_model_beside_the_predictor(logged: Logged) -> None:
    assert sorted(logged.models) == ["predictor", "value"]
    tags = {m.tags.get("crmflow.stage") for m in MlflowClient(logged.uri).search_logged_models(["1"])}
    assert tags == {"predictor", "value"}


@pytest.mark.slow
def test_scoring_the_raw_log_as_of_the_cutoff_gives_the_runs_customer_values(logged: Logged) -> None:
    output = logged.folder / "values.csv"
    as_of = f"as_of={logged.cutoff.date()}"
    predict(logged, logged.models["value"], f"transactions={logged.transactions}", as_of, f"output={output}")
    scores = pd.read_csv(output, dtype={"customer_id": str}, index_col="customer_id")
    assert sorted(scores.index) == sorted(logged.table.index)
    columns = ["frequency", "recency", "T", "monetary_value", *OUTPUTS]
    np.testing.assert_allclose(scores[columns], logged.table.loc[scores.index, columns], rtol=0, atol=1e-9)


@pytest.mark.slow
def test_a_summary_table_scores_through_input(logged: Logged) -> None:
    summaries = logged.folder / "summaries.csv"
    logged.table[["frequency", "recency", "T", "monetary_value"]].reset_index().to_csv(summaries, index=False)
    output = logged.folder / "from_input.parquet"
    predict(logged, logged.models["value"], f"input={summaries}", f"output={output}")
    scores = pd.read_parquet(output).set_index("customer_id")
    np.testing.assert_allclose(scores["clv"], logged.table.loc[scores.index, "clv"], rtol=0, atol=1e-9)


@pytest.mark.slow
def test_a_predictor_on_value_columns_scores_the_raw_log_as_the_run_scored_its_holdout(logged: Logged) -> None:
    ids = logged.holdout.index
    frame = pd.read_csv(logged.transactions, dtype={"customer_id": str})
    sliced = logged.folder / "holdout_tx.csv"
    frame[frame["customer_id"].isin(ids)].to_csv(sliced, index=False)
    output = logged.folder / "holdout_scores.csv"
    args = [f"transactions={sliced}", f"customers={logged.customers}", f"as_of={logged.cutoff.date()}"]
    predict(logged, logged.models["predictor"], *args, f"output={output}")
    scores = pd.read_csv(output, dtype={"customer_id": str}, index_col="customer_id").loc[ids]
    assert {"p_alive", "clv"} <= set(scores.columns)
    np.testing.assert_allclose(scores["probability"], logged.holdout["probability"], rtol=0, atol=1e-9)


@pytest.mark.slow
def test_registering_the_best_run_by_a_value_metric_registers_the_value_model(
    logged: Logged, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [f"tracking_uri={logged.uri}", "experiment=synthetic", "metric=value.holdout_mae", "register=clv"]
    main(["compare", *args])
    assert "registered clv version 1" in capsys.readouterr().out
    version = MlflowClient(logged.uri).get_model_version_by_alias("clv", "champion")
    assert version.tags["crmflow.stage"] == "value"
    scored = logged.folder / "champion.csv"
    predict(
        logged,
        "models:/clv@champion",
        f"transactions={logged.transactions}",
        f"as_of={logged.cutoff.date()}",
        f"output={scored}",
    )
    assert "clv" in pd.read_csv(scored).columns
