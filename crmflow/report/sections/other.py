"""The section of a stage the report has no dedicated section for (a plugin's): its metrics and its plots."""

from __future__ import annotations

from typing import Any

from crmflow.report.figures import shown
from crmflow.report.source import RunSource


def section(run: RunSource, stage: str) -> dict[str, Any] | None:
    metrics = {k: v for k, v in run.stage_metrics(stage).items() if not k.startswith("tuning.")}
    return {
        "title": stage.replace("_", " ").capitalize(),
        "lead": None,
        "figures": [
            {"label": name.replace("_", " "), "value": shown(value)} for name, value in sorted(metrics.items())
        ],
        "images": run.folder_images(stage),
    }
