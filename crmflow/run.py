"""`run(cfg) -> RunResult`: load and featurise once, then tune, refit and log each stage."""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from threadpoolctl import threadpool_limits

from crmflow import __version__
from crmflow.config.components import ComponentSpec, user_packages
from crmflow.config.pinning import override_keys
from crmflow.config.tracking import trial_logging
from crmflow.features.cache import CachedFeatures
from crmflow.features.table import drop_unlabelled
from crmflow.plan import RunPlan, plan_run
from crmflow.privacy import Privacy
from crmflow.redact import redact_config, redact_overrides
from crmflow.run_summary import RUN_SUMMARY_FILE, run_summary_text
from crmflow.stages.contract import FoldReport, RunState, Stage, TuningResult
from crmflow.storage import check_storage
from crmflow.study_run import study_parent_run
from crmflow.tracking import Tracker, check_reachable, flatten, git_commit
from crmflow.tuning import Evaluate, tune
from crmflow.tuning_report import (
    BEST_PARAMS_FILE,
    best_params_text,
    log_history,
)

logger = logging.getLogger(__name__)


@dataclass
class RunInfo:
    """How the run was launched: group choices, override strings, the keys its recipe sets, the sweep."""

    choices: Mapping[str, str] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)
    sweep_id: str | None = None
    recipe_keys: set[str] = field(default_factory=set)

    @property
    def user_keys(self) -> set[str]:
        """Dotted keys set by hand, on the command line or in the recipe: their tunable parameters are pinned."""
        return override_keys(self.overrides) | self.recipe_keys


@dataclass
class StageSummary:
    """One stage's outcome for the summary table."""

    stage: str
    component: str
    metrics: dict[str, float]
    best_params: dict[str, Any]
    tuning: TuningResult | None = None
    caveats: list[str] = field(default_factory=list)  # when the result is useless (crmflow.caveats)
    objective: str | None = None  # the metric the stage is judged by (tuned or not)


@dataclass
class RunResult:
    """What a run logged: its MLflow ids and every stage's metrics."""

    run_id: str
    experiment_id: str
    tracking_uri: str
    run_name: str
    stages: list[StageSummary]
    metrics: dict[str, float]
    model_uri: str | None = None  # the first stage's model
    model_uris: dict[str, str] = field(default_factory=dict)  # every logged model by stage


def run_name(plan: RunPlan, info: RunInfo, ran: list[tuple[Stage, ComponentSpec]] | None = None) -> str:
    """E.g. "online_retail · kmeans · fpgrowth · logistic_regression · n_clusters=4 · 3f9a1c": the recipe, the stage
    choices, what the command line sets (another group's option, a stage's value, the seed: what a sweep varies),
    then a short random id, so two runs of one sweep never share a name. `ran`: the stages that run (default: all)."""
    stages = set(plan.config.get("stages") or ())
    recipe = info.choices.get("experiment")
    names = [recipe] if recipe and recipe != "None" else []
    names += [info.choices.get(stage.name, spec.short_name) for stage, spec in (plan.stages if ran is None else ran)]
    for override in redact_overrides(info.overrides):
        key, sep, value = override.lstrip("+~").partition("=")
        group = key.split(".", 1)[0]
        if not sep or key in stages or key == "experiment":
            continue
        if key in info.choices and not key.startswith("hydra"):
            names.append(value)  # another group's option, e.g. preprocessing=log_standard
        elif group in stages or key == "seed":
            names.append(f"{key.rsplit('.', 1)[-1]}={value}"[:40])
    return " · ".join([*names, uuid.uuid4().hex[:6]])


def _tags(plan: RunPlan, info: RunInfo) -> dict[str, str]:
    tags = {"crmflow.version": __version__, "crmflow.overrides": " ".join(redact_overrides(info.overrides))}
    tags.update({f"crmflow.choice.{k}": str(v) for k, v in info.choices.items() if not k.startswith("hydra")})
    if info.sweep_id:
        tags["crmflow.sweep_id"] = info.sweep_id
    if isinstance(plan.features, CachedFeatures):
        tags["crmflow.features_cache_key"] = plan.features.key
    commit = git_commit()
    if commit:
        tags["mlflow.source.git.commit"] = commit
    return tags


