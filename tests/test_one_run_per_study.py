"""One MLflow parent run per study: the same `crmflow` command started in several processes (a journal and a
local store; PostgreSQL and an mlflow server) makes one parent with every trial nested under it, and a process
killed with SIGKILL mid-study leaves nothing RUNNING once the command is run again."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest
import sqlalchemy
from mlflow.entities import Run
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from crmflow.config.tuning import TuningSettings
from crmflow.studies import end_dead_runs
from crmflow.study_run import parent_attr, study_parent_run
from crmflow.tracking import Tracker

pytestmark = pytest.mark.slow  # each test starts two or three `crmflow` processes
TIMEOUT = 300
SMALL = ["data.n_customers=300", "rules=none", "predictor=none"]


@dataclass
class Setup:
    """Where the processes of one test keep their study and their runs."""

    folder: Path
    tracking_uri: str
    storage: str
    study_name: str
    experiment: str

    @classmethod
    def local(cls, folder: Path) -> Setup:
        uri = f"sqlite:///{folder}/mlruns/mlflow.db"
        return cls(folder, uri, f"journal:{folder}/study.log", "s1", "one-run")

    def overrides(self, n_trials: int) -> list[str]:
        return [
            *SMALL,
            f"tuning.n_trials={n_trials}",
            f"tuning.storage='{self.storage}'",  # quoted: a database URL may hold '=' and '?'
            f"tuning.study_name={self.study_name}",
            f"tracking.uri={self.tracking_uri}",
            f"tracking.experiment={self.experiment}",
        ]

    def start(self, index: int, *overrides: str) -> subprocess.Popen:
        """`python -m crmflow OVERRIDES` in its own Hydra folder, its output in `p<index>.out`."""
        command = [sys.executable, "-m", "crmflow", *overrides, f"hydra.run.dir={self.folder}/p{index}"]
        with (self.folder / f"p{index}.out").open("w") as out:
            return subprocess.Popen(
                command, cwd=self.folder, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "MPLBACKEND": "Agg"}
            )

    def output(self, index: int) -> str:
        return (self.folder / f"p{index}.out").read_text()

    def study(self, stage: str | None = "segmentation") -> optuna.Study:
        """The stage's study (`stage=None`: the run-level study that records the parent run)."""
        storage: str | optuna.storages.BaseStorage = self.storage
        if self.storage.startswith("journal:"):
            backend = optuna.storages.journal.JournalFileBackend(self.storage.removeprefix("journal:"))
            storage = optuna.storages.JournalStorage(backend)
        name = f"{self.study_name}.{stage}" if stage else self.study_name
        return optuna.load_study(study_name=name, storage=storage)

    def runs(self) -> list[Run]:
        client = MlflowClient(self.tracking_uri)
        experiment = client.get_experiment_by_name(self.experiment)
        return client.search_runs([experiment.experiment_id], max_results=1000)


def run_together(setup: Setup, n_processes: int, *overrides: str) -> list[str]:
    """Start the same command in `n_processes` processes at once; each one's output once all have exited 0."""
    processes = [setup.start(index, *overrides) for index in range(n_processes)]
    codes = [process.wait(TIMEOUT) for process in processes]
    outputs = [setup.output(index) for index in range(n_processes)]
    assert codes == [0] * n_processes, "\n\n".join(outputs)
    return outputs


def states(study: optuna.Study) -> dict[str, int]:
    found: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        found[trial.state.name] = found.get(trial.state.name, 0) + 1
    return found


def assert_one_parent(setup: Setup, outputs: list[str], n_trials: int) -> tuple[Run, list[Run]]:
    """One parent run, FINISHED, recorded on the run-level study and named by every process; every other run
    nested under it; n_trials COMPLETE trials each with its FINISHED child; nothing RUNNING anywhere."""
    runs = setup.runs()
    parents = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    assert len(parents) == 1, [run.info.run_name for run in parents]
    parent = parents[0]
    children = [run for run in runs if run is not parent]
    assert {run.data.tags["mlflow.parentRunId"] for run in children} == {parent.info.run_id}
    assert parent.info.status == "FINISHED" and not [run for run in runs if run.info.status == "RUNNING"]
    assert parent.data.tags["crmflow.study_name"] == setup.study_name
    assert setup.study(None).user_attrs[parent_attr(setup.tracking_uri, setup.experiment)] == parent.info.run_id
    reported = {match for out in outputs for match in re.findall(r"MLflow run (\w{32}) \(", out)}
    assert reported == {parent.info.run_id}
    study = setup.study()
    assert states(study).get("COMPLETE") == n_trials and "RUNNING" not in states(study)
    status = {run.info.run_id: run.info.status for run in children}
    complete = [t for t in study.trials if t.state is TrialState.COMPLETE]
    assert {status[t.user_attrs["mlflow_run_id"]] for t in complete} == {"FINISHED"}
    return parent, children


