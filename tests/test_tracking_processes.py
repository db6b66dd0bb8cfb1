"""Tracking across processes: a fresh SQLite store opened by 4 processes at once, workers logging trials
under one parent (forked and spawned), attaching to a parent, one dataset logged by racing processes,
and a terminated process leaving its runs KILLED."""

from __future__ import annotations

import multiprocessing
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from crmflow.tracking import Terminated, Tracker, sqlite_path

pytestmark = pytest.mark.slow  # each test starts Python processes that import MLflow
TIMEOUT = 240


def _uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/mlruns/mlflow.db"


def _start(context: str, target: Any, *args: Any) -> multiprocessing.process.BaseProcess:
    process = multiprocessing.get_context(context).Process(target=target, args=args)
    process.start()
    return process


def _join(*processes: multiprocessing.process.BaseProcess) -> list[int | None]:
    for process in processes:
        process.join(TIMEOUT)
    return [process.exitcode for process in processes]


def _runs(uri: str, experiment_id: str) -> list:
    return MlflowClient(uri).search_runs([experiment_id])


# --- targets (module level, so spawned processes can import them) -------------------------------


def _open_and_log(uri: str, barrier: Any, index: int) -> None:
    tracker = Tracker(uri, "race")
    barrier.wait()  # every process opens the fresh store at the same moment
    tracker.ensure_experiment()
    with tracker.parent_run(f"job {index}", {}), tracker.child_run(f"job {index} · trial 0", {"i": index}, {}):
        tracker.log_metrics({"score": index})


def _trials(tracker: Tracker, prefix: str) -> None:
    for number in range(2):
        with tracker.child_run(f"{prefix} · trial {number}", {"number": number}, {"crmflow.trial": str(number)}):
            tracker.log_metrics({"score": float(number)})
    tracker.log_metrics({f"{prefix}.done": 1.0})  # no child open: on the parent


def _attach(uri: str, run_id: str, fail: bool) -> None:
    tracker = Tracker(uri, "attach")
    try:
        with tracker.parent_run("ignored", {}, run_id=run_id) as run:
            assert run.info.run_id == run_id and tracker.parent_run_id == run_id
            _trials(tracker, "failing" if fail else "attached")
            if fail:
                raise ValueError("this worker fails")
    except ValueError:
        pass


def _transactions(rows: int = 200_000) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "customer_id": pd.Series([f"C{i:05d}" for i in rng.integers(0, 5000, rows)], dtype="str"),
            "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**7, rows), unit="s"),
            "amount": rng.gamma(2.0, 5.0, rows).round(2),
        }
    )


def _log_dataset(uri: str, barrier: Any, index: int) -> None:
    tracker = Tracker(uri, "datasets")
    frame = _transactions()
    with tracker.parent_run(f"job {index}", {}):
        barrier.wait()
        tracker.log_dataset(frame, name="synthetic.transactions", context="transactions")


def _hang_in_a_trial(uri: str, started: Any) -> None:
    tracker = Tracker(uri, "terminated")
    try:
        with tracker.parent_run("job", {}), tracker.child_run("job · trial 0", {}, {}):
            started.set()
            time.sleep(TIMEOUT)
    except Terminated:
        sys.exit(143)


# --- tests ----------------------------------------------------------------------------------------


def test_four_processes_open_a_fresh_store_at_once(tmp_path: Path) -> None:
    uri = _uri(tmp_path)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    processes = [_start("spawn", _open_and_log, uri, barrier, i) for i in range(4)]
    assert _join(*processes) == [0] * 4
    client = MlflowClient(uri)
    experiments = [e for e in client.search_experiments() if e.name == "race"]
    assert len(experiments) == 1
    runs = _runs(uri, experiments[0].experiment_id)
    assert len(runs) == 8 and {run.info.status for run in runs} == {"FINISHED"}
    assert sqlite_path(uri).with_name("mlflow.db.lock").is_file()


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_workers_log_children_under_the_same_parent(tmp_path: Path, context: str) -> None:
    uri = _uri(tmp_path)
    tracker = Tracker(uri, "workers")
    with tracker.parent_run("study", {}) as parent:
        tracker.log_metrics({"before": 1.0})  # the launcher's client is open when the workers fork
        processes = [_start(context, _trials, tracker.worker(), f"worker {i}") for i in range(2)]
        assert _join(*processes) == [0, 0]
        assert MlflowClient(uri).get_run(parent.info.run_id).info.status == "RUNNING"
    client = MlflowClient(uri)
    done = client.get_run(parent.info.run_id)
    assert done.info.status == "FINISHED"
    assert {"before", "worker 0.done", "worker 1.done"} <= set(done.data.metrics)
    kids = client.search_runs([tracker.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert sorted(k.info.run_name for k in kids) == [f"worker {w} · trial {t}" for w in range(2) for t in range(2)]
    assert {k.info.status for k in kids} == {"FINISHED"}
    assert {k.data.metrics["score"] for k in kids} == {0.0, 1.0}


def test_an_attaching_process_leaves_the_parent_running_unless_it_fails(tmp_path: Path) -> None:
    uri = _uri(tmp_path)
    owner = Tracker(uri, "attach")
    client = MlflowClient(uri)
    with owner.parent_run("study", {}) as parent:
        run_id = parent.info.run_id
        assert _join(_start("spawn", _attach, uri, run_id, False)) == [0]
        assert client.get_run(run_id).info.status == "RUNNING"
        assert _join(_start("spawn", _attach, uri, run_id, True)) == [0]
        assert client.get_run(run_id).info.status == "FAILED"
    kids = client.search_runs([owner.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'")
    assert len(kids) == 4 and {k.info.status for k in kids} == {"FINISHED"}


def test_racing_processes_log_one_dataset(tmp_path: Path) -> None:
    uri = _uri(tmp_path)
    Tracker(uri, "datasets").ensure_experiment()  # the launcher creates the store and experiment first
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    processes = [_start("spawn", _log_dataset, uri, barrier, i) for i in range(4)]
    assert _join(*processes) == [0] * 4
    experiment = MlflowClient(uri).get_experiment_by_name("datasets")
    runs = _runs(uri, experiment.experiment_id)
    digests = {i.dataset.digest for run in runs for i in run.inputs.dataset_inputs}
    assert len(runs) == 4 and all(len(run.inputs.dataset_inputs) == 1 for run in runs) and len(digests) == 1
    with sqlite3.connect(sqlite_path(uri)) as db:
        assert db.execute("SELECT count(*) FROM datasets WHERE name = 'synthetic.transactions'").fetchone() == (1,)


def test_a_terminated_process_leaves_its_runs_killed(tmp_path: Path) -> None:
    uri = _uri(tmp_path)
    started = multiprocessing.get_context("spawn").Event()
    process = _start("spawn", _hang_in_a_trial, uri, started)
    assert started.wait(TIMEOUT)
    process.terminate()  # SIGTERM, as a launcher stopping its workers sends
    assert _join(process) == [143]
    experiment = MlflowClient(uri).get_experiment_by_name("terminated")
    assert {run.info.status for run in _runs(uri, experiment.experiment_id)} == {"KILLED"}