def _load(plan: RunPlan, artifact_dir: Path) -> tuple[RunState, dict[str, float]]:
    """The data (always: stages and dataset inputs read it) and the customer table, from the
    features cache when `plan.features` is a `CachedFeatures` (its `key` names the entry)."""
    data = plan.source.load()
    started, table, cache_hit = time.perf_counter(), None, None
    if isinstance(plan.features, CachedFeatures):
        table, cache_hit = plan.features.fetch(data)
    elif plan.features is not None:
        table = plan.features.build(data)
    seconds = time.perf_counter() - started
    if table is not None:
        table = drop_unlabelled(table)
    metrics = {f"data.{key}": float(value) for key, value in data.report.items()}
    metrics["data.n_transactions"] = float(0 if data.transactions is None else len(data.transactions))
    metrics["data.n_customers"] = float(0 if data.customers is None else len(data.customers))
    if data.transactions is not None:
        metrics["data.n_transaction_customers"] = float(data.transactions["customer_id"].nunique())
    if table is not None:
        metrics["features.n_customers"] = float(len(table.X))
        metrics["features.n_features"] = float(table.X.shape[1])
        metrics.update({f"features.{key}": value for key, value in table.report.items()})
        if table.y is not None:
            metrics["features.target_rate"] = float(table.y.mean())
        metrics["features.seconds"] = round(seconds, 3)
        if cache_hit is not None:
            metrics["features.cache_hit"] = float(cache_hit)
    tuning = plan.tuning
    tuned = {stage: tuning.trial_metrics(stage) for stage in tuning.objectives if tuning.wants(stage)}
    privacy = Privacy.for_run(plan.privacy)  # once per run: every stage writes ids through it
    state = RunState(data, table, plan.preprocessing, plan.seed, artifact_dir, trial_metrics=tuned, privacy=privacy)
    return state, metrics


def _log_inputs(state: RunState, tracker: Tracker) -> None:
    """The input tables and the customer feature table as MLflow dataset inputs (with digests)."""
    tables = {
        "transactions": state.data.transactions,
        "customers": state.data.customers,
        "features": None if state.table is None else state.table.X.reset_index(),
    }
    for context, frame in tables.items():
        if frame is not None:
            tracker.log_dataset(frame, name=f"{state.data.name}.{context}", context=context)


def _run_stage(
    stage: Stage, spec: ComponentSpec, state: RunState, plan: RunPlan, tracker: Tracker, data: dict[str, float]
) -> StageSummary:
    started = time.perf_counter()
    prepared = stage.prepare(spec, state)
    tuned = None
    params: dict[str, Any] = {}
    if plan.tuning.wants(stage.name) and spec.search_space:
        tuned = tune(
            stage.name,
            spec,
            _evaluator(stage, spec, prepared),
            plan.tuning,
            tracker,
            state.artifact_dir,
            closer=tracker,
        )
        params = tuned.best_params
        log_history(stage.name, tuned, state.artifact_dir, tracker)
    result = stage.finalize(spec.build(params), prepared, spec, state, tuned)
    result.metrics["seconds"] = round(time.perf_counter() - started, 3)
    tracker.log_metrics(result.metrics, prefix=f"{stage.name}.")
    if params:
        tracker.log_params({f"{stage.name}.best.{k}": str(v) for k, v in params.items()})
    tracker.log_artifacts(result.artifacts, folder=stage.name)
    try:  # a caveat is a remark: it never stops a run
        caveats = list(stage.caveats(spec, result.metrics, data) or [])
    except Exception as error:  # a plug-in stage's caveats may fail in any way
        logger.warning("%s: caveats skipped: %s", stage.name, error)
        caveats = []
    objective = (tuned.objective if tuned else stage.default_objective(spec)).metric
    summary = StageSummary(stage.name, spec.short_name, result.metrics, params, tuned, caveats, objective)
    if result.model is not None:
        state.model_uris[stage.name] = tracker.log_model(result.model, stage.name)
    return summary


def _evaluator(stage: Stage, spec: ComponentSpec, prepared: Any) -> Evaluate:
    """One trial's scoring: the stage's `score` of the drawn parameters, with the fold report when a pruner is on."""

    def evaluate(drawn: dict[str, Any], report: FoldReport | None = None) -> dict[str, float]:
        estimator = spec.build(drawn)
        if report is None:  # a stage without folds need not take one
            return stage.score(estimator, prepared, spec)
        return stage.score(estimator, prepared, spec, report)

    return evaluate


