"""The Hydra callback of the `crmflow` command, for sweeps run by any launcher (basic, or joblib's
worker processes): the MLflow store is created once by the launching process before any job starts,
and the jobs that stopped on a crmflow error are collected from their output folders at the end.

A failing job writes its one line to `<its output dir>/crmflow_failure.json` (`record_failure`), so
the report does not depend on where the job ran. Nothing here keeps state in process globals: joblib
reuses its workers between jobs. Light on purpose: MLflow is imported only when a sweep starts.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

__all__ = ["FAILURE_FILE", "SweepCallback", "record_failure", "sweep_failures"]

logger = logging.getLogger(__name__)
FAILURE_FILE = "crmflow_failure.json"


def record_failure(job_dir: str | Path, job_num: int, job: str, reason: str) -> Path:
    """Write a failed job's number, overrides and reason into its output folder (atomically)."""
    folder = Path(job_dir)
    folder.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(prefix=f".{FAILURE_FILE}-", dir=folder)
    with os.fdopen(handle, "w") as out:
        json.dump({"num": job_num, "job": job, "reason": reason}, out)
    target = folder / FAILURE_FILE
    os.replace(scratch, target)
    return target


def sweep_failures(sweep_dir: str | Path) -> list[str]:
    """The "job: reason" lines of a sweep's failed jobs, in job order."""
    records = [json.loads(path.read_text()) for path in Path(sweep_dir).rglob(FAILURE_FILE)]
    return [f"{r['job']}: {r['reason']}" for r in sorted(records, key=lambda r: r["num"])]


class SweepCallback(Callback):
    """Registered under `hydra.callbacks` in conf/config.yaml; its hooks run in the launching process."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Clear the failure records a previous sweep left in this sweep folder, then create (and
        migrate) the tracking store and the experiment before the launcher starts any job.

        The sweep's shared config (its overrides that do not sweep) is planned first: when it is wrong,
        nothing is created and each job reports the one line (a swept value is checked by its job)."""
        from crmflow.errors import CrmflowError
        from crmflow.plan import plan_run
        from crmflow.tracking import Tracker

        for stale in Path(str(config.hydra.sweep.dir)).rglob(FAILURE_FILE):
            stale.unlink(missing_ok=True)
        try:
            plan = plan_run(OmegaConf.masked_copy(config, [key for key in config if key != "hydra"]))
        except CrmflowError:
            return
        experiment_id = Tracker(plan.tracking_uri, plan.experiment).ensure_experiment()
        logger.info("MLflow experiment '%s' (%s) ready for the sweep", plan.experiment, experiment_id)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """List the failed jobs and exit 2 (the other jobs have finished)."""
        failures = sweep_failures(str(config.hydra.sweep.dir))
        if failures:
            print(f"crmflow: {len(failures)} sweep job(s) failed:", *failures, sep="\n  ", file=sys.stderr, flush=True)
            sys.exit(2)
