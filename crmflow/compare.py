"""`crmflow compare`: one row per parent run of a sweep (or an experiment), sorted by a metric, best marked.

```
crmflow compare [sweep=ID | experiment=NAME] [metric=predictor.roc_auc] [top=10] [format=table|csv|markdown|html]
                [tracking_uri=...] [register=NAME] [output=PATH]
```
The rows come from the tracking store: the group choices that differ between the runs, the chosen metric,
the main metric of every stage (its tuning objective, else the stage's usual one), the trials that tuning
ran, and the wall time. `register=NAME` registers the best run's model as NAME@champion (crmflow.registry).
MLflow is imported inside the functions, so `crmflow --help` stays quick.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from crmflow.arguments import key_values
from crmflow.errors import ConfigError, did_you_mean
from crmflow.registry import check_name, promote
from crmflow.scoring import DEFAULT_TRACKING_URI

KEYS = ("sweep", "experiment", "metric", "top", "format", "tracking_uri", "register", "output")
FORMATS = ("table", "csv", "markdown", "html")  # html: the sweep page (crmflow.report.sweep), written to output
DEFAULT_TOP = 10
MAX_LISTED = 5  # SQLite files named when the store is not found
USAGE = (
    "usage: crmflow compare [sweep=<id, default the latest> | experiment=<name>] [metric=<stage.metric, default the "
    f"last stage's main metric>] [top=<n, default {DEFAULT_TOP}>] [format={'|'.join(FORMATS)}] "
    f"[tracking_uri=<URI, default {DEFAULT_TRACKING_URI}>] [register=<name: the best model as name@champion>] "
    "[output=<path of the html page, default ./sweep_<id>.html>]"
)
# The usual main metric of a stage when its tuning objective is not logged (or is "auto"), first found wins;
# the key order is the run order, so the last stage present gives the default sort metric.
STAGE_METRICS = {
    "segmentation": ("silhouette",),
    "rules": ("hit_rate_at_5",),
    "predictor": ("roc_auc", "r2"),
    "forecaster": ("mase",),
}
LOWER_IS_BETTER = ("rmse", "mae", "mse", "mase", "mape", "smape", "davies_bouldin", "log_loss", "brier", "seconds")
SWEEP_TAG, VERSION_TAG, CHOICE_TAG, PARENT_TAG = (
    "crmflow.sweep_id",
    "crmflow.version",
    "crmflow.choice.",
    "mlflow.parentRunId",
)
TRIAL_COUNTS = ("complete", "failed", "pruned")


@dataclass(frozen=True)
class CompareRequest:
    """The parsed `key=value` arguments of `crmflow compare`."""

    sweep: str | None = None
    experiment: str | None = None
    metric: str | None = None
    top: int = DEFAULT_TOP
    format: str = "table"
    tracking_uri: str = DEFAULT_TRACKING_URI
    register: str | None = None
    output: str | None = None

    @classmethod
    def parse(cls, args: Sequence[str]) -> CompareRequest:
        given = {key: value.strip() for key, value in key_values(args, KEYS, "compare", USAGE).items()}
        form = given.get("format") or "table"
        if form not in FORMATS:
            raise ConfigError(
                f"compare.format: unknown format '{form}'{did_you_mean(form, FORMATS)} (valid: {', '.join(FORMATS)})"
            )
        return cls(
            given.get("sweep") or None,
            given.get("experiment") or None,
            given.get("metric") or None,
            _top(given.get("top") or str(DEFAULT_TOP)),
            form,
            given.get("tracking_uri") or DEFAULT_TRACKING_URI,
            check_name(given["register"]) if "register" in given else None,
            given.get("output") or None,
        )


def _top(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"compare.top: must be an int in the range [1, inf); got {value!r}")
    return int(value)


def _client(uri: str) -> Any:
    """A client of an existing store: a missing SQLite file is an error (opening it would create one)."""
    from crmflow.tracking import Tracker, check_reachable, sqlite_path

    database = sqlite_path(uri)
    if database is not None and not database.is_file():
        places = [*Path(".").glob("*.db"), *Path(".").glob("*/mlflow.db")]
        if database.parent.is_dir():
            places += database.parent.glob("*.db")
        found = sorted({str(p) for p in places})
        more = f" and {len(found) - MAX_LISTED} more" if len(found) > MAX_LISTED else ""
        listed = ", ".join(f"sqlite:///{p}" for p in found[:MAX_LISTED]) + more
        where = f"SQLite files: {listed}" if found else "no SQLite store here; run a sweep first"
        raise ConfigError(f"compare.tracking_uri: no tracking store at '{database}' ({where})")
    try:
        check_reachable(uri)
    except ConfigError as error:  # it names the run's key, tracking.uri
        raise ConfigError(str(error).replace("tracking.uri:", "compare.tracking_uri:", 1)) from None
    return Tracker(uri, experiment="").client


def _experiment_ids(client: Any, name: str | None) -> list[str]:
    experiments = client.search_experiments()
    if name is None:
        return [e.experiment_id for e in experiments]
    match = [e.experiment_id for e in experiments if e.name == name]
    if not match:
        names = sorted(e.name for e in experiments)
        raise ConfigError(
            f"compare.experiment: unknown experiment '{name}'{did_you_mean(name, names)} "
            f"(experiments: {', '.join(names)})"
        )
    return match


def parent_runs(client: Any, experiment_ids: list[str]) -> list[Any]:
    """Every crmflow parent run (tag `crmflow.version`, no parent) of the experiments, newest first."""
    found, token = [], None
    while True:
        page = client.search_runs(
            experiment_ids,
            f"tags.`{VERSION_TAG}` != ''",
            max_results=1000,
            order_by=["start_time DESC"],
            page_token=token,
        )
        found += [run for run in page if PARENT_TAG not in run.data.tags]
        token = page.token
        if not token:
            return found


def select_runs(request: CompareRequest, runs: list[Any], uri: str) -> tuple[str | None, list[Any]]:
    """The runs of the requested sweep; the latest sweep's when neither a sweep nor an experiment is given."""
    sweeps = list(dict.fromkeys(r.data.tags[SWEEP_TAG] for r in runs if r.data.tags.get(SWEEP_TAG)))  # newest first
    sweep = request.sweep
    if sweep is None and request.experiment is None:
        if not sweeps:
            raise ConfigError(
                f"compare.sweep: no crmflow sweep in {_shown(uri)} ({len(runs)} single runs; give experiment=NAME)"
            )
        sweep = sweeps[0]
    if sweep is not None and sweep not in sweeps:
        listed = ", ".join(sweeps) or "none"
        raise ConfigError(
            f"compare.sweep: unknown sweep '{sweep}' in {_shown(uri)}{did_you_mean(sweep, sweeps)} "
            f"(sweeps, newest first: {listed})"
        )
    chosen = runs if sweep is None else [r for r in runs if r.data.tags.get(SWEEP_TAG) == sweep]
    if not chosen:
        raise ConfigError(f"compare.experiment: experiment '{request.experiment}' has no crmflow parent run")
    return sweep, chosen


