"""The sweep page: `crmflow compare ... format=html` (or `crmflow report sweep=ID`) writes one HTML page with the
comparison table of the sweep's runs and each job's headline figures, caveats and where its report.html is."""

from __future__ import annotations

import math
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse

from crmflow import __version__
from crmflow.redact import redact
from crmflow.report.figures import shown
from crmflow.report.headline import REPORT_FILE, headline_rows
from crmflow.report.render import render
from crmflow.report.source import read_run


def report_link(artifact_uri: str, page: Path) -> dict[str, str | None]:
    """Where a run's report.html is: a link relative to the page when the store is a local folder, else the URI
    as text (the page loads nothing from the network)."""
    uri = f"{artifact_uri.rstrip('/')}/{REPORT_FILE}"
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        local = Path(unquote(parsed.path))
        return {"href": quote(Path(os.path.relpath(local, page.resolve().parent)).as_posix()), "text": str(local)}
    return {"href": None, "text": redact(uri)}


def job_card(client: Any, run: Any, page: Path, scratch: Path) -> dict[str, Any]:
    """One job's headline: its overrides, status, each stage's main measure, its caveats, its report."""
    source = read_run(client, run.info.run_id, scratch / run.info.run_id)
    stages = (source.summary or {}).get("stages") or []
    return {
        "run_id": source.run_id,
        "name": run.info.run_name or source.run_id,
        "overrides": run.data.tags.get("crmflow.overrides", "") or "defaults",
        "status": run.info.status,
        "headline": headline_rows(source),
        "flags": [f"{s['stage']}: {flag}" for s in stages for flag in s.get("flags") or []],
        "report": report_link(run.info.artifact_uri, page) if source.has(REPORT_FILE) else None,
    }


def comparison_table(frame: Any) -> dict[str, Any]:
    """The compare frame for the template: header, rows of shown cells, the run id of each row."""
    header = [str(c) for c in frame.columns if c != "run_id"]
    rows = []
    for record in frame.to_dict("records"):
        cells = [_cell(record[c]) for c in header]
        rows.append({"cells": cells, "run_id": str(record["run_id"])})
    return {"header": header, "rows": rows}


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "–" if math.isnan(value) else shown(value, 4)
    return str(value)


def default_output(sweep: str | None, experiment: str | None) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", sweep or experiment or "runs")
    return Path(f"sweep_{name}.html")


def write_sweep_report(request: Any) -> str:
    """Write the sweep page where `request.output` says (default ./sweep_<id>.html); the line saying so."""
    from crmflow.compare import _client, _experiment_ids, compare_frame, parent_runs, select_runs

    client = _client(request.tracking_uri)
    runs = parent_runs(client, _experiment_ids(client, request.experiment))
    sweep, chosen = select_runs(request, runs, request.tracking_uri)
    frame, metric, way = compare_frame(chosen, request.metric, request.top)
    page = Path(request.output) if request.output else default_output(sweep, request.experiment)
    by_id = {run.info.run_id: run for run in chosen}
    with tempfile.TemporaryDirectory(prefix="crmflow-sweep-") as scratch:
        jobs = [job_card(client, by_id[run_id], page, Path(scratch)) for run_id in frame["run_id"]]
    context = {
        "title": f"sweep '{sweep}'" if sweep else f"experiment '{request.experiment}'",
        "metric": metric,
        "better": "lower" if way == "minimize" else "higher",
        "n_runs": len(chosen),
        "table": comparison_table(frame),
        "jobs": jobs,
        "version": __version__,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(redact(render("sweep.html.j2", context)), encoding="utf-8")
    return f"crmflow: wrote the page of {context['title']} ({len(jobs)} of {len(chosen)} runs) to {page}"
