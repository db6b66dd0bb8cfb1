"""The value stage on synthetic data: check/prepare/score/finalize for every purchase model, its metrics and
artifacts, the settings checks before any data is read, and a trial whose optimiser does not converge."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import compose_config
from mlflow.tracking import MlflowClient

from crmflow.config.goals import Objective
from crmflow.errors import ConfigError
from crmflow.plan import plan_run
from crmflow.privacy import HASH, Privacy
from crmflow.run import _load, run
from crmflow.value.errors import FitError
from crmflow.value.estimator import CustomerValue
from crmflow.value.evaluation import baseline_purchases, holdout_metrics
from crmflow.value.models import PURCHASE_MODELS
from crmflow.value.report import CUSTOMER_COLUMNS
from crmflow.value.stage import ValueStage

ONLY_VALUE = ["segmentation=none", "rules=none", "predictor=none", "tuning=off", "data.n_customers=300"]
PLOTS = ("value_holdout_by_frequency.png", "value_cumulative_purchases.png", "value_p_alive.png")


def _planned(tmp_path: Path, *overrides: str):
    plan = plan_run(compose_config([*ONLY_VALUE, *overrides]))
    (stage, spec), = plan.stages  # fmt: skip
    state, _ = _load(plan, tmp_path)
    return stage, spec, state


@pytest.mark.parametrize("option", sorted(PURCHASE_MODELS))
def test_stage_contract_for_every_model(option: str, tmp_path: Path) -> None:
    stage, spec, state = _planned(tmp_path, f"value={option}")
    assert isinstance(stage, ValueStage) and isinstance(spec.build(), CustomerValue)
    assert type(spec.build().purchases) is PURCHASE_MODELS[option]
    stage.check(spec, state)
    prepared = stage.prepare(spec, state)
    # calibration_end null: the day before the features cutoff (the features count purchases before that day)
    assert prepared.end == state.table.cutoff - pd.Timedelta(days=1)
    assert prepared.horizon == pytest.approx(13.0 + 1 / 7)  # the cutoff day and the 90 days after it, in weeks
    trial = stage.score(spec.build({"purchases__penalizer": 1e-3}), prepared, spec)
    assert set(stage.metric_names(spec)) <= set(trial)
    result = stage.finalize(spec.build(), prepared, spec, state, None)
    metrics = result.metrics
    params = PURCHASE_MODELS[option].param_names
    assert all(metrics[name] > 0 for name in params)
    assert metrics["log_likelihood"] < 0 and all(math.isfinite(v) for k, v in metrics.items() if "correlation" not in k)
    assert 0 <= metrics["holdout_mae"] <= metrics["holdout_rmse"]
    assert metrics["holdout_mae"] < 2 * metrics["baseline_holdout_mae"]
    assert abs(metrics["holdout_total_error_pct"]) < 50
    assert {"spend.p", "spend.q", "spend.gamma", "spend.frequency_spend_correlation"} <= set(metrics)
    assert metrics["clv_total"] > 0 and 0 < metrics["p_alive_mean"] <= 1
    names = {p.name for p in result.artifacts}
    assert {"customer_value.csv", "value_model.txt", "value_holdout_by_frequency.csv", *PLOTS} <= names
    assert all(p.is_file() and p.stat().st_size > 0 for p in result.artifacts)
    table = pd.read_csv(tmp_path / "customer_value.csv", index_col="customer_id")
    assert list(table.columns) == CUSTOMER_COLUMNS and len(table) == metrics["n_customers"]
    assert table["p_alive"].between(0, 1).all() and (table["clv"] >= 0).all()
    assert table["actual_purchases"].sum() == metrics["holdout_actual_total"]
    assert table["expected_purchases"].sum() == pytest.approx(metrics["holdout_predicted_total"])


def test_default_objective_is_holdout_mae_minimized() -> None:
    plan = plan_run(compose_config([*ONLY_VALUE[:-2], "value=bg_nbd"]))
    (stage, spec), = plan.stages  # fmt: skip
    assert stage.default_objective(spec) == Objective("holdout_mae", "minimize")
    assert plan.tuning.objectives["value"] == Objective("holdout_mae", "minimize")
    assert list(spec.search_space.names) == ["purchases__penalizer"]


def test_spend_none_leaves_out_spend_and_clv(tmp_path: Path) -> None:
    stage, spec, state = _planned(tmp_path, "value=pareto_nbd", "value.spend=none", "value.settings.time_unit=D")
    prepared = stage.prepare(spec, state)
    assert prepared.horizon == pytest.approx(92.0)  # the cutoff day, 90 days, the partial last day
    result = stage.finalize(spec.build(), prepared, spec, state, None)
    assert not any(k.startswith("spend.") or k.startswith("clv") for k in result.metrics)
    table = pd.read_csv(tmp_path / "customer_value.csv")
    assert "clv" not in table and "expected_spend" not in table and "p_alive" in table


def test_customer_ids_follow_the_privacy_setting(tmp_path: Path) -> None:
    stage, spec, state = _planned(tmp_path, "value=bg_nbd", "value.settings.calibration_end=2023-06-30")
    state.privacy = Privacy(HASH, b"k" * 32)
    prepared = stage.prepare(spec, state)
    assert prepared.end == pd.Timestamp("2023-06-30")
    stage.finalize(spec.build(), prepared, spec, state, None)
    ids = pd.read_csv(tmp_path / "customer_value.csv", dtype={"customer_id": str})["customer_id"]
    assert not set(ids) & set(prepared.summary.index.astype(str))
    assert ids.str.fullmatch(r"[0-9a-f]{16}").all()


def test_baseline_is_the_calibration_rate_times_the_horizon() -> None:
    summary = pd.DataFrame({"frequency": [0, 2, 3], "recency": [0.0, 4.0, 5.0], "T": [0.0, 8.0, 10.0]})
    assert baseline_purchases(summary, 4.0).tolist() == [0.0, 1.0, 1.2]
    metrics = holdout_metrics(pd.Series([0.0, 1.0, 1.2]), pd.Series([0, 2, 1]))
    assert metrics["holdout_mae"] == pytest.approx(1.2 / 3)
    assert metrics["holdout_rmse"] == pytest.approx(np.sqrt(1.04 / 3))
    assert metrics["holdout_total_error_pct"] == pytest.approx(100 * -0.8 / 3)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("value.settings.horizon=0", r"^value\.settings\.horizon: must be a float in the range \(0, inf\)"),
        ("value.settings.horizon=-3", r"^value\.settings\.horizon: "),
        ("value.settings.time_unit=M", r"^value\.settings\.time_unit: .*'D', 'W'"),
        ("value.settings.calibration_end=someday", r"^value\.settings\.calibration_end: "),
        ("value.settings.clv_months=0", r"^value\.settings\.clv_months: "),
        ("value.spend=gama_gamma", r"^value\.spend: .*did you mean 'gamma_gamma'"),
        ("value.purchases.penalizer=-1", r"^value\.purchases\.penalizer: "),
    ],
)
def test_bad_settings_fail_in_the_plan(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        plan_run(compose_config([*ONLY_VALUE, "value=mbg_nbd", override]))


@pytest.mark.slow
def test_a_trial_that_does_not_converge_fails_and_the_study_goes_on(
    tmp_path: Path, tracking_overrides: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = CustomerValue.fit_purchases

    def flaky(self: CustomerValue, summary: pd.DataFrame):
        if self.purchases.penalizer > 1e-3:
            raise FitError("value: BGNBD did not converge (Maximum number of iterations has been exceeded.)")
        return original(self, summary)

    monkeypatch.setattr(CustomerValue, "fit_purchases", flaky)
    overrides = [*ONLY_VALUE[:-2], "data.n_customers=300", "value=bg_nbd", "tuning.n_trials=6", *tracking_overrides]
    result = run(compose_config(overrides))
    (summary,) = result.stages
    assert summary.tuning.n_failed >= 1 and summary.tuning.n_complete >= 1
    assert float(summary.best_params["purchases__penalizer"]) <= 1e-3
    client = MlflowClient(result.tracking_uri)
    parent = client.get_run(result.run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["value.tuning.n_trials_failed"] == summary.tuning.n_failed
    kids = client.search_runs([result.experiment_id], f"tags.mlflow.parentRunId = '{result.run_id}'")
    failed = [k for k in kids if k.info.status == "FAILED"]
    assert len(failed) == summary.tuning.n_failed
    assert all("did not converge" in k.data.tags["crmflow.error"] for k in failed)


def test_trials_never_see_the_holdout(tmp_path: Path) -> None:
    stage, spec, state = _planned(tmp_path, "value=bg_nbd")
    prepared = stage.prepare(spec, state)
    trial = prepared.trial
    span = prepared.end - state.data.transactions["timestamp"].min().normalize()
    assert trial.horizon == pytest.approx((span * 0.25).days / 7, abs=1 / 7)  # the latest quarter of the calibration
    assert trial.summary["T"].max() < prepared.summary["T"].max() and len(trial.summary) <= len(prepared.summary)
    scored = stage.score(spec.build(), prepared, spec)
    assert scored["baseline_holdout_mae"] == pytest.approx(trial.baseline["baseline_holdout_mae"])
    # the same trial score when every purchase after the calibration end (its whole last day) is dropped
    transactions = state.data.transactions
    kept = transactions[transactions["timestamp"] < prepared.end + pd.Timedelta(days=1)]
    later = kept.tail(1).assign(timestamp=prepared.end + pd.Timedelta(days=3))  # a holdout must still follow
    state.data.transactions = pd.concat([kept, later])
    again = stage.score(spec.build(), stage.prepare(spec, state), spec)
    assert again == pytest.approx(scored)
