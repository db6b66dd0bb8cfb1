"""Checks of the `tuning` node against the active stages, before any data is read: each objective and constraint
metric is one its stage reports (`{metric: auto}` resolved to the stage's default), and a pruner only where there
are folds and a single objective (Optuna cannot prune a multi-objective trial)."""

from __future__ import annotations

from crmflow.config.components import ComponentSpec
from crmflow.config.goals import AUTO, check_metric_names
from crmflow.config.tuning import TuningSettings
from crmflow.errors import ConfigError, did_you_mean
from crmflow.stages.contract import Stage

Stages = list[tuple[Stage, ComponentSpec]]


def check_tuning(tuning: TuningSettings, stages: Stages) -> None:
    """ConfigError naming the `tuning` key of the first objective or pruner the stages cannot honour."""
    _check_objectives(tuning, stages)
    _check_pruners(tuning, stages)


def _check_objectives(tuning: TuningSettings, stages: Stages) -> None:
    """Resolve `{metric: auto}` and check every objective metric against what its stage reports."""
    for stage, spec in stages:
        objective = tuning.objectives.get(stage.name)
        if objective is not None and objective.metric == AUTO:
            tuning.objectives[stage.name] = objective = stage.default_objective(spec)
        names = stage.metric_names(spec)
        if stage.name in tuning.goals or stage.name in tuning.bounds:
            goals = tuning.goals_of(stage.name) if objective is not None else ()
            check_metric_names(stage.name, goals, tuning.bounds.get(stage.name, ()), names)
        if objective is not None and objective.metric not in names:
            raise ConfigError(
                f"tuning.objectives.{stage.name}.metric: unknown metric '{objective.metric}'"
                f"{did_you_mean(objective.metric, names)} (valid: {', '.join(names)})"
            )


def _check_pruners(tuning: TuningSettings, stages: Stages) -> None:
    """A pruner stops a trial between folds: a stage named in `tuning.pruner.<stage>` must evaluate in folds, and
    a run-wide `tuning.pruner` must have a tuned stage that does."""
    with_folds = [stage.name for stage, _ in stages if stage.reports_folds]
    where = f"pruners work on the stages that evaluate in folds ({', '.join(with_folds) or 'none is active'})"
    for stage, _ in stages:
        if tuning.pruners.get(stage.name, "none") != "none" and not stage.reports_folds:
            raise ConfigError(
                f"tuning.pruner.{stage.name}: {stage.name} scores each candidate once, with no folds to stop "
                f"between; {where}"
            )
    tuned = [stage.name for stage, spec in stages if tuning.wants(stage.name) and spec.search_space]
    for name in tuned:
        if name in tuning.goals and name in with_folds and tuning.pruner_of(name) != "none":
            key = f"tuning.pruner.{name}" if name in tuning.pruners else "tuning.pruner"
            metrics = ", ".join(goal.metric for goal in tuning.goals[name])
            raise ConfigError(
                f"{key}: {name} is tuned on {len(tuning.goals[name])} objectives ({metrics}) and Optuna cannot prune "
                f"a multi-objective trial; set {key}=none or give tuning.objectives.{name} one objective"
            )
    if tuning.pruner != "none" and not any(name in with_folds for name in tuned):
        raise ConfigError(
            f"tuning.pruner: {tuning.pruner} has nothing to stop: no tuned stage evaluates in folds (tuned: "
            f"{', '.join(tuned) or 'none'}); {where}; tune one of them, or set tuning.pruner=none"
        )
