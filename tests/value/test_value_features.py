"""value.settings.add_features: P(alive), expected purchases, spend and CLV join the customer table for later stages
(segmentation columns, segment profiles, predictor features), only as of the features cutoff."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from helpers import assert_one_line_error, compose_config, run_cli
from mlflow.tracking import MlflowClient

from crmflow.config.components import parse_component
from crmflow.errors import ConfigError
from crmflow.plan import plan_run
from crmflow.run import _load
from crmflow.value.settings import ValueSettings
from crmflow.value.stage import ValueStage

BASE = ["rules=none", "tuning=off", "data.n_customers=300", "value=bg_nbd", "value.settings.add_features=true"]


def test_finalize_joins_the_value_columns_to_the_customer_table(tmp_path: Path) -> None:
    plan = plan_run(compose_config([*BASE, "segmentation=none", "predictor=none"]))
    (stage, spec), = plan.stages  # fmt: skip
    state, _ = _load(plan, tmp_path)
    before = state.table.X.copy()
    stage.check(spec, state)
    assert state.coming_columns == dict.fromkeys(
        ["p_alive", "expected_purchases", "expected_spend", "clv"], "value.settings.add_features"
    )
    assert list(state.table.X.columns) == list(before.columns)  # check adds nothing yet
    stage.finalize(spec.build(), stage.prepare(spec, state), spec, state, None)
    X = state.table.X
    assert list(X.columns) == [*before.columns, "p_alive", "expected_purchases", "expected_spend", "clv"]
    pd.testing.assert_frame_equal(X[before.columns], before)
    values = pd.read_csv(tmp_path / "customer_value.csv", index_col="customer_id", dtype={"customer_id": str})
    assert X.loc[values.index, "clv"].to_numpy() == pytest.approx(values["clv"].to_numpy())
    assert X["p_alive"].between(0, 1).all()  # every synthetic customer bought by the cutoff


def test_without_spend_only_the_purchase_columns_join(tmp_path: Path) -> None:
    plan = plan_run(compose_config([*BASE, "segmentation=none", "predictor=none", "value.spend=none"]))
    (stage, spec), = plan.stages  # fmt: skip
    state, _ = _load(plan, tmp_path)
    stage.check(spec, state)
    assert list(state.coming_columns) == ["p_alive", "expected_purchases"]


def test_an_explicit_calibration_end_is_refused_before_any_data() -> None:
    node = compose_config([*BASE, "value.settings.calibration_end=2023-06-30"]).value
    with pytest.raises(ConfigError, match=r"^value\.settings\.add_features: true needs value\.settings\.calibration_end: null"):  # fmt: skip
        ValueStage().check_config(parse_component(node, "value", ValueSettings))


@pytest.mark.slow
def test_segments_on_clv_and_p_alive_are_profiled_by_them(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    result = run_cli(*BASE, "segmentation.settings.columns=[clv,p_alive]", f"tracking.uri={uri}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(uri)
    (parent,) = client.search_runs([client.get_experiment_by_name("synthetic").experiment_id])
    assert parent.info.status == "FINISHED" and parent.data.metrics["predictor.roc_auc"] > 0.5
    path = client.download_artifacts(parent.info.run_id, "segmentation/segment_profiles.csv", str(tmp_path))
    profiles = pd.read_csv(path)
    assert {"mean_clv", "mean_p_alive", "mean_expected_purchases"} <= set(profiles.columns)
    assert profiles["mean_clv"].nunique() == len(profiles)  # segments on CLV differ in mean CLV


def test_a_segmentation_column_nobody_adds_is_still_refused(tmp_path: Path) -> None:
    result = run_cli(*BASE[:-1], "segmentation.settings.columns=[clv]", "predictor=none", cwd=tmp_path)
    assert_one_line_error(result, "segmentation.settings.columns: ['clv'] are not customer features", tmp_path)


def test_scoring_raw_transactions_needs_the_runs_value_model(tmp_path: Path) -> None:
    from crmflow.raw_value import value_columns_joined, value_model_uri

    config = {"value": {"_target_": "crmflow.value.estimator.CustomerValue", "settings": {"add_features": True}}}
    assert value_columns_joined(config)
    assert not value_columns_joined({"value": {"_target_": None, "settings": {"add_features": True}}})
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    run_id = client.create_run(client.create_experiment("plain")).info.run_id  # a run that logged no value model
    with pytest.raises(ConfigError, match=rf"^predict\.transactions: the run {run_id} joined the value stage's"):
        value_model_uri(run_id, uri)
