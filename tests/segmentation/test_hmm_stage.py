"""segmentation=hmm in the segmentation stage: the activity panel of the log before the cutoff, current states as
segments, BIC as the default objective, transition artifacts and next-period shares in the profiles, and the
customers the synthetic log churned long before the cutoff found dormant."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from helpers import assert_one_line_error, compose_config, run_cli
from mlflow.tracking import MlflowClient

from crmflow.config.goals import Objective
from crmflow.plan import plan_run
from crmflow.run import _load
from crmflow.segmentation.hmm_states import CustomerStates
from crmflow.segmentation.stage import SegmentationStage

ONLY = ["segmentation=hmm", "rules=none", "predictor=none", "tuning=off", "data.n_customers=400",
        "segmentation.settings.stability_resamples=2"]  # fmt: skip


def test_the_stage_segments_customers_by_their_current_state(tmp_path: Path) -> None:
    plan = plan_run(compose_config(ONLY))
    (stage, spec), = plan.stages  # fmt: skip
    assert isinstance(stage, SegmentationStage) and isinstance(spec.build(), CustomerStates)
    assert stage.default_objective(spec) == Objective("bic", "minimize")
    assert {"bic", "aic", "log_likelihood"} <= set(stage.metric_names(spec))
    state, _ = _load(plan, tmp_path)
    stage.check(spec, state)
    prepared = stage.prepare(spec, state)
    trial = stage.score(spec.build({"n_states": 2}), prepared, spec)
    assert set(stage.metric_names(spec)) - {"stability"} <= set(trial)
    result = stage.finalize(spec.build(), prepared, spec, state, None)
    assert result.metrics["n_segments"] == 3 and trial["n_segments"] == 2 and trial["bic"] != result.metrics["bic"]
    names = {p.name for p in result.artifacts}
    assert {"state_transitions.csv", "state_transitions.png", "state_means.csv"} <= names
    transitions = pd.read_csv(tmp_path / "state_transitions.csv", index_col="from_state")
    assert list(transitions.index) == ["active", "slowing", "dormant"]
    assert transitions.sum(axis=1).to_numpy() == pytest.approx(1.0)
    profiles = pd.read_csv(tmp_path / "segment_profiles.csv", index_col=0)
    assert {"next_active", "next_slowing", "next_dormant"} <= set(profiles.columns)
    assert profiles.loc[2, "name"] == "dormant"
    assert state.segments.segmenter is None  # labels from the log: the predictor cannot refit them on features
    labels = state.segments.labels
    truth = state.data.truth.set_index("customer_id")["churn_time"]
    long_gone = truth.index[truth < state.table.cutoff - pd.Timedelta(days=120)]
    assert (labels.reindex(long_gone) == 2).mean() >= 0.9  # churned 4+ months before the cutoff: dormant


@pytest.mark.slow
def test_a_run_with_the_predictor_tunes_on_bic_and_leaves_the_segment_feature_out(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    overrides = [*ONLY[:2], "data.n_customers=400", "tuning.n_trials=2", "tuning.stages.predictor.n_trials=1",
                 "segmentation.settings.stability_resamples=0", f"tracking.uri={uri}"]  # fmt: skip
    result = run_cli(*overrides, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "the segments come from the transaction log, not the customer features" in result.stdout + result.stderr
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("synthetic").experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    metrics = parent.data.metrics
    assert parent.info.status == "FINISHED"
    assert metrics["segmentation.best_value"] == pytest.approx(metrics["segmentation.bic"])  # tuned on BIC


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            ["segmentation.n_states=1"],
            "segmentation.n_states: The 'n_states' parameter of CustomerStates must be an int in the range [2, inf)",
        ),
        (["data.days=200", "segmentation.n_states=5"], "segmentation.n_states: 5 states need at least 5 periods"),
        (["segmentation.period=D"], "segmentation.period"),
        (["segmentation.features=[spnd]"], "segmentation.features: unknown activity feature 'spnd'"),
        (["segmentation.settings.fit_sample=100"], "segmentation.settings.fit_sample"),
    ],
)
def test_bad_hmm_settings_get_one_line(overrides: list[str], expected: str, tmp_path: Path) -> None:
    assert_one_line_error(run_cli(*ONLY, *overrides, cwd=tmp_path), expected, tmp_path)
