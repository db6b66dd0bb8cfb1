"""`run_summary.json` on the parent run: the run's headline in one file (stages, metrics, winners, caveats, the
command), which the report and `crmflow report run=ID` read instead of piecing it together from the store."""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

from crmflow import __version__
from crmflow.redact import redact_overrides

RUN_SUMMARY_FILE = "run_summary.json"


def reproduce_command(overrides: Iterable[str]) -> str:
    """The shell command that composes this run's config again (passwords shown as ***)."""
    return " ".join(["crmflow", *(shlex.quote(override) for override in redact_overrides(list(overrides)))])


def _number(value: float) -> float | None:
    """JSON has no NaN: a missing value is null."""
    return float(value) if math.isfinite(value) else None


def _plain(value: Any) -> Any:
    """A best parameter as JSON holds it (numbers and text; anything else as its text)."""
    if isinstance(value, float):
        return _number(value)
    return value if isinstance(value, bool | int | str) or value is None else str(value)


def stage_record(stage: Any, choice: str | None) -> dict[str, Any]:
    """One `StageSummary` as a JSON object."""
    tuned = stage.tuning
    tuning = None
    if tuned is not None:
        tuning = {
            "metric": tuned.objective.metric,
            "direction": tuned.objective.direction,
            "n_complete": tuned.n_complete,
            "n_failed": tuned.n_failed,
            "n_pruned": tuned.n_pruned,
        }
    return {
        "stage": stage.stage,
        "component": stage.component,
        "choice": choice,
        "metrics": {name: _number(value) for name, value in stage.metrics.items()},
        "best_params": {name: _plain(value) for name, value in stage.best_params.items()},
        "tuning": tuning,
        "objective": stage.objective,
        "flags": list(stage.caveats),
    }


def run_summary_text(
    run_id: str,
    run_name: str,
    experiment: str,
    overrides: Iterable[str],
    data_metrics: Mapping[str, float],
    stages: Iterable[Any],
    choices: Mapping[str, str],
    target: str | None = None,
) -> str:
    """The JSON text of `run_summary.json`."""
    record = {
        "run_id": run_id,
        "run_name": run_name,
        "experiment": experiment,
        "crmflow_version": __version__,
        "command": reproduce_command(overrides),
        "target": target,  # the customer table's target column, if any
        "data": {name: _number(value) for name, value in data_metrics.items()},
        "stages": [stage_record(stage, choices.get(stage.stage)) for stage in stages],
    }
    return json.dumps(record, indent=2)
