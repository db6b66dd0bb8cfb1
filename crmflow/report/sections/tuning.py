"""The tuning section: per tuned stage what was tried (the search space, the trials), the winner, the history
plots; the run's `best_params.yaml` and how to rerun with it."""

from __future__ import annotations

from typing import Any

from crmflow.report.figures import param_value, shown
from crmflow.report.source import RunSource

BEST_PARAMS_FILE = "best_params.yaml"  # crmflow.tuning_report writes it on the parent run
RERUN = "save it as DIR/experiment/best.yaml, then run: crmflow --config-dir DIR +experiment=best"


def search_space(params: dict[str, str], stage: str) -> list[dict[str, str]]:
    """The stage's search space from its logged params (`<stage>.search_space.<name>.<field>`), one line each."""
    prefix = f"{stage}.search_space."
    fields: dict[str, dict[str, str]] = {}
    for key, value in params.items():
        if key.startswith(prefix):
            name, _, attribute = key[len(prefix) :].rpartition(".")
            fields.setdefault(name, {})[attribute] = value
    rows = []
    for name, spec in sorted(fields.items()):
        if "choices" in spec:
            tried = f"one of {spec['choices']}"
        else:
            tried = f"{spec.get('type', '')} from {spec.get('low', '?')} to {spec.get('high', '?')}"
            tried += " (log scale)" if spec.get("log") == "True" else ""
        rows.append({"parameter": name, "tried": tried.strip()})
    return rows


def tuning_of(run: RunSource, stage: str) -> dict[str, Any] | None:
    """run_summary.json's tuning record of the stage, else the same from its metrics and params."""
    record = run.stage_record(stage)
    if record is not None:
        return record.get("tuning")
    metrics, params = run.stage_metrics(stage), run.params
    if "tuning.n_trials_complete" not in metrics:
        return None
    return {
        "metric": params.get(f"tuning.objectives.{stage}.metric", "?"),
        "direction": params.get(f"tuning.objectives.{stage}.direction", ""),
        **{f"n_{kind}": int(metrics.get(f"tuning.n_trials_{kind}", 0)) for kind in ("complete", "failed", "pruned")},
    }


def best_params(run: RunSource, stage: str) -> dict[str, Any]:
    record = run.stage_record(stage)
    if record is not None:
        return dict(record.get("best_params") or {})
    prefix = f"{stage}.best."
    return {k[len(prefix) :]: v for k, v in run.params.items() if k.startswith(prefix)}


def stage_tuning(run: RunSource, stage: str) -> dict[str, Any] | None:
    tuning = tuning_of(run, stage)
    if tuning is None:
        return None
    best_value = run.metrics.get(f"{stage}.best_value")
    return {
        "stage": stage,
        "objective": f"{tuning.get('direction', '')} {tuning.get('metric', '')}".strip(),
        "trials": f"{tuning.get('n_complete', 0)} complete, {tuning.get('n_failed', 0)} failed, "
        f"{tuning.get('n_pruned', 0)} pruned",
        "best_value": shown(best_value),
        "best_params": [{"name": k, "value": param_value(v)} for k, v in best_params(run, stage).items()],
        "space": search_space(run.params, stage),
        "images": run.images(*run.matching(f"{stage}/tuning", suffix=".png")),
    }


def section(run: RunSource) -> dict[str, Any] | None:
    tuned = [found for stage in run.stages if (found := stage_tuning(run, stage))]
    if not tuned:
        return None
    return {
        "title": "Tuning",
        "lead": f"{len(tuned)} stage(s) were tuned with Optuna; each stage was refitted once with its best trial.",
        "stages": tuned,
        "best_params_text": run.text(BEST_PARAMS_FILE),
        "rerun": RERUN,
    }