def _shown(uri: str) -> str:
    from crmflow.redact import redact

    return redact(uri)


def stages_of(run: Any) -> list[str]:
    """The stages that ran: a `stages.<name>` param whose choice is not `none` and that logged metrics."""
    names = [k.partition(".")[2] for k in run.data.params if k.startswith("stages.")]
    names = [n for n in names if run.data.tags.get(f"{CHOICE_TAG}{n}") != "none"]
    names = [n for n in names if any(m.startswith(f"{n}.") for m in run.data.metrics)]
    return sorted(names, key=_run_order)


def _run_order(stage: str) -> tuple[int, str]:
    """The known stages in the order they run, then any others (plugins) by name."""
    order = list(STAGE_METRICS)
    return (order.index(stage) if stage in order else len(order), stage)


def main_metric(run: Any, stage: str) -> str | None:
    """The stage's tuning objective when logged (and not "auto"), else its usual metric, as `stage.metric`."""
    objective = run.data.params.get(f"tuning.objectives.{stage}.metric")
    for name in (objective, *STAGE_METRICS.get(stage, ())):
        if name and f"{stage}.{name}" in run.data.metrics:
            return f"{stage}.{name}"
    return None


def direction(runs: list[Any], metric: str) -> str:
    """`minimize` or `maximize`: the logged tuning direction when the metric is its stage's objective, else
    by the name (errors, losses, MASE and Davies-Bouldin are lower-is-better), else higher-is-better."""
    stage, _, name = metric.partition(".")
    for run in runs:
        params = run.data.params
        if params.get(f"tuning.objectives.{stage}.metric") == name:
            logged = params.get(f"tuning.objectives.{stage}.direction")
            if logged in ("minimize", "maximize"):
                return logged
    bare = name.removeprefix("holdout_")
    return "minimize" if bare in LOWER_IS_BETTER or bare.endswith(LOWER_IS_BETTER) else "maximize"


