"""crmflow's Optuna loop: failed trials are recorded as FAILED child runs and the study goes on; its progress."""

from __future__ import annotations

import io
import logging
from itertools import count
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from crmflow.config.components import parse_component
from crmflow.config.goals import Objective
from crmflow.config.search_space import parse_search_space
from crmflow.config.tuning import TuningSettings
from crmflow.errors import ConfigError
from crmflow.plan import plan_run
from crmflow.studies import Session
from crmflow.tracking import Tracker
from crmflow.tuning import tune
from crmflow.tuning_progress import Progress, progress

NODE = {"_target_": "sklearn.cluster.KMeans", "search_space": {"n_clusters": {"type": "int", "low": 2, "high": 8}}}


def settings(n_trials: int, max_failures: int = 10) -> TuningSettings:
    node = {
        "n_trials": n_trials,
        "seed": 0,
        "max_failures": max_failures,
        "objectives": {"segmentation": {"metric": "score", "direction": "maximize"}},
    }
    return TuningSettings.parse(node, ["segmentation"])


def children(tracker: Tracker, parent_id: str) -> list:
    client = MlflowClient(tracker.uri)
    return client.search_runs([tracker.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'")


def test_failed_trials_are_recorded_and_the_study_continues(tmp_path: Path) -> None:
    tracker = Tracker(f"sqlite:///{tmp_path}/mlflow.db", "tuning-test")
    spec = parse_component(NODE, "segmentation")
    calls = count()

    def evaluate(params: dict) -> dict[str, float]:
        if next(calls) % 2 == 1:
            raise RuntimeError("boom")
        return {"score": -abs(params["n_clusters"] - 5)}

    with tracker.parent_run("p", {}) as parent:
        result = tune("segmentation", spec, evaluate, settings(6), tracker)
    assert (result.n_complete, result.n_failed) == (3, 3)
    statuses = sorted(run.info.status for run in children(tracker, parent.info.run_id))
    assert statuses == ["FAILED"] * 3 + ["FINISHED"] * 3
    assert result.best_value == max(result.history["value"].dropna())


def test_failure_budget_stops_the_study_and_all_failed_is_an_error(tmp_path: Path) -> None:
    tracker = Tracker(f"sqlite:///{tmp_path}/mlflow.db", "tuning-test")
    spec = parse_component(NODE, "segmentation")

    def evaluate(params: dict) -> dict[str, float]:
        raise RuntimeError("always")

    with pytest.raises(ConfigError, match="all 3 trials of segmentation=KMeans failed"), tracker.parent_run("p", {}):
        tune("segmentation", spec, evaluate, settings(10, max_failures=2), tracker)
    runs = MlflowClient(tracker.uri).search_runs([tracker.experiment_id])
    assert {run.info.status for run in runs} == {"FAILED"}


def test_unknown_tuning_key_and_stage_are_named() -> None:
    with pytest.raises(ConfigError, match="tuning: unknown key 'n_trial'; did you mean 'n_trials'"):
        TuningSettings.parse({"n_trial": 3}, ["segmentation"])
    with pytest.raises(
        ConfigError, match="tuning.objectives: unknown stage 'segmentaton'; did you mean 'segmentation'"
    ):
        TuningSettings.parse({"objectives": {"segmentaton": {"metric": "x"}}}, ["segmentation"])


def test_auto_objective_resolves_to_the_stage_default(compose):
    plan = plan_run(compose([]))
    assert plan.tuning.objectives["predictor"] == Objective("roc_auc", "maximize")


def test_first_trial_uses_the_configured_values_inside_the_space() -> None:
    space = parse_search_space(
        {
            "n_clusters": {"type": "int", "low": 2, "high": 10, "step": 2},
            "tol": {"type": "float", "low": 0.1, "high": 1.0},
            "init": {"type": "categorical", "choices": ["k-means++", "random"]},
        },
        "segmentation.search_space",
    )
    assert space.configured_point({"n_clusters": 4, "tol": 0.5, "init": "random"}) == {
        "n_clusters": 4,
        "tol": 0.5,
        "init": "random",
    }
    # off the step grid, out of range, not a choice, wrong type: left to the sampler
    assert space.configured_point({"n_clusters": 3, "tol": 2.0, "init": "kmeans"}) == {}
    assert space.configured_point({"n_clusters": True, "tol": "0.5"}) == {}


def test_the_study_starts_from_the_configured_value(tmp_path: Path) -> None:
    tracker = Tracker(f"sqlite:///{tmp_path}/mlflow.db", "tuning-test")
    spec = parse_component({**NODE, "n_clusters": 7}, "segmentation")
    seen: list[int] = []

    def evaluate(params: dict) -> dict[str, float]:
        seen.append(params["n_clusters"])
        return {"score": float(params["n_clusters"] == 7)}

    with tracker.parent_run("p", {}):
        result = tune("segmentation", spec, evaluate, settings(3), tracker)
    assert seen[0] == 7 and result.best_params == {"n_clusters": 7}


def finished_trials(states: list[str]) -> tuple[optuna.Study, list[optuna.trial.FrozenTrial]]:
    """A study in memory with one trial per state (value = its number / 100 for the complete ones)."""
    study = optuna.create_study(direction="maximize")
    trials = []
    for number, state in enumerate(states):
        kind = getattr(TrialState, state)
        value = number / 100 if kind is TrialState.COMPLETE else None
        trial = optuna.trial.create_trial(state=kind, value=value, user_attrs={"error": "RuntimeError: boom"})
        study.add_trial(trial)
        trials.append(study.get_trials(deepcopy=False)[-1])
    return study, trials


def replay(shown: Progress, study: optuna.Study, trials: list[optuna.trial.FrozenTrial]) -> None:
    """Call the progress callback as each trial ends, the study then holding the trials up to it."""
    everything = study.get_trials(deepcopy=False)
    for end, trial in enumerate(trials, start=1):
        study.get_trials = lambda deepcopy=False, end=end: everything[:end]  # type: ignore[method-assign]
        shown(study, trial)
    shown.close()


SESSION = Session("segmentation", 20, False, 0, frozenset(), 10, None)
GOALS = (Objective("score", "maximize"),)


def test_off_a_terminal_a_line_every_n_over_10_trials_and_one_per_failure_or_prune(caplog) -> None:
    states = ["COMPLETE"] * 20
    states[5], states[9] = "FAIL", "PRUNED"
    study, trials = finished_trials(states)
    with caplog.at_level(logging.INFO, logger="crmflow.tuning"):
        replay(progress("segmentation", GOALS, SESSION, io.StringIO()), study, trials)
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "crmflow.tuning"]
    done = [int(m.split("trial ")[1].split("/")[0]) for _, m in lines]
    assert done == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]  # 6 failed, 10 pruned: their own lines
    assert lines[2] == ("WARNING", "segmentation: trial 6/20 fail RuntimeError: boom")
    assert lines[4] == ("INFO", "segmentation: trial 10/20 pruned")
    assert lines[-1] == ("INFO", "segmentation: trial 20/20 score=0.1900 | best 0.1900 (trial 19)")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_one_bar_per_study_and_failures_get_their_own_line(caplog) -> None:
    study, trials = finished_trials(["COMPLETE", "FAIL", "COMPLETE"])
    terminal = FakeTerminal()
    session = Session("segmentation", 3, False, 0, frozenset(), 10, None)
    with caplog.at_level(logging.INFO, logger="crmflow.tuning"):
        replay(progress("segmentation", GOALS, session, terminal), study, trials)
    assert [r.getMessage() for r in caplog.records if r.name == "crmflow.tuning"] == [
        "segmentation: trial 2/3 fail RuntimeError: boom"
    ]
    drawn = terminal.getvalue()
    assert "segmentation: 100%" in drawn and "3/3 [" in drawn and "best 0.0200 (trial 2)" in drawn
    assert drawn.endswith("\n")  # closed, left on screen
    assert progress("segmentation", GOALS, session, terminal, bar=False)._bar is None  # the workers' processes


def test_a_failed_last_trial_still_fills_the_bar_and_sweep_jobs_get_lines(monkeypatch) -> None:
    study, trials = finished_trials(["COMPLETE", "COMPLETE", "FAIL"])
    terminal = FakeTerminal()
    session = Session("segmentation", 3, False, 0, frozenset(), 10, None)
    replay(progress("segmentation", GOALS, session, terminal), study, trials)
    assert "3/3 [" in terminal.getvalue()
    monkeypatch.setenv("CRMFLOW_SWEEP_JOB", "1")  # jobs of a parallel sweep share the terminal
    assert progress("segmentation", GOALS, session, FakeTerminal())._bar is None
