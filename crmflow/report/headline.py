"""The run's headline: one row per stage (its method, main measure, the baseline's value, caveats), shown at the
top of report.html and, as markdown, in the run's MLflow description."""

from __future__ import annotations

from typing import Any

from crmflow.report.figures import shown
from crmflow.report.source import RunSource

REPORT_FILE = "report.html"
NOTE_TAG = "mlflow.note.content"  # the run page's description in the MLflow UI


def main_metric(run: RunSource, stage: str) -> str | None:
    """The stage's tuning objective when it logged it, else its usual metric (as crmflow compare picks)."""
    record = run.stage_record(stage) or {}
    metrics = run.stage_metrics(stage)
    for objective in ((record.get("tuning") or {}).get("metric"), record.get("objective")):
        if objective and objective in metrics:
            return str(objective)
    from crmflow.compare import main_metric as usual

    found = usual(run.run, stage)
    return found.partition(".")[2] if found else None


def baseline_of(metrics: dict[str, float], name: str) -> float | None:
    """The baseline's value of a measure: `baseline_<m>`, or for a holdout measure either spelling."""
    bare = name.removeprefix("holdout_")
    for key in (f"baseline_{name}", f"holdout_baseline_{bare}", f"baseline_holdout_{bare}"):
        if key in metrics:
            return metrics[key]
    return None


def headline_rows(run: RunSource) -> list[dict[str, Any]]:
    """One row per stage that ran: stage, method, measure, value (and the holdout value), baseline, caveats."""
    rows = []
    for stage in run.stages:
        record = run.stage_record(stage) or {}
        metrics = run.stage_metrics(stage)
        name = main_metric(run, stage)
        holdout = f"holdout_{name}" if name and not name.startswith("holdout_") else None
        rows.append(
            {
                "stage": stage,
                "method": record.get("choice")
                or run.tags.get(f"crmflow.choice.{stage}")
                or record.get("component", ""),
                "measure": name or "",
                "value": shown(metrics.get(name)) if name else "–",
                "holdout": shown(metrics.get(holdout)) if holdout and holdout in metrics else "–",
                "baseline": shown(baseline_of(metrics, name)) if name else "–",
                "flags": len(record.get("flags") or []),
            }
        )
    return rows


def note_markdown(run: RunSource, rows: list[dict[str, Any]], report_uri: str) -> str:
    """The MLflow description: the headline table in markdown and where the report is."""
    lines = ["| stage | method | measure | value | holdout | baseline | caveats |", "|---|---|---|---:|---:|---:|---:|"]
    columns = ("stage", "method", "measure", "value", "holdout", "baseline", "flags")
    lines += ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows]
    flags = [
        f"- **{s['stage']}**: {flag}" for s in (run.summary or {}).get("stages") or [] for flag in s.get("flags") or []
    ]
    caveats = ["", "Caveats:", *flags] if flags else []
    where = (
        f"Full report: [{REPORT_FILE}]({report_uri}) (Artifacts tab of this run), or "
        f"`crmflow report run={run.run_id} output={REPORT_FILE}`"
    )
    return "\n".join([f"**crmflow run** {run.run.info.run_name or ''}", "", *lines, *caveats, "", where]) + "\n"
