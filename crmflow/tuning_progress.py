"""One log line per finished trial of a stage's study: its objective values and the best so far (or the size of
the Pareto front), why it was pruned, or why it failed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import optuna
from optuna.trial import TrialState

from crmflow.config.goals import Objective
from crmflow.studies import Session

logger = logging.getLogger("crmflow.tuning")


def progress(stage: str, goals: tuple[Objective, ...], session: Session) -> Callable[[optuna.Study, Any], None]:
    """A study callback logging each finished trial in one line: its values, or why it was pruned or failed."""

    def report(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        done = session.finished(study.get_trials(deepcopy=False))
        if trial.state is TrialState.COMPLETE:
            shown = ", ".join(f"{goal.metric}={value:.4f}" for goal, value in zip(goals, trial.values, strict=True))
            infeasible = " (infeasible)" if any(v > 0 for v in trial.constraints.values()) else ""
            logger.info("%s: trial %d/%d %s%s | %s", stage, done, session.target, shown, infeasible, _best(study))
        elif trial.state is TrialState.PRUNED:
            logger.info("%s: trial %d/%d %s", stage, done, session.target, trial.user_attrs.get("pruned", "pruned"))
        else:
            reason = trial.user_attrs.get("error", "")
            logger.warning("%s: trial %d/%d %s %s", stage, done, session.target, trial.state.name.lower(), reason)

    return report


def _best(study: optuna.Study) -> str:
    """The study's best so far: the best feasible trial, or the size of the Pareto front."""
    if len(study.directions) > 1:
        return f"Pareto front: {len(study.best_trials)} trials"
    try:
        best = study.best_trial
    except ValueError:  # no feasible trial yet
        return "no trial meets the constraints yet"
    return f"best {best.value:.4f} (trial {best.number})"
