"""The report's sections: one function per stage kind, run -> template context (None: nothing to show), chosen
by which stages the run logged. A stage without its own section gets the plain one (its metrics and plots)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from crmflow.report.sections import data, forecaster, other, predictor, rules, segments, sequences, tuning, value
from crmflow.report.source import RunSource

logger = logging.getLogger(__name__)
Section = Callable[[RunSource], "dict[str, Any] | None"]

BEFORE: dict[str, Section] = {"data": data.section}  # sections of the run, before its stages'
STAGES: dict[str, Section] = {
    "value": value.section,
    "segmentation": segments.section,
    "rules": rules.section,
    "sequences": sequences.section,
    "predictor": predictor.section,
    "forecaster": forecaster.section,
}
AFTER: dict[str, Section] = {"tuning": tuning.section}


def _with_flags(run: RunSource, key: str, stage: str | None, found: dict[str, Any] | None) -> dict[str, Any] | None:
    """A section's context with its id, template and (for a stage) the stage's caveats and method."""
    if found is None:
        return None
    record = run.stage_record(stage) if stage else None
    template = "unavailable" if "unavailable" in found else key if stage is None or stage in STAGES else "other"
    return {
        "id": key,
        "template": f"sections/{template}.html.j2",
        "flags": list((record or {}).get("flags") or []),
        "method": (record or {}).get("choice") or run.tags.get(f"crmflow.choice.{stage}") if stage else None,
        **found,
    }


def _built(run: RunSource, key: str, make: Section) -> dict[str, Any] | None:
    """One section's context; a section that cannot be built says so (and logs a warning), the others stand."""
    try:
        return make(run)
    except Exception as error:  # noqa: BLE001 - one unreadable artifact must not cost the whole report
        logger.warning("report: the %s section could not be built: %s: %s", key, type(error).__name__, error)
        return {"title": key.replace("_", " ").capitalize(), "unavailable": f"{type(error).__name__}: {error}"}


def build_sections(run: RunSource) -> list[dict[str, Any]]:
    """The contexts of every section the run has material for, in reading order."""
    found = [_with_flags(run, key, None, _built(run, key, make)) for key, make in BEFORE.items()]
    for stage in run.stages:
        make = STAGES.get(stage) or (lambda source, name=stage: other.section(source, name))
        found.append(_with_flags(run, stage, stage, _built(run, stage, make)))
    found += [_with_flags(run, key, None, _built(run, key, make)) for key, make in AFTER.items()]
    return [section for section in found if section is not None]
