"""The short table the CLI prints at the end of a run."""

from __future__ import annotations

from crmflow.redact import redact
from crmflow.run import RunResult, StageSummary
from crmflow.tracking import sqlite_path


def _format_value(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _rows(stage: StageSummary) -> list[tuple[str, str, str, str, str]]:
    """The objective (or first) metric with the tuning outcome, then the other metrics."""
    tuned = stage.tuning
    outcome = "not tuned"
    if tuned:
        pruned = f", {tuned.n_pruned} pruned" if tuned.n_pruned else ""
        outcome = f"{tuned.n_complete} trials ok{pruned}, {tuned.n_failed} failed"
    params = ", ".join(f"{k}={_format_value(v)}" for k, v in stage.best_params.items()) or "-"
    first = tuned.objective.metric if tuned else next(iter(stage.metrics), "")
    rest = [m for m in stage.metrics if m != first]
    value = _format_value(stage.metrics.get(first, float("nan")))
    rows = [(stage.stage, stage.component, first, value, f"{outcome}; {params}")]
    rows += [("", "", metric, _format_value(stage.metrics[metric]), "") for metric in rest]
    return rows


def format_summary(result: RunResult) -> str:
    """Stage, component, metric, value, tuning outcome; then where to find the run."""
    header = ("stage", "component", "metric", "value", "tuning; best params")
    rows = [header] + [row for stage in result.stages for row in _rows(stage)]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)) + "  " + row[4]
        for row in rows
    ]
    caveats = [f"note: {stage.stage}: {caveat}" for stage in result.stages for caveat in stage.caveats]
    if caveats:
        lines += ["", *caveats]
    ui_uri = redact(result.tracking_uri)
    lines.append("")
    lines.append(f"MLflow run {result.run_id} ('{result.run_name}'), experiment id {result.experiment_id}")
    if sqlite_path(ui_uri) is not None:
        lines.append(f"Open it with: mlflow ui --backend-store-uri {ui_uri}")
    else:
        lines.append(f"Tracking server: {ui_uri}")
    return "\n".join(lines)
