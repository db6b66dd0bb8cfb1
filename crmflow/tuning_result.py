"""A finished study as a TuningResult: its best trial (and that trial's MLflow run), history and what mattered.

Parameter importances come from Optuna's default evaluator (PED-ANOVA in Optuna 5: deterministic, no seed to
fix); a study with too few complete trials or tuned parameters gets none, with the reason logged in one INFO line.
"""

from __future__ import annotations

import logging

import optuna
import pandas as pd
from optuna.trial import TrialState

from crmflow.config.components import ComponentSpec
from crmflow.config.tuning import Objective
from crmflow.errors import ConfigError
from crmflow.stages.contract import TuningResult

__all__ = ["MIN_COMPLETE", "MIN_PARAMS", "param_importances", "study_result"]

logger = logging.getLogger(__name__)
MIN_COMPLETE = 4  # fewer complete trials say nothing about importance
MIN_PARAMS = 2  # one tuned parameter has importance 1 by definition


def study_result(stage: str, spec: ComponentSpec, objective: Objective, study: optuna.Study) -> TuningResult:
    """The study's best trial and history (all of a stored study's trials, not only this run's)."""
    trials = study.get_trials(deepcopy=False)
    complete = sum(t.state is TrialState.COMPLETE for t in trials)
    failed = sum(t.state is TrialState.FAIL for t in trials)
    if complete == 0:
        last = next((t.user_attrs["error"] for t in reversed(trials) if "error" in t.user_attrs), "see the log")
        raise ConfigError(
            f"tuning: all {failed} trials of {stage}={spec.short_name} failed (last: {last}); "
            f"check {stage} parameters and {stage}.search_space"
        )
    history = study.trials_dataframe(attrs=("number", "value", "state", "params", "duration"))
    best = study.best_trial
    importances, skipped = param_importances(stage, study)
    run_id = best.user_attrs.get("mlflow_run_id")
    return TuningResult(
        objective, dict(best.params), float(best.value), complete, failed, history, run_id, importances, skipped
    )


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
    importances = optuna.importance.get_param_importances(study)
    frame = pd.DataFrame({"parameter": list(importances), "importance": list(importances.values())})
    return frame.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True), None
