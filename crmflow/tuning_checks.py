"""Checks of the `tuning` node against the active stages, before any data is read: each objective and constraint
metric is one its stage reports (`{metric: auto}` resolved to the stage's default), and a pruner only where there
are folds and a single objective (Optuna cannot prune a multi-objective trial)."""

from __future__ import annotations

import logging

from crmflow.config.components import ComponentSpec
from crmflow.config.goals import AUTO, check_metric_names
from crmflow.config.tuning import TuningSettings
from crmflow.errors import ConfigError, did_you_mean
from crmflow.stages.contract import Stage

logger = logging.getLogger(__name__)
Stages = list[tuple[Stage, ComponentSpec]]
MIN_WILCOXON_FOLDS = 4  # a one-sided signed-rank test on n folds cannot go below p = 2**-n


def check_tuning(tuning: TuningSettings, stages: Stages) -> None:
    """ConfigError naming the `tuning` key of the first objective, rule, constraint or pruner the stages cannot
    honour."""
    _check_objectives(tuning, stages)
    _check_rules(tuning, stages)
    _check_pruners(tuning, stages)


def _check_rules(tuning: TuningSettings, stages: Stages) -> None:
    """A per-stage `tuning.select` needs a front to pick from; constraints need trials to judge."""
    for stage, spec in stages:
        name = stage.name
        if isinstance(tuning.select, dict) and name in tuning.select and name not in tuning.goals:
            raise ConfigError(
                f"tuning.select.{name}: {name} has one objective, so its best trial is the winner; a rule picks a "
                f"member of a Pareto front: give tuning.objectives.{name} two or more metrics, or drop the rule"
            )
        if name in tuning.bounds and not (tuning.wants(name) and spec.search_space):
            raise ConfigError(
                f"tuning.constraints.{name}: {name} is not tuned in this run (no objective, trials or search space), "
                "so no trial is judged by them; tune it or drop them"
            )


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
    """Resolve which tuned stages a pruner stops, into `tuning.pruners` (the run-wide `tuning.pruner` then none).

    A pruner stops a trial between folds, so a stage named in `tuning.pruner.<stage>` must evaluate in folds (at
    least 4 for wilcoxon, whose one-sided test cannot reach p < 0.1 on fewer) and have one objective (Optuna
    cannot prune a multi-objective trial); a run-wide pruner applies to the tuned stages where it can work, and
    must have at least one."""
    folds = {stage.name: stage.tuning_folds(spec) for stage, spec in stages}
    tuned = [stage.name for stage, spec in stages if tuning.wants(stage.name) and spec.search_space]
    with_folds = ", ".join(f"{name} ({n} folds)" for name, n in folds.items() if n) or "none is active"
    resolved = {}
    for name in tuned:
        explicit = name in tuning.pruners
        pruner, key = tuning.pruner_of(name), f"tuning.pruner.{name}" if explicit else "tuning.pruner"
        reason = _cannot_prune(pruner, name, folds[name], tuning)
        if pruner == "none" or (reason and not explicit and "multi-objective" not in reason):
            if pruner != "none":
                logger.info("%s: tuning.pruner=%s leaves %s alone: %s", name, pruner, name, reason)
            continue
        if reason:
            raise ConfigError(f"{key}: {reason}; pruners work on the stages that evaluate in folds: {with_folds}")
        resolved[name] = pruner
    if tuning.pruner != "none" and not resolved:
        raise ConfigError(
            f"tuning.pruner: {tuning.pruner} has nothing to stop: no tuned stage (tuned: {', '.join(tuned) or 'none'}) "
            f"evaluates in folds it can prune between; stages with folds: {with_folds}; or set tuning.pruner=none"
        )
    tuning.pruners, tuning.pruner = resolved, "none"


def _cannot_prune(pruner: str, stage: str, folds: int, tuning: TuningSettings) -> str:
    """Why `pruner` cannot stop `stage`'s trials ("" when it can)."""
    if folds == 0:
        return f"{stage} scores each candidate once, with no folds to stop between"
    if stage in tuning.goals:
        metrics = ", ".join(goal.metric for goal in tuning.goals[stage])
        return (
            f"{stage} is tuned on {len(tuning.goals[stage])} objectives ({metrics}) and Optuna cannot prune a "
            f"multi-objective trial; set it to none or give tuning.objectives.{stage} one objective"
        )
    if pruner == "wilcoxon" and folds < MIN_WILCOXON_FOLDS:
        return (
            f"wilcoxon needs at least {MIN_WILCOXON_FOLDS} folds to reach p < 0.1, and {stage} scores {folds}; "
            "use median, or more folds"
        )
    return ""
