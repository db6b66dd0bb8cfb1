"""A finished study as a TuningResult: its best trial (and that trial's MLflow run), history and what mattered.

Parameter importances come from Optuna's default evaluator (PED-ANOVA in Optuna 5: deterministic, no seed to
fix); a study with too few complete trials or tuned parameters gets none, with the reason logged in one INFO line.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from crmflow.config.components import ComponentSpec
from crmflow.config.goals import Objective
from crmflow.errors import ConfigError
from crmflow.pareto import front_table, select
from crmflow.stages.contract import TuningResult

__all__ = ["MIN_COMPLETE", "MIN_PARAMS", "param_importances", "study_result"]

logger = logging.getLogger(__name__)
MIN_COMPLETE = 4  # fewer complete trials say nothing about importance
MIN_PARAMS = 2  # one tuned parameter has importance 1 by definition


def study_result(
    stage: str, spec: ComponentSpec, goals: Sequence[Objective], rule: str, study: optuna.Study
) -> TuningResult:
    """The study's best trial and history (all of a stored study's trials, not only this run's); with two or more
    goals, the member of the Pareto front that `rule` (`tuning.select`) picks, and the front itself."""
    trials = study.get_trials(deepcopy=False)
    complete = sum(t.state is TrialState.COMPLETE for t in trials)
    failed = sum(t.state is TrialState.FAIL for t in trials)
    pruned = sum(t.state is TrialState.PRUNED for t in trials)
    if complete == 0:
        last = next((t.user_attrs["error"] for t in reversed(trials) if "error" in t.user_attrs), "see the log")
        raise ConfigError(
            f"tuning: all {failed} trials of {stage}={spec.short_name} failed (last: {last}); "
            f"check {stage} parameters and {stage}.search_space"
        )
    front = None
    if len(goals) > 1:
        best = select(_feasible(stage, spec, study.best_trials), goals, rule)
        front = front_table(study, goals).assign(selected=lambda table: table["number"] == best.number)
        run_ids = {trial.number: trial.user_attrs.get("mlflow_run_id") for trial in trials}
        front.insert(1, "run_id", front["number"].map(run_ids))
    else:
        best = _feasible(stage, spec, [_best_trial(study)])[0]
    importances, skipped = param_importances(stage, study)
    return TuningResult(
        goals[0],
        dict(best.params),
        float(best.values[0]),
        complete,
        failed,
        _history(study, goals),
        best.user_attrs.get("mlflow_run_id"),
        importances,
        skipped,
        pruned,
        front,
        tuple(goals) if front is not None else (),
    )


def _best_trial(study: optuna.Study) -> FrozenTrial | None:
    """The best feasible trial of a single-objective study, None when no trial meets the constraints."""
    try:
        return study.best_trial
    except ValueError:
        return None


def _feasible(stage: str, spec: ComponentSpec, candidates: list[FrozenTrial | None]) -> list[FrozenTrial]:
    """The candidates; a ConfigError naming `tuning.constraints.<stage>` when no complete trial meets them."""
    found = [trial for trial in candidates if trial is not None]
    if not found:
        raise ConfigError(
            f"tuning.constraints.{stage}: no complete trial of {stage}={spec.short_name} meets them; loosen the "
            f"constraints or widen {stage}.search_space (the trials' metrics are in the MLflow child runs)"
        )
    return found


def _history(study: optuna.Study, goals: Sequence[Objective]) -> pd.DataFrame:
    """Number, value (the first goal), state, parameters and duration per trial; `value_<metric>` per goal of a
    multi-objective study."""
    history = study.trials_dataframe(attrs=("number", "value", "state", "params", "duration"))
    if len(goals) > 1:
        renamed = {f"values_{i}": f"value_{goal.metric}" for i, goal in enumerate(goals)}
        history = history.rename(columns=renamed)
        history.insert(1, "value", history[f"value_{goals[0].metric}"])
    return history


def param_importances(stage: str, study: optuna.Study) -> tuple[pd.DataFrame | None, str | None]:
    """(parameter, importance) rows, most important first; or None and the reason when the study is too small."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    names = sorted({name for trial in complete for name in trial.params})
    reason = None
    if len(complete) < MIN_COMPLETE:
        reason = f"{len(complete)} complete trials (at least {MIN_COMPLETE} needed)"
    elif len(names) < MIN_PARAMS:
        reason = f"{len(names)} tuned parameter ({', '.join(names) or 'none'}; at least {MIN_PARAMS} needed)"
    if reason is not None:
        logger.info("%s: parameter importances skipped: %s", stage, reason)
        return None, reason
    first = None if len(study.directions) == 1 else (lambda trial: trial.values[0])  # of the first goal
    importances = optuna.importance.get_param_importances(study, target=first)
    frame = pd.DataFrame({"parameter": list(importances), "importance": list(importances.values())})
    return frame.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True), None
