"""Run-level operations for processes that share runs: the status of a run another process created, the
RUNNING children a dead process left, ending one with its reason, and params for a run logged to by several
processes (MLflow params are write-once). Functions of a client and explicit run ids, like `datasets`."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from mlflow.entities import Param
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from crmflow.redact import redact

logger = logging.getLogger(__name__)
KILLED_REASON = "crmflow.killed_reason"
ERROR_TAG, ERROR_TYPE_TAG = "crmflow.error", "crmflow.error_type"  # why a run ended FAILED or KILLED
MAX_TAG_LENGTH = 5000
PAGE = 1000  # runs per search page


def run_status(client: MlflowClient, run_id: str, experiment_id: str | None) -> str | None:
    """The status of run `run_id` when the store has it, not deleted, in `experiment_id` (any, when None);
    else None (another store, a deleted run, another experiment)."""
    try:
        run = client.get_run(run_id)
    except MlflowException:
        return None
    if run.info.lifecycle_stage != "active":
        return None
    if experiment_id is not None and run.info.experiment_id != experiment_id:
        return None
    return run.info.status


def running_children(
    client: MlflowClient, experiment_id: str, parent_id: str, tags: Mapping[str, str]
) -> dict[str, dict[str, str]]:
    """The RUNNING nested runs of `parent_id` that carry `tags`: run id -> all its tags, in one search."""
    query = [f"tags.mlflow.parentRunId = '{parent_id}'", "attributes.status = 'RUNNING'"]
    query += [f"tags.`{key}` = '{value}'" for key, value in tags.items()]
    found: dict[str, dict[str, str]] = {}
    token = None
    while True:
        page = client.search_runs([experiment_id], " and ".join(query), max_results=PAGE, page_token=token)
        found.update({run.info.run_id: dict(run.data.tags) for run in page})
        token = page.token
        if not token:
            return found


def end_run(client: MlflowClient, run_id: str, status: str, reason: str) -> bool:
    """End a run a dead process left RUNNING: tag `crmflow.killed_reason` = `reason`, then `status`. A run
    that has ended meanwhile is left as it is; return whether this call ended it."""
    if client.get_run(run_id).info.status != "RUNNING":
        return False
    client.set_tag(run_id, KILLED_REASON, reason[:MAX_TAG_LENGTH])
    client.set_terminated(run_id, status)
    logger.warning("tracking: run %s ended %s: %s", run_id, status, reason)
    return True


def log_new_params(client: MlflowClient, run_id: str, params: Mapping[str, str]) -> None:
    """Log the params the run lacks; one it has with another value stays, with a warning. A param another
    process logged between the read and the write is read again once."""
    for attempt in (1, 2):
        known = client.get_run(run_id).data.params
        batch = [Param(k, v) for k, v in params.items() if k not in known]
        try:
            if batch:
                client.log_batch(run_id, params=batch)
            break
        except MlflowException:
            if attempt == 2:
                raise
    for key in sorted(k for k in params if k in known and known[k] != params[k]):
        logger.warning(
            "tracking: param '%s' of the shared run stays '%s'; this process has '%s'", key, known[key], params[key]
        )


def failure_reason(error: BaseException) -> str:
    """The error's first line (its type when it has no text), password-free, as a tag can hold it."""
    if isinstance(error, KeyboardInterrupt):
        return "interrupted (Ctrl-C or SIGTERM)"
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return redact(lines[0] if lines else type(error).__name__)[:MAX_TAG_LENGTH]


def tag_failure(client: MlflowClient, run_id: str, error: BaseException) -> None:
    """Record on the run why it failed: tags `crmflow.error` (one line) and `crmflow.error_type`; never raises
    (the run's own error is what the user must see)."""
    try:
        client.set_tag(run_id, ERROR_TAG, failure_reason(error))
        client.set_tag(run_id, ERROR_TYPE_TAG, type(error).__name__)
    except MlflowException as failed:
        logger.warning("tracking: cannot tag run %s with its error: %s", run_id, failed)
