"""crmflow's own Optuna loop: one study per tuned stage, one nested MLflow run per trial."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna
import pandas as pd

from crmflow.config.components import ComponentSpec, build_node
from crmflow.errors import ConfigError, did_you_mean
from crmflow.tracking import Tracker

logger = logging.getLogger(__name__)
DIRECTIONS = ("maximize", "minimize")
AUTO = "auto"  # an objective metric that means "the stage's default for this component"
TUNING_KEYS = (
    "n_trials",
    "timeout",
    "seed",
    "storage",
    "study_name",
    "max_failures",
    "sampler",
    "start_from_config",
    "objectives",
)


@dataclass(frozen=True)
class Objective:
    """The metric a stage's study optimises and its direction."""

    metric: str
    direction: str


@dataclass
class TuningSettings:
    """The parsed `tuning` config node."""

    n_trials: int
    timeout: float | None
    seed: int
    storage: str | None
    study_name: str | None
    max_failures: int
    sampler: Mapping[str, Any] | None
    objectives: dict[str, Objective] = field(default_factory=dict)
    start_from_config: bool = True

    @classmethod
    def parse(cls, node: Mapping[str, Any], stage_names: list[str]) -> TuningSettings:
        for key in sorted(set(node) - set(TUNING_KEYS)):
            raise ConfigError(f"tuning: unknown key '{key}'{did_you_mean(key, TUNING_KEYS)}")
        n_trials = node.get("n_trials", 0)
        if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 0:
            raise ConfigError(f"tuning.n_trials: expected an int >= 0; got {n_trials!r}")
        start_from_config = node.get("start_from_config", True)
        if not isinstance(start_from_config, bool):
            raise ConfigError(f"tuning.start_from_config: expected true or false; got {start_from_config!r}")
        objectives = {}
        for stage, entry in (node.get("objectives") or {}).items():
            if stage not in stage_names:
                raise ConfigError(f"tuning.objectives: unknown stage '{stage}'{did_you_mean(stage, stage_names)}")
            if entry.get("metric") == AUTO:
                objectives[stage] = Objective(AUTO, AUTO)
                continue
            direction = entry.get("direction", "maximize")
            if direction not in DIRECTIONS:
                raise ConfigError(
                    f"tuning.objectives.{stage}.direction: expected maximize or minimize; got {direction!r}"
                )
            objectives[stage] = Objective(str(entry["metric"]), direction)
        return cls(
            n_trials=n_trials,
            timeout=node.get("timeout"),
            seed=int(node.get("seed", 0)),
            storage=node.get("storage"),
            study_name=node.get("study_name"),
            max_failures=int(node.get("max_failures", n_trials)),
            sampler=node.get("sampler"),
            objectives=objectives,
            start_from_config=start_from_config,
        )

    def tunes(self, stage: str, spec: ComponentSpec) -> bool:
        return self.n_trials > 0 and stage in self.objectives and bool(spec.search_space)


@dataclass
class TuningResult:
    """What a study found: the best parameters and its trial history."""

    objective: Objective
    best_params: dict[str, Any]
    best_value: float
    n_complete: int
    n_failed: int
    history: pd.DataFrame


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
    tracker: Tracker,
) -> TuningResult:
    """Run the stage's study; each trial is a nested MLflow run that ends FINISHED or FAILED."""
    objective = settings.objectives[stage]
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
        n_trials=settings.n_trials,
        timeout=settings.timeout,
        catch=(Exception,),
        callbacks=[_progress(stage, objective, settings.n_trials), _failure_budget(settings.max_failures)],
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
