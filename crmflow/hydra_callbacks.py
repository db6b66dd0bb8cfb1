"""The Hydra callback of the `crmflow` command, for single runs and sweeps run by any launcher (basic, or
joblib's worker processes): the MLflow store is created once by the launching process before any job starts,
and the jobs that stopped on a crmflow error are collected from their output folders at the end.

Secrets: Hydra writes `.hydra/config.yaml`, `hydra.yaml` and `overrides.yaml` into a job's output folder just
before `on_job_start` (and `multirun.yaml` into the sweep folder after `on_multirun_start`, before the first
job), with every override as typed; `on_job_start` rewrites them with passwords hidden (`redact_hydra_outputs`),
before the task runs; every hook makes sure this process's log records are redacted (`redact_logging`).

A failing job writes its one line to `<its output dir>/crmflow_failure.json` (`record_failure`), so
the report does not depend on where the job ran. Nothing here keeps state in process globals: joblib
reuses its workers between jobs. Light on purpose: MLflow is imported only when a sweep starts.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from crmflow.quiet import quiet
from crmflow.redact import redact, redact_config, redact_logging, redact_overrides

__all__ = [
    "FAILURE_FILE",
    "SweepCallback",
    "record_failure",
    "redact_hydra_outputs",
    "redact_yaml_file",
    "sweep_failures",
]

logger = logging.getLogger(__name__)
FAILURE_FILE = "crmflow_failure.json"
HYDRA_FILES = ("config.yaml", "hydra.yaml", "overrides.yaml")  # what Hydra writes into <job>/<output_subdir>/
SWEEP_FILE = "multirun.yaml"  # what Hydra's sweeper writes into the sweep folder


DATED_FOLDER = re.compile(r"\d{4}-\d{2}-\d{2}")  # Hydra's default sweep dir: multirun/<date>/<time>


def sweep_id(sweep_dir: str) -> str:
    """A sweep's id for the tag `crmflow.sweep_id`: its folder's name, with the date folder above it when Hydra's
    default `multirun/<date>/<time>` names it (a time alone repeats from one day to the next)."""
    path = Path(sweep_dir.rstrip("/"))
    return f"{path.parent.name}/{path.name}" if DATED_FOLDER.fullmatch(path.parent.name) else path.name


def _replace(path: Path, text: str) -> None:
    """Write `text` to `path` in one `os.replace`, keeping its permissions: a reader sees old or new, whole."""
    handle, scratch = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(scratch, path.stat().st_mode & 0o777)
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise


def redact_yaml_file(path: Path) -> bool:
    """Rewrite a YAML file Hydra wrote with URL passwords and secret-named values hidden (the overrides as
    typed included); whether it changed. Interpolations stay as written, unresolved."""
    if not path.is_file():
        return False
    node = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    shown = redact_config(node)
    if shown == node:
        return False
    _replace(path, OmegaConf.to_yaml(OmegaConf.create(shown)))
    return True


def redact_hydra_outputs(hydra_cfg: DictConfig) -> list[Path]:
    """Hide secrets in this job's `.hydra/` files and, in a sweep, the sweep folder's multirun.yaml; the files
    that changed. `hydra_cfg` is the `hydra` node (of the job's config, or `HydraConfig.get()`)."""
    files = []
    if hydra_cfg.output_subdir is not None:
        folder = Path(str(hydra_cfg.runtime.output_dir)) / str(hydra_cfg.output_subdir)
        files += [folder / name for name in HYDRA_FILES]
    if str(hydra_cfg.mode) == "RunMode.MULTIRUN":
        files.append(Path(str(hydra_cfg.sweep.dir)) / SWEEP_FILE)
    return [path for path in files if redact_yaml_file(path)]


def record_failure(job_dir: str | Path, job_num: int, job: str, reason: str) -> Path:
    """Write a failed job's number, overrides and reason into its output folder (atomically)."""
    folder = Path(job_dir)
    folder.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(prefix=f".{FAILURE_FILE}-", dir=folder)
    with os.fdopen(handle, "w") as out:
        json.dump({"num": job_num, "job": redact(job), "reason": redact(reason)}, out)
    target = folder / FAILURE_FILE
    os.replace(scratch, target)
    return target


def sweep_failures(sweep_dir: str | Path) -> list[str]:
    """The "job: reason" lines of a sweep's failed jobs, in job order."""
    records = [json.loads(path.read_text()) for path in Path(sweep_dir).rglob(FAILURE_FILE)]
    return [f"{r['job']}: {r['reason']}" for r in sorted(records, key=lambda r: r["num"])]


EXPERIMENT_KEYS = ("experiment", "data", "data.name", "tracking", "tracking.experiment")  # what names the experiment


def sweep_experiment(config: DictConfig) -> str | None:
    """The experiment every job of the sweep logs to (`tracking.experiment` of its shared config), or None when
    the sweep varies the recipe, the data or the experiment itself."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    task = OmegaConf.select(config, "hydra.overrides.task", default=None) or []
    overrides = OverridesParser.create().parse_overrides(list(task))
    if any(o.is_sweep_override() and o.key_or_group.lstrip("+~") in EXPERIMENT_KEYS for o in overrides):
        return None
    return str(OmegaConf.select(config, "tracking.experiment"))


class SweepCallback(Callback):
    """Registered under `hydra.callbacks` in conf/config.yaml; the run and multirun hooks run in the launching
    process, `on_job_start` where the job runs."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Redact this process's log records (the CLI has, unless Hydra was started otherwise); quiet the
        known library hints (crmflow.quiet)."""
        redact_logging()
        quiet()

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Hide secrets in the `.hydra/` files (and multirun.yaml) Hydra wrote just before this hook, and in
        the log records of the process the job runs in (a joblib worker's too), whose known library hints are
        quieted (crmflow.quiet; not with --verbose)."""
        redact_logging()
        quiet()
        redact_hydra_outputs(config.hydra)

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        """Hide secrets in the overrides of the job's result: Hydra prints them to stderr ("Error executing job
        with overrides: ...") when the job raised (a --verbose run, a crash)."""
        if job_return.overrides is not None:
            job_return.overrides = redact_overrides(list(job_return.overrides))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Clear the failure records a previous sweep left in this sweep folder, then create (and
        migrate) the tracking store and, when every job has the same one, the experiment before the launcher
        starts any job (jobs whose recipe or data differ each create their own, under the store lock).

        The sweep's shared config (its overrides that do not sweep) is planned first: when it is wrong,
        nothing is created and each job reports the one line (a swept value is checked by its job)."""
        from crmflow.errors import CrmflowError
        from crmflow.plan import plan_run
        from crmflow.tracking import Tracker

        redact_logging()  # before the launcher logs each job's overrides
        for stale in Path(str(config.hydra.sweep.dir)).rglob(FAILURE_FILE):
            stale.unlink(missing_ok=True)
        try:
            plan = plan_run(OmegaConf.masked_copy(config, [key for key in config if key != "hydra"]))
        except CrmflowError:
            return
        experiment = sweep_experiment(config)
        tracker = Tracker(plan.tracking_uri, experiment or "")
        if experiment is None:
            tracker.client.search_experiments(max_results=1)  # the store, created and migrated once
            logger.info("MLflow store ready for the sweep; its jobs vary their experiment")
            return
        logger.info("MLflow experiment '%s' (%s) ready for the sweep", experiment, tracker.ensure_experiment())

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """List the failed jobs and exit 2 (the other jobs have finished); multirun.yaml is redacted again,
        in case no job started."""
        redact_yaml_file(Path(str(config.hydra.sweep.dir)) / SWEEP_FILE)
        failures = [redact(line) for line in sweep_failures(str(config.hydra.sweep.dir))]
        if failures:
            print(f"crmflow: {len(failures)} sweep job(s) failed:", *failures, sep="\n  ", file=sys.stderr, flush=True)
            sys.exit(2)