def _trials(run: Any, stages: list[str]) -> dict[str, int]:
    metrics = run.data.metrics
    return {kind: int(sum(metrics.get(f"{s}.tuning.n_trials_{kind}", 0.0) for s in stages)) for kind in TRIAL_COUNTS}


def compare_frame(runs: list[Any], metric: str | None, top: int) -> tuple[pd.DataFrame, str, str]:
    """One row per run, sorted by the metric in its direction (missing values last), the best first."""
    stages = list(dict.fromkeys(s for run in runs for s in stages_of(run)))
    stages.sort(key=_run_order)
    mains = {s: next((m for run in runs if (m := main_metric(run, s))), None) for s in stages}
    metric = metric or next((mains[s] for s in reversed(stages) if mains[s]), None)
    found = sorted({m for run in runs for m in run.data.metrics if m.partition(".")[0] in stages})
    if metric is None or metric not in found:
        raise ConfigError(
            f"compare.metric: unknown metric '{metric}'{did_you_mean(str(metric), found)} (metrics: {', '.join(found)})"
        )
    way = direction(runs, metric)
    choices = _varying_choices(runs, stages)
    rows = [_row(run, choices, metric, mains, stages) for run in runs]
    frame = pd.DataFrame(rows)
    frame = frame.sort_values(metric, ascending=way == "minimize", na_position="last", kind="stable")
    frame = frame.head(top).reset_index(drop=True)
    frame.insert(0, "best", ["*" if i == 0 and not math.isnan(v) else "" for i, v in enumerate(frame[metric])])
    return frame, metric, way


def _varying_choices(runs: list[Any], stages: list[str]) -> list[str]:
    """The groups whose choice differs between the runs (the stages' groups when none does)."""
    groups = sorted({k[len(CHOICE_TAG) :] for run in runs for k in run.data.tags if k.startswith(CHOICE_TAG)})
    groups.sort(key=lambda g: (stages.index(g) if g in stages else len(stages), g))  # the stages first, in run order
    varying = [g for g in groups if len({run.data.tags.get(f"{CHOICE_TAG}{g}") for run in runs}) > 1]
    return varying or [g for g in groups if g in stages]


def _row(run: Any, choices: list[str], metric: str, mains: dict[str, str | None], stages: list[str]) -> dict[str, Any]:
    metrics = run.data.metrics
    row: dict[str, Any] = {g: run.data.tags.get(f"{CHOICE_TAG}{g}", "") for g in choices}
    row[metric] = metrics.get(metric, math.nan)
    row.update({m: metrics.get(m, math.nan) for m in mains.values() if m and m != metric})
    row.update(_trials(run, stages))
    end = run.info.end_time
    row["wall_seconds"] = round((end - run.info.start_time) / 1000, 1) if end else math.nan
    row["status"] = run.info.status
    row["run_id"] = run.info.run_id
    return row


def render(frame: pd.DataFrame, form: str) -> str:
    """The frame as a fixed-width table, CSV or a Markdown table."""
    if form == "csv":
        return frame.to_csv(index=False).rstrip("\n")
    cells = [[_cell(v) for v in row] for row in frame.itertuples(index=False)]
    header = [str(c) for c in frame.columns]
    if form == "markdown":
        lines = [header, ["---"] * len(header), *cells]
        return "\n".join("| " + " | ".join(line) + " |" for line in lines)
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *cells])


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def compare(request: CompareRequest) -> str:
    """The text `crmflow compare` prints: the table, with a line saying what was compared (table format only)."""
    client = _client(request.tracking_uri)
    runs = parent_runs(client, _experiment_ids(client, request.experiment))
    sweep, chosen = select_runs(request, runs, request.tracking_uri)
    frame, metric, way = compare_frame(chosen, request.metric, request.top)
    text = render(frame, request.format)
    if request.register:
        registered = promote(request.tracking_uri, request.register, frame, chosen, metric, sweep)
        if request.format == "table":
            text += "\n" + registered
        else:  # the CSV or markdown on stdout stays parseable
            print(registered, file=sys.stderr, flush=True)
    if request.format != "table":
        return text
    what = f"sweep '{sweep}'" if sweep else f"experiment '{request.experiment}'"
    better = "lower" if way == "minimize" else "higher"
    shown = f"top {len(frame)} of {len(chosen)}" if len(frame) < len(chosen) else f"{len(chosen)}"
    return f"{what}: {shown} runs by {metric} ({better} is better; * = best)\n{text}"