@pytest.mark.parametrize(("n_processes", "n_workers"), [(3, 1), (2, 2)], ids=["3-processes", "2-processes-2-workers"])
def test_processes_started_together_make_one_parent_run(tmp_path: Path, n_processes: int, n_workers: int) -> None:
    setup = Setup.local(tmp_path)
    outputs = run_together(setup, n_processes, *setup.overrides(6), f"tuning.n_workers={n_workers}")
    _, children = assert_one_parent(setup, outputs, 6)
    assert len(children) == 6 and {run.info.status for run in children} == {"FINISHED"}
    assert sorted(int(run.data.tags["crmflow.trial"]) for run in children) == list(range(6))
    pids = {t.user_attrs["worker_pid"] for t in setup.study().trials}
    assert len(pids) >= 2 or n_workers == 1  # 2 workers in each process: trials from several worker pids


def freeze_mid_trial(process: subprocess.Popen, setup: Setup, min_complete: int) -> optuna.trial.FrozenTrial:
    """Stop the process (SIGSTOP) until the study has `min_complete` COMPLETE trials and one RUNNING whose MLflow
    run exists, and Optuna's journal lock is free; return that trial, the process still stopped."""
    journal, deadline, study = setup.storage.removeprefix("journal:"), time.monotonic() + TIMEOUT, None
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.03)
        if study is None:
            try:
                study = setup.study()
            except KeyError:  # not created yet
                continue
        os.kill(process.pid, signal.SIGSTOP)
        trials = study.get_trials(deepcopy=False)
        running = [t for t in trials if t.state is TrialState.RUNNING and "mlflow_run_id" in t.user_attrs]
        complete = sum(t.state is TrialState.COMPLETE for t in trials)
        if complete >= min_complete and running and not os.path.lexists(f"{journal}.lock"):
            return running[0]
        os.kill(process.pid, signal.SIGCONT)
    pytest.fail(f"the study never had a trial running mid-study: {setup.output(0)}")


def test_kill_9_mid_study_then_rerun_leaves_nothing_running(tmp_path: Path) -> None:
    setup = Setup.local(tmp_path)
    slow_trials = ["tuning.objectives.segmentation.metric=stability", "segmentation.settings.stability_resamples=20"]
    overrides = [*setup.overrides(12), *slow_trials]  # trials of ~0.2 s, not 30 ms: the poll sees one running
    process = setup.start(0, *overrides)
    victim = freeze_mid_trial(process, setup, min_complete=4)
    before = {t.number: t.value for t in setup.study().trials if t.state is TrialState.COMPLETE}
    os.kill(process.pid, signal.SIGKILL)
    process.wait(TIMEOUT)
    killed_run = victim.user_attrs["mlflow_run_id"]
    assert {run.info.run_id: run.info.status for run in setup.runs()}[killed_run] == "RUNNING"
    assert 4 <= len(before) < 12

    outputs = run_together(setup, 1, *overrides)  # the same command again: resume = finish
    parent, children = assert_one_parent(setup, outputs, 12)
    study = setup.study()
    assert {n: study.trials[n].value for n in before} == before  # no COMPLETE trial lost or rerun
    assert study.trials[victim.number].state is TrialState.FAIL
    assert "died" in study.trials[victim.number].user_attrs["error"]
    killed = [run for run in children if run.info.status == "KILLED"]
    assert [run.info.run_id for run in killed] == [killed_run]
    reason = killed[0].data.tags["crmflow.killed_reason"]
    assert reason.startswith(f"worker pid {process.pid} on host ") and "died" in reason
    assert f"trial {victim.number} of study 's1.segmentation' is FAIL" in reason
    assert len([run for run in children if run.info.status == "FINISHED"]) == 12
    print(f"COMPLETE trials before the kill: {len(before)}, after the rerun: 12; RUNNING runs: 0")


