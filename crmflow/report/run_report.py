"""A run's report.html, built only from what the run logged, so the end-of-run report and `crmflow report
run=ID` are one code path; logging it sets the run's MLflow description to the headline table."""

from __future__ import annotations

import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crmflow.redact import redact
from crmflow.report.headline import NOTE_TAG, REPORT_FILE, headline_rows, note_markdown
from crmflow.report.render import render
from crmflow.report.sections import build_sections
from crmflow.report.sections.tuning import BEST_PARAMS_FILE, RERUN
from crmflow.report.source import RunSource, no_progress_bar, read_run

logger = logging.getLogger(__name__)

OVERRIDES_TAG = "crmflow.overrides"


def command(run: RunSource) -> str:
    """The command that reruns the run: run_summary.json's, else `crmflow` and the logged overrides."""
    logged = (run.summary or {}).get("command")
    if logged:
        return str(logged)
    overrides = run.tags.get(OVERRIDES_TAG, "")
    return f"crmflow {overrides}".strip()


def caveats(run: RunSource) -> list[dict[str, str]]:
    """Every stage's caveats, for the box at the top."""
    stages = (run.summary or {}).get("stages") or []
    return [{"stage": str(s["stage"]), "text": str(flag)} for s in stages for flag in s.get("flags") or []]


def run_context(run: RunSource) -> dict[str, Any]:
    """Everything the run page shows."""
    started = run.run.info.start_time
    return {
        "run_name": run.run.info.run_name or run.run_id,
        "run_id": run.run_id,
        "experiment": (run.summary or {}).get("experiment") or run.run.info.experiment_id,
        "version": (run.summary or {}).get("crmflow_version") or run.tags.get("crmflow.version", ""),
        "started": datetime.fromtimestamp(started / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC") if started else "",
        "headline": headline_rows(run),
        "caveats": caveats(run),
        "sections": build_sections(run),
        "command": command(run),
        "has_best_params": run.has(BEST_PARAMS_FILE),
        "rerun": RERUN,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def render_run(run: RunSource) -> str:
    return redact(render("run.html.j2", run_context(run)))


def run_report(client: Any, run_id: str) -> tuple[str, str]:
    """The report's HTML and the run's description (markdown), from the run's logged record."""
    with tempfile.TemporaryDirectory(prefix="crmflow-report-") as scratch:
        run = read_run(client, run_id, Path(scratch))
        html = render_run(run)
        note = redact(note_markdown(run, headline_rows(run), f"{redact(run.run.info.artifact_uri)}/{REPORT_FILE}"))
    return html, note


def publish(client: Any, run_id: str, html: str, note: str) -> None:
    """Log report.html on the run and set its description."""
    with tempfile.TemporaryDirectory(prefix="crmflow-report-") as scratch:
        path = Path(scratch) / REPORT_FILE
        path.write_text(html, encoding="utf-8")
        with no_progress_bar():
            client.log_artifact(run_id, str(path))
    client.set_tag(run_id, NOTE_TAG, note)


def log_run_report(tracker_or_client: Any, run_id: str) -> str | None:
    """Render, log and describe the run's report; a failure is a warning (the run's results stand), None then."""
    client = getattr(tracker_or_client, "client", tracker_or_client)
    try:
        html, note = run_report(client, run_id)
        publish(client, run_id, html, note)
    except Exception as error:  # noqa: BLE001 - the report must never fail the run that it describes
        logger.warning("report.html not written for run %s: %s: %s", run_id, type(error).__name__, redact(str(error)))
        return None
    return html
