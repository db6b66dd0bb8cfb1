"""`crmflow compare ... register=NAME`: the winner's logged model as a version of the registered model NAME,
with the alias `champion`, so `models:/NAME@champion` loads the best model of a sweep.

The model registered is the one the stage of the sort metric logged (a predictor's, a forecaster's), else
the run's first model. A logged model's stage is its `crmflow.stage` tag when it has one, else the stage
whose `<stage>.seconds` metric was logged last before the model was created (a stage logs its metrics, then
its model). Registering the same model again moves only the alias. MLflow is imported inside the functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from crmflow.errors import ConfigError

ALIAS = "champion"
KEY = "compare.register"
STAGE_TAG, METRIC_TAG, VALUE_TAG, SWEEP_TAG, RUN_TAG = (
    "crmflow.stage",
    "crmflow.metric",
    "crmflow.value",
    "crmflow.sweep_id",
    "crmflow.run_id",
)
# Stricter than MLflow (which refuses '/' and ':' and paths such as '..'): '@' would break `models:/NAME@champion`,
# and a quote or a space would need quoting in a filter or a shell.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,255}")
NO_REGISTRY = ("ENDPOINT_NOT_FOUND", "FEATURE_DISABLED", "NOT_IMPLEMENTED")
EXISTS = ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS")


@dataclass(frozen=True)
class Winner:
    """The best row of a comparison: its run, the sort metric and its value, and the sweep compared (if any)."""

    run: Any
    stages: list[str]
    metric: str
    value: float
    sweep: str | None


def check_name(name: str) -> str:
    """The registered model name, or a ConfigError naming `compare.register` when it is empty or invalid."""
    if not name:
        raise ConfigError(f"{KEY}: empty registered model name; give one, e.g. register=churn_model")
    if not NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"{KEY}: invalid registered model name {name!r}: use up to 256 letters, digits, '_', '-' and '.', "
            "starting with a letter or digit (MLflow refuses '/' and ':', and '@' would break "
            f"models:/NAME@{ALIAS}); e.g. register=churn_model"
        )
    return name


def promote(uri: str, name: str, frame: Any, runs: list[Any], metric: str, sweep: str | None) -> str:
    """Register the best row of a comparison (`frame`, sorted, best first, of `runs` by `metric`): it must have
    a value and have ended FINISHED; return the line saying what was registered."""
    from crmflow.compare import stages_of

    if frame["best"][0] != "*":
        raise ConfigError(f"{KEY}: no run has a value of {metric}, so none is the best to register")
    best = next(run for run in runs if run.info.run_id == frame["run_id"][0])
    if best.info.status != "FINISHED":
        raise ConfigError(
            f"{KEY}: the best run {best.info.run_id} by {metric} is {best.info.status}, not FINISHED; only a run "
            "that ended well is promoted (finish or rerun it, or compare the finished runs)"
        )
    return register(uri, name, Winner(best, stages_of(best), metric, frame[metric][0], sweep))


def register(uri: str, name: str, winner: Winner) -> str:
    """Register the winner's model under `name` (a new version unless the latest is that model already),
    point the alias `champion` at it, and return the line saying so."""
    from mlflow.tracking import MlflowClient
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    client = MlflowClient(uri, registry_uri=uri)  # the registry lives in the tracking store
    model, stage = winner_model(client, winner)
    with _use_tracking_uri(uri):  # MLflow 3.17's SQL registry looks the logged model up with the process-wide URI
        version, new = _version(client, uri, name, model, winner, stage)
        client.set_registered_model_alias(name, ALIAS, version.version)
    run_id = winner.run.info.run_id
    what = f"the {stage}'s model of run {run_id}" if stage else f"the model of run {run_id}"
    detail = f"version {version.version} ({what}, {winner.metric}={winner.value:.6g})"
    done = f"registered {name} {detail} as" if new else f"{name} {detail} is already"
    return f"{done} {name}@{ALIAS}{'' if new else ', no new version'}; load with models:/{name}@{ALIAS}"


def winner_model(client: Any, winner: Winner) -> tuple[Any, str | None]:
    """The run's READY logged model of the metric's stage (else its first one) and that model's stage."""
    from mlflow.entities import LoggedModelStatus

    run = winner.run
    found = client.search_logged_models(
        experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id='{run.info.run_id}'"
    )
    ready = sorted((m for m in found if m.status == LoggedModelStatus.READY), key=lambda m: m.creation_timestamp)
    if not ready:
        raise ConfigError(
            f"{KEY}: the best run {run.info.run_id} (by {winner.metric}) logged no model; the stages that log one "
            "are the value stage, the predictor and the forecaster: run one, or rank by its metric, "
            "e.g. metric=predictor.roc_auc"
        )
    stages = model_stages(client, run, winner.stages, ready)
    wanted = winner.metric.partition(".")[0]
    model = next((m for m in ready if stages[m.model_id] == wanted), ready[0])
    return model, stages[model.model_id]


def model_stages(client: Any, run: Any, stages: list[str], models: list[Any]) -> dict[str, str | None]:
    """Each model's stage (by model id): its `crmflow.stage` tag, else the stage that finished last before it."""
    ends = {}
    for stage in stages:
        history = client.get_metric_history(run.info.run_id, f"{stage}.seconds")
        if history:
            ends[stage] = max(m.timestamp for m in history)
    found: dict[str, str | None] = {}
    for model in models:
        before = [s for s, end in ends.items() if end <= model.creation_timestamp]
        found[model.model_id] = (model.tags or {}).get(STAGE_TAG) or max(before, key=ends.__getitem__, default=None)
    return found


def _version(client: Any, uri: str, name: str, model: Any, winner: Winner, stage: str | None) -> tuple[Any, bool]:
    """The version of `name` that is this model when there is one, else a new version of it (and whether it is
    new): a winner registered before keeps its version number when it wins again."""
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name)
    except MlflowException as error:
        if error.error_code in NO_REGISTRY or "registry functionality is unavailable" in str(error):
            raise ConfigError(
                f"compare.tracking_uri: the store at {_shown(uri)} has no model registry, so {KEY}={name} cannot "
                "register a model; use a SQLite (sqlite:///mlruns/mlflow.db) or MLflow server store"
            ) from None
        if error.error_code == "INVALID_PARAMETER_VALUE":
            raise ConfigError(f"{KEY}: MLflow refused the name {name!r}: {_first_line(error)}") from None
        if error.error_code not in EXISTS:
            raise
    source = f"models:/{model.model_id}"
    versions = client.search_model_versions(f"name='{name}'", order_by=["version_number DESC"])
    for version in versions:
        if source in (version.source, f"models:/{version.model_id}"):  # a SQL store keeps no model_id
            return version, False
    tags = {
        RUN_TAG: winner.run.info.run_id,
        METRIC_TAG: winner.metric,
        VALUE_TAG: repr(float(winner.value)),
        **({SWEEP_TAG: winner.sweep} if winner.sweep else {}),
        **({STAGE_TAG: stage} if stage else {}),
    }
    version = client.create_model_version(
        name, source, run_id=winner.run.info.run_id, tags=tags, model_id=model.model_id
    )
    return version, True


def _shown(uri: str) -> str:
    from crmflow.redact import redact

    return redact(uri)


def _first_line(error: BaseException) -> str:
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
