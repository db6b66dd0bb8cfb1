"""`crmflow report`: write a run's report.html again from what it logged (and log it on the run again), or the
page of a sweep.

```
crmflow report run=ID [output=PATH] [log=true|false] [tracking_uri=...]
crmflow report sweep=ID [output=PATH] [tracking_uri=...]
```
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crmflow.arguments import key_values
from crmflow.errors import ConfigError, did_you_mean
from crmflow.scoring import DEFAULT_TRACKING_URI

KEYS = ("run", "sweep", "output", "log", "tracking_uri")
BOOLEANS = {"true": True, "false": False}
USAGE = (
    "usage: crmflow report run=<run id> [output=<path, default ./report_<id8>.html>] [log=true|false: log it on "
    f"the run again, default true] [tracking_uri=<URI, default {DEFAULT_TRACKING_URI}>] | crmflow report "
    "sweep=<id> [output=<path, default ./sweep_<id>.html>] [tracking_uri=...]"
)


@dataclass(frozen=True)
class ReportRequest:
    """The parsed `key=value` arguments of `crmflow report`."""

    run: str | None = None
    sweep: str | None = None
    output: str | None = None
    log: bool = True
    tracking_uri: str = DEFAULT_TRACKING_URI

    @classmethod
    def parse(cls, args: Sequence[str]) -> ReportRequest:
        given = {key: value.strip() for key, value in key_values(args, KEYS, "report", USAGE).items()}
        run, sweep = given.get("run") or None, given.get("sweep") or None
        if (run is None) == (sweep is None):
            raise ConfigError(f"report: give either run=<run id> or sweep=<sweep id> ({USAGE})")
        log = given.get("log", "true").lower()
        if log not in BOOLEANS:
            raise ConfigError(f"report.log: must be true or false; got {given['log']!r}")
        if sweep is not None and "log" in given:
            raise ConfigError("report.log: only with run=<run id>; the sweep page is written to output")
        uri = given.get("tracking_uri") or DEFAULT_TRACKING_URI
        return cls(run, sweep, given.get("output") or None, BOOLEANS[log], uri)


def find_run(client: Any, run_id: str, uri: str) -> str:
    """The full id of the run: as given, or the one crmflow parent run whose id starts with it."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_run(run_id).info.run_id)
    except MlflowException:
        pass
    from crmflow.compare import _experiment_ids, parent_runs
    from crmflow.redact import redact

    ids = [r.info.run_id for r in parent_runs(client, _experiment_ids(client, None))]
    matches = [i for i in ids if i.startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    known = f"{did_you_mean(run_id, ids)} (crmflow runs, newest first: {', '.join(i[:8] for i in ids[:5]) or 'none'})"
    what = f"{len(matches)} runs start with '{run_id}'" if matches else f"no run '{run_id}'"
    raise ConfigError(f"report.run: {what} in {redact(uri)}{known if not matches else ''}")


def report_run(request: ReportRequest) -> str:
    """Write the run's report.html (and log it on the run unless log=false); the line saying so."""
    from crmflow.compare import _client
    from crmflow.report.run_report import publish, run_report

    client = _as_report(_client, request.tracking_uri)
    run_id = find_run(client, str(request.run), request.tracking_uri)
    html, note = run_report(client, run_id)
    output = Path(request.output or f"report_{run_id[:8]}.html")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(html, encoding="utf-8")
    logged = ""
    if request.log:
        publish(client, run_id, html, note)
        logged = " and logged it on the run"
    return f"crmflow: wrote the report of run {run_id} to {output}{logged}"


def report_command(args: Sequence[str]) -> str:
    """`crmflow report ...`: the run's report or the sweep page."""
    request = ReportRequest.parse(args)
    if request.run is not None:
        return report_run(request)
    from crmflow.compare import CompareRequest
    from crmflow.report.sweep import write_sweep_report

    compare = CompareRequest(
        sweep=request.sweep, format="html", tracking_uri=request.tracking_uri, output=request.output
    )
    return _as_report(write_sweep_report, compare)


def _as_report(step: Any, *args: Any) -> Any:
    """`step(*args)`, its errors naming this command's keys (`report.sweep`) rather than compare's."""
    try:
        return step(*args)
    except ConfigError as error:
        message = str(error)
        if message.startswith("compare."):
            raise ConfigError("report." + message.removeprefix("compare.")) from None
        raise