@pytest.mark.services
def test_two_machines_share_one_parent_through_postgresql_and_a_server(
    tmp_path: Path, postgres_url: str, mlflow_server_url: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    engine = sqlalchemy.create_engine(postgres_url)
    with engine.begin() as connection:  # an empty schema: the processes race to create Optuna's tables in it
        connection.execute(sqlalchemy.text(f"CREATE SCHEMA fresh_{tag}"))
    engine.dispose()
    storage = f"{postgres_url}?options=-csearch_path%3Dfresh_{tag}"
    setup = Setup(tmp_path, mlflow_server_url, storage, f"pg-{tag}", f"one-run-{tag}")
    outputs = run_together(setup, 2, "tracking=server", *setup.overrides(6))
    _, children = assert_one_parent(setup, outputs, 6)
    assert len(children) == 6 and {run.info.status for run in children} == {"FINISHED"}


# --- the pieces, in one process ----------------------------------------------------------------------


def settings_for(setup: Setup) -> TuningSettings:
    node = {"n_trials": 2, "storage": setup.storage, "study_name": setup.study_name}
    return TuningSettings.parse({**node, "objectives": {"segmentation": {"metric": "score"}}}, ["segmentation"])


@pytest.mark.parametrize("storage", ["journal:{tmp}/study.log", "sqlite:///{tmp}/optuna.db"])
def test_the_first_creates_the_study_parent_and_the_others_attach(tmp_path: Path, caplog, storage: str) -> None:
    setup = Setup.local(tmp_path)
    setup.storage = storage.format(tmp=tmp_path)
    tuning, client = settings_for(setup), MlflowClient(setup.tracking_uri)
    first, second = Tracker(setup.tracking_uri, setup.experiment), Tracker(setup.tracking_uri, setup.experiment)
    with study_parent_run(tuning, first, "kmeans", {"crmflow.version": "x"}) as parent:
        first.log_params({"segmentation.best.n_clusters": "3"})
        with study_parent_run(tuning, second, "ignored", {}) as attached:
            assert attached.info.run_id == parent.info.run_id
            with caplog.at_level(logging.WARNING, logger="crmflow.tracking.runs"):
                second.log_params({"segmentation.best.n_clusters": "5", "new": "1"})  # no error: first value kept
            assert "param 'segmentation.best.n_clusters' of the shared run stays '3'" in caplog.text
        assert client.get_run(parent.info.run_id).info.status == "FINISHED"  # the last to end sets it ...
    run = client.get_run(parent.info.run_id)
    assert run.info.status == "FINISHED" and run.data.params == {"segmentation.best.n_clusters": "3", "new": "1"}
    with pytest.raises(ValueError), study_parent_run(tuning, second, "ignored", {}) as resumed:
        assert resumed.info.run_id == parent.info.run_id  # a rerun continues it, RUNNING meanwhile
        assert client.get_run(parent.info.run_id).info.status == "RUNNING"
        raise ValueError("the rerun fails")
    assert client.get_run(parent.info.run_id).info.status == "FAILED"  # ... whatever it is
    other = Setup(tmp_path, f"sqlite:///{tmp_path}/other/mlflow.db", setup.storage, "s1", "one-run")
    with caplog.at_level(logging.WARNING, logger="crmflow.study_run"):
        with study_parent_run(tuning, Tracker(other.tracking_uri, "one-run"), "kmeans", {}) as fresh:
            assert fresh.info.run_id != parent.info.run_id  # another store: a parent of its own there
    assert not [r for r in caplog.records if r.name == "crmflow.study_run" and r.levelno >= logging.WARNING]
    attrs = setup.study(None).user_attrs
    assert attrs[parent_attr(setup.tracking_uri, "one-run")] == parent.info.run_id  # not overwritten
    assert attrs[parent_attr(other.tracking_uri, "one-run")] == fresh.info.run_id


def test_a_dead_workers_run_is_ended_killed_with_its_reason(tmp_path: Path) -> None:
    setup = Setup.local(tmp_path)
    backend = optuna.storages.journal.JournalFileBackend(str(tmp_path / "study.log"))
    study = optuna.create_study(study_name="s1.segmentation", storage=optuna.storages.JournalStorage(backend))
    tracker, client = Tracker(setup.tracking_uri, setup.experiment), MlflowClient(setup.tracking_uri)
    with tracker.parent_run("p", {}):
        left = {}
        for number, state in enumerate([TrialState.COMPLETE, TrialState.FAIL, TrialState.RUNNING]):
            trial = study.ask()
            trial.set_user_attr("worker_pid", 1234)
            trial.set_user_attr("worker_host", "elsewhere")
            tags = {"crmflow.stage": "segmentation", "crmflow.trial": str(number)}
            if number == 0:  # a live worker's trial: its run ends before the trial does
                with tracker.child_run("t", {}, tags):
                    pass
            else:  # a run a worker left RUNNING when it died
                parent = {"mlflow.parentRunId": tracker.parent_run_id}
                left[number] = client.create_run(tracker.experiment_id, tags={**tags, **parent}).info.run_id
            if state is not TrialState.RUNNING:
                study.tell(trial, 1.0 if state is TrialState.COMPLETE else None, state=state)
        assert set(tracker.running_children({"crmflow.stage": "segmentation"})) == set(left.values())
        assert tracker.running_children({"crmflow.stage": "rules"}) == {}
        assert end_dead_runs("segmentation", study, tracker) == 1
        assert not tracker.end_run(left[1], "KILLED", "again")  # ended already: left as it is
    killed = client.get_run(left[1])
    assert killed.info.status == "KILLED"
    assert killed.data.tags["crmflow.killed_reason"] == (
        "worker pid 1234 on host elsewhere stopped without ending its run; trial 1 of study 's1.segmentation' is FAIL"
    )
    assert client.get_run(left[2]).info.status == "RUNNING"  # its trial is RUNNING: maybe on another host, alive
