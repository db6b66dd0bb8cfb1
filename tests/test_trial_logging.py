"""`tracking.trials`: runs (a nested run per trial), steps (steps of the parent's metrics), none (nothing)."""

from __future__ import annotations

from itertools import count
from pathlib import Path
from types import SimpleNamespace

import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from crmflow.config.components import parse_component
from crmflow.config.tracking import trial_logging
from crmflow.config.tuning import TuningSettings
from crmflow.errors import ConfigError
from crmflow.tracking import Tracker
from crmflow.tracking.trials import NoTrials, StepTrials, trial_logger
from crmflow.tuning import tune

NODE = {"_target_": "sklearn.cluster.KMeans", "search_space": {"n_clusters": {"type": "int", "low": 2, "high": 8}}}
SETTINGS = {"seed": 0, "objectives": {"segmentation": {"metric": "score", "direction": "maximize"}}}


def run_study(tmp_path: Path, mode: str, n_trials: int = 6) -> tuple[Tracker, str, object]:
    """Six trials, every second one failing (trials 1, 3, 5), score = -|n_clusters - 5|."""
    tracker = Tracker(f"sqlite:///{tmp_path}/mlflow.db", "trials-test", trials=mode)
    calls = count()

    def evaluate(params: dict) -> dict[str, float]:
        if next(calls) % 2 == 1:
            raise RuntimeError("boom")
        return {"score": -abs(params["n_clusters"] - 5), "other": 1.0}

    settings = TuningSettings.parse({**SETTINGS, "n_trials": n_trials}, ["segmentation"])
    with tracker.parent_run("p", {}) as parent:
        result = tune("segmentation", parse_component(NODE, "segmentation"), evaluate, settings, tracker, tmp_path)
    return tracker, parent.info.run_id, result


def runs_of(tracker: Tracker) -> list:
    return MlflowClient(tracker.uri).search_runs([tracker.experiment_id])


def test_runs_mode_makes_a_nested_run_per_trial(tmp_path: Path) -> None:
    tracker, parent, result = run_study(tmp_path, "runs")
    assert (result.n_complete, result.n_failed) == (3, 3)
    kids = [r for r in runs_of(tracker) if r.data.tags.get("mlflow.parentRunId") == parent]
    assert sorted(r.info.status for r in kids) == ["FAILED"] * 3 + ["FINISHED"] * 3
    assert not [k for k in MlflowClient(tracker.uri).get_run(parent).data.metrics if ".trial." in k]


def test_steps_mode_logs_each_completed_trial_as_a_step_of_the_parent(tmp_path: Path) -> None:
    tracker, parent, result = run_study(tmp_path, "steps")
    assert (result.n_complete, result.n_failed) == (3, 3)  # the failures are in the study, and it went on
    assert [r.info.run_id for r in runs_of(tracker)] == [parent]  # no nested run
    client = MlflowClient(tracker.uri)
    history = client.get_metric_history(parent, "segmentation.trial.score")
    assert [m.step for m in history] == [0, 2, 4]  # the completed trials, by number
    complete = result.history.loc[result.history["state"] == "COMPLETE"]
    assert [m.value for m in history] == list(complete["value"])
    params = client.get_metric_history(parent, "segmentation.trial.param.n_clusters")
    assert [(m.step, m.value) for m in params] == list(zip(complete["number"], complete["params_n_clusters"] * 1.0))
    assert "segmentation.trial.other" not in client.get_run(parent).data.metrics  # the objective only
    assert result.best_run_id is None


def test_none_mode_logs_nothing_per_trial(tmp_path: Path) -> None:
    tracker, parent, result = run_study(tmp_path, "none")
    assert (result.n_complete, result.n_failed) == (3, 3)
    assert [r.info.run_id for r in runs_of(tracker)] == [parent]
    assert MlflowClient(tracker.uri).get_run(parent).data.metrics == {}


class FakeParent:
    trials = "steps"

    def __init__(self) -> None:
        self.logged: list[tuple[dict, str, int]] = []

    def log_metrics(self, metrics: dict, prefix: str = "", step: int = 0) -> None:
        self.logged.append((dict(metrics), prefix, step))

    def worker(self) -> FakeParent:
        return self


def test_a_step_trial_logs_its_objective_and_numeric_parameters_only_when_it_completes() -> None:
    parent = FakeParent()
    steps = StepTrials(parent, "rules", ("hit_rate",))
    params = {"min_support": 0.02, "max_len": 3, "engine": "crmflow", "dedupe": True}
    with steps.child_run("rules · trial 7", params, {"crmflow.trial": "7"}) as run:
        assert run is None
        steps.log_metrics({"hit_rate_by_fold": 0.4}, step=1)  # a fold metric: dropped
        steps.log_metrics({"hit_rate": 0.5, "precision": 0.1})
    with pytest.raises(ValueError), steps.child_run("rules · trial 8", params, {"crmflow.trial": "8"}):
        steps.log_metrics({"hit_rate": 0.6})
        raise ValueError("failed after logging")
    assert parent.logged == []  # nothing before the study has stored the trial
    steps.after_trial(None, SimpleNamespace(number=8, state=TrialState.FAIL))
    steps.after_trial(None, SimpleNamespace(number=7, state=TrialState.FAIL))  # the tell failed: no step
    assert parent.logged == []
    with steps.child_run("rules · trial 9", params, {"crmflow.trial": "9"}):
        steps.log_metrics({"hit_rate": 0.5, "precision": 0.1})
    steps.after_trial(None, SimpleNamespace(number=9, state=TrialState.COMPLETE))
    expected = {"trial.hit_rate": 0.5, "trial.param.min_support": 0.02, "trial.param.max_len": 3.0}
    assert parent.logged == [(expected, "rules.", 9)]


def test_the_mode_picks_the_logger_and_an_unknown_mode_is_named() -> None:
    parent = FakeParent()
    assert isinstance(trial_logger(parent, "rules", ("x",)), StepTrials)
    parent.trials = "none"
    assert isinstance(trial_logger(parent, "rules", ("x",)), NoTrials)
    parent.trials = "runs"
    assert trial_logger(parent, "rules", ("x",)) is parent
    assert trial_logging({}) == "runs" and trial_logging({"trials": "steps"}) == "steps"
    with pytest.raises(
        ConfigError, match=r"^tracking.trials: .*'none', 'runs', 'steps'.*got 'step'; did you mean 'steps'"
    ):
        trial_logging({"trials": "step"})