def _log_best_params(summaries: list[StageSummary], plan: RunPlan, info: RunInfo, tracker: Tracker) -> None:
    """`best_params.yaml`, a recipe rerunning this run's choices with every tuned stage's winner and tuning off."""
    best = {s.stage: s.best_params for s in summaries if s.tuning is not None}
    if best:
        text = best_params_text(
            info.choices, info.overrides, info.recipe_keys, plan.config, best, tracker.current_run_id
        )
        tracker.log_text(text, BEST_PARAMS_FILE)


def run(cfg: Any, info: RunInfo | None = None) -> RunResult:
    """Validate the config, load data once, then tune/refit/log every active stage under one parent run."""
    info = info or RunInfo()
    plan = plan_run(cfg, info.user_keys)
    # forked tuning workers hang in GNU OpenMP if the parent has started its thread pool: one OpenMP thread then
    single_threaded = plan.tuning.n_workers > 1
    with user_packages(plan.allowed_packages), threadpool_limits(1, "openmp") if single_threaded else nullcontext():
        return _execute(plan, info)


def _runnable(plan: RunPlan, info: RunInfo, state: RunState) -> list[tuple[Stage, ComponentSpec]]:
    """The stages to run: one that needs transactions is left out, with a line, when the data has none and the
    command line did not choose it (a chosen one says what it lacks in its `check`)."""
    chosen = {override.partition("=")[0].lstrip("+~") for override in info.overrides}
    stages = []
    for stage, spec in plan.stages:
        if stage.needs_transactions and state.data.transactions is None and stage.name not in chosen:
            logger.info("%s: skipped: the data has no transactions (set %s=none to say so)", stage.name, stage.name)
            continue
        stages.append((stage, spec))
    return stages


def _execute(plan: RunPlan, info: RunInfo) -> RunResult:
    """Load once, check every stage against the data, then run the stages under one parent run."""
    from crmflow.report import log_run_report

    check_reachable(plan.tracking_uri)  # a server that does not answer, or a study store: one line, before any data
    check_storage(plan.tuning, {stage.name: spec.search_space for stage, spec in plan.stages})
    tracker = Tracker(plan.tracking_uri, plan.experiment, trial_logging(plan.config["tracking"]))  # before any data
    with tempfile.TemporaryDirectory(prefix="crmflow-") as scratch:
        state, data_metrics = _load(plan, Path(scratch))
        stages = _runnable(plan, info, state)
        for stage, spec in stages:
            stage.check(spec, state)
        tracker.ensure_experiment()
        name = run_name(plan, info, stages)
        with study_parent_run(plan.tuning, tracker, name, _tags(plan, info)) as parent:  # the study's, if stored
            logger.info("MLflow run %s (%s) in experiment '%s'", parent.info.run_id, name, plan.experiment)
            shown = redact_config(plan.config)  # passwords in URLs and secret-named keys never reach the store
            tracker.log_params({**flatten(shown), **state.privacy.params})  # the mode; never the key
            tracker.log_text(yaml.safe_dump(shown, sort_keys=False), "config.yaml")
            tracker.log_metrics(data_metrics)
            _log_inputs(state, tracker)
            summaries = [_run_stage(stage, spec, state, plan, tracker, data_metrics) for stage, spec in stages]
            _log_best_params(summaries, plan, info, tracker)
            summary = run_summary_text(
                parent.info.run_id,
                name,
                plan.experiment,
                info.overrides,
                data_metrics,
                summaries,
                info.choices,
                None if state.table is None or state.table.y is None else str(state.table.y.name),
            )
            tracker.log_text(summary, RUN_SUMMARY_FILE)
            log_run_report(tracker, parent.info.run_id)  # report.html and the run's description; never fails the run
    metrics = {**data_metrics, **{f"{s.stage}.{k}": v for s in summaries for k, v in s.metrics.items()}}
    return RunResult(
        parent.info.run_id,
        tracker.experiment_id,
        plan.tracking_uri,
        name,
        summaries,
        metrics,
        next(iter(state.model_uris.values()), None),
        dict(state.model_uris),
    )
