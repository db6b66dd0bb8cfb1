"""crmflow's own Optuna loop: one study per tuned stage, one nested MLflow run per trial."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

import optuna

from crmflow.config.components import ComponentSpec, build_node
from crmflow.config.tuning import Objective, TuningSettings
from crmflow.errors import ConfigError
from crmflow.stages.contract import TuningResult

logger = logging.getLogger(__name__)


class TrialLogger(Protocol):
    """What a study needs from tracking: a run per trial, and the trial's metrics logged in it."""

    def child_run(
        self, name: str, params: Mapping[str, Any], tags: Mapping[str, str]
    ) -> AbstractContextManager[Any]: ...

    def log_metrics(self, metrics: Mapping[str, float], prefix: str = "") -> None: ...


def _sampler(settings: TuningSettings) -> optuna.samplers.BaseSampler:
    if settings.sampler is None:
        return optuna.samplers.TPESampler(seed=settings.seed)
    return build_node(settings.sampler, "tuning.sampler")


def _progress(stage: str, objective: Objective, total: int) -> Callable[[optuna.Study, Any], None]:
    def report(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        done = len(study.trials)
        if trial.state is optuna.trial.TrialState.COMPLETE:
            best = study.best_trial
            logger.info(
                "%s: trial %d/%d %s=%.4f | best %.4f (trial %d)",
                stage,
                done,
                total,
                objective.metric,
                trial.value,
                best.value,
                best.number,
            )
        else:
            reason = trial.user_attrs.get("error", "")
            logger.warning("%s: trial %d/%d %s %s", stage, done, total, trial.state.name.lower(), reason)

    return report


def _failure_budget(limit: int) -> Callable[[optuna.Study, Any], None]:
    def stop_when_exhausted(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        failed = sum(t.state is optuna.trial.TrialState.FAIL for t in study.trials)
        if failed > limit:
            logger.error("stopping the study: %d failed trials exceed tuning.max_failures=%d", failed, limit)
            study.stop()

    return stop_when_exhausted


def tune(
    stage: str,
    spec: ComponentSpec,
    evaluate: Callable[[dict[str, Any]], dict[str, float]],
    settings: TuningSettings,
    tracker: TrialLogger,
) -> TuningResult:
    """Run the stage's study; each trial is a nested MLflow run that ends FINISHED or FAILED."""
    objective = settings.objectives[stage]
    budget = settings.budget(stage)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # crmflow logs each trial, failures in one line
    study = optuna.create_study(
        direction=objective.direction,
        sampler=_sampler(settings),
        storage=settings.storage,
        study_name=f"{settings.study_name}.{stage}" if settings.study_name else None,
        load_if_exists=settings.study_name is not None,
    )

    configured = spec.search_space.configured_point(spec.params)
    if settings.start_from_config and configured and not study.trials:
        study.enqueue_trial(configured)  # trial 0: the YAML's values, so tuning never ends below them

    def trial_objective(trial: optuna.Trial) -> float:
        params = spec.search_space.suggest(trial)
        tags = {"crmflow.stage": stage, "crmflow.trial": str(trial.number)}
        with tracker.child_run(f"{stage} · trial {trial.number}", params, tags):
            try:
                metrics = evaluate(params)
                tracker.log_metrics(metrics)
                value = metrics[objective.metric]
                if not math.isfinite(value):
                    raise ValueError(f"{objective.metric} is {value}")
            except Exception as error:
                trial.set_user_attr("error", f"{type(error).__name__}: {error}")
                raise
        trial.set_user_attr("metrics", metrics)
        return value

    study.optimize(
        trial_objective,
        n_trials=budget.n_trials,
        timeout=budget.timeout,
        catch=(Exception,),
        callbacks=[_progress(stage, objective, budget.n_trials), _failure_budget(settings.failure_limit(stage))],
    )
    states = [t.state for t in study.trials]
    complete = states.count(optuna.trial.TrialState.COMPLETE)
    failed = states.count(optuna.trial.TrialState.FAIL)
    if complete == 0:
        last = next((t.user_attrs["error"] for t in reversed(study.trials) if "error" in t.user_attrs), "see the log")
        raise ConfigError(
            f"tuning: all {failed} trials of {stage}={spec.short_name} failed (last: {last}); "
            f"check {stage} parameters and {stage}.search_space"
        )
    history = study.trials_dataframe(attrs=("number", "value", "state", "params", "duration"))
    return TuningResult(objective, dict(study.best_params), float(study.best_value), complete, failed, history)
