"""Faults a shared study must survive: PostgreSQL restarted mid-study, a lost database connection, a dead
machine's trial that only the heartbeat can fail, a pid reused or a container sharing a host name, a retried trial
carrying its dead worker's attributes, a file system without locks."""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import optuna
import pytest
import sqlalchemy
from optuna.exceptions import StorageInternalError
from optuna.trial import TrialState
from services import restart_postgres
from test_one_run_per_study import TIMEOUT, Setup, states
from test_parallel_tuning import SPEC, FakeLogger, dead_pid, evaluate, settings

from crmflow.reconnect import Outage, ResilientRDBStorage, describe_loss, lost_connection
from crmflow.retries import StaleTrialRetry, run_again
from crmflow.storage import open_storage
from crmflow.studies import ClaimLock, Session, StudyPlace, fail_dead_trials
from crmflow.tuning import tune
from crmflow.workers import Worker, is_dead

HOST = socket.gethostname()
CUT = "server closed the connection unexpectedly"


def lost(message: str = CUT) -> sqlalchemy.exc.OperationalError:
    return sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception(f"{message}\n\tThis probably means ..."))


def running_trial(study: optuna.Study, **attrs: Any) -> optuna.Trial:
    """A RUNNING trial with a drawn parameter and the given user attributes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Heartbeat of storage is supposed to be used with Study.optimize"
        trial = study.ask()
    trial.suggest_int("n_clusters", 2, 2000)
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    return trial


# --- who a worker is (fake /proc) ----------------------------------------------------------------------


def fake_proc(root: Path, boot: str, ns: str, stats: dict[int, tuple[str, int]]) -> Path:
    """A /proc with a boot id, this process's pid namespace, and `pid -> (state, start time)` stat files."""
    (root / "sys/kernel/random").mkdir(parents=True)
    (root / "sys/kernel/random/boot_id").write_text(f"{boot}\n")
    (root / "self/ns").mkdir(parents=True)
    os.symlink(ns, root / "self/ns/pid")
    for pid, (state, start) in stats.items():
        (root / str(pid)).mkdir()
        fields = [state, *["0"] * 18, str(start), *["0"] * 10]  # fields 3..21, 22 (starttime), 23..
        (root / str(pid) / "stat").write_text(f"{pid} (python (x)) {' '.join(fields)}\n")
    return root


def test_a_worker_is_its_host_pid_boot_namespace_and_start_time(tmp_path: Path) -> None:
    me = os.getpid()
    proc = fake_proc(tmp_path / "proc", "b1", "pid:[7]", {me: ("R", 100)})
    here = Worker.this(proc)
    assert here == Worker(HOST, me, "b1", "pid:[7]", 100)
    assert Worker.of(here.attrs()) == here and Worker.of({"worker_host": HOST}) is None

    def dead(proc: Path = proc, heartbeat: bool = False, **recorded: Any) -> bool:
        return is_dead(Worker(**{"host": HOST, "pid": me, **recorded}), here, heartbeat, proc)

    assert not dead(boot_id="b1", pid_ns="pid:[7]", started=100)  # this very process
    assert dead(boot_id="b1", pid_ns="pid:[7]", started=99)  # its pid, reused by a process started later
    assert dead(pid=dead_pid(), boot_id="b1", pid_ns="pid:[7]", started=100)
    assert not dead(host="other", pid=dead_pid())  # another host: the heartbeat's to judge
    assert dead(boot_id="b0", started=100)  # this host before a reboot (a journal: no heartbeat) ...
    assert not dead(boot_id="b0", started=100, heartbeat=True)  # ... or another machine of that name
    assert not dead(pid=dead_pid(), boot_id="b1", pid_ns="pid:[8]")  # a container on this kernel
    assert not dead() and dead(pid=dead_pid())  # recorded before these attributes: host and pid decide
    zombie = fake_proc(tmp_path / "zombie", "b1", "pid:[7]", {me: ("Z", 100)})
    assert dead(proc=zombie, boot_id="b1", pid_ns="pid:[7]", started=100)


def test_without_proc_a_worker_is_its_host_and_pid(tmp_path: Path) -> None:
    here = Worker.this(tmp_path)  # an empty folder: no /proc
    assert here == Worker(HOST, os.getpid()) and here.attrs() == {"worker_host": HOST, "worker_pid": os.getpid()}
    assert not is_dead(here, here, False, tmp_path) and is_dead(Worker(HOST, dead_pid()), here, False, tmp_path)


def test_dead_trials_are_told_by_start_time_and_boot_id_not_by_pid_alone(tmp_path: Path) -> None:
    tuning = settings(storage=f"journal:{tmp_path}/optuna.journal", study_name="ids")
    storage = open_storage(tuning.storage, tuning)
    study = optuna.create_study(study_name="ids.segmentation", storage=storage, direction="maximize")
    me = Worker.this()
    assert me.boot_id and me.pid_ns and isinstance(me.started, int)  # Linux
    reused = running_trial(study, **{**me.attrs(), "worker_started": me.started + 1})
    rebooted = running_trial(study, **{**me.attrs(), "worker_boot_id": "another-boot"})
    container = running_trial(study, **{**me.attrs(), "worker_pid_ns": "pid:[1]", "worker_pid": dead_pid()})
    alive = running_trial(study, **me.attrs())
    assert fail_dead_trials(study, storage) == 2
    trials = study.get_trials(deepcopy=False)
    assert [t.state for t in trials[:4]] == [TrialState.FAIL, TrialState.FAIL, TrialState.RUNNING, TrialState.RUNNING]
    assert trials[reused.number].user_attrs["error"] == f"worker pid {me.pid} on host {HOST} died"
    assert [(t.state, t.user_attrs) for t in trials[4:]] == [(TrialState.WAITING, {"retry_of": n}) for n in (0, 1)]
    assert [t.system_attrs["fixed_params"] for t in trials[4:]] == [
        trials[reused.number].params,
        trials[rebooted.number].params,
    ]
    assert (container.number, alive.number) == (2, 3)


# --- retries ---------------------------------------------------------------------------------------


def stale_retry() -> StaleTrialRetry:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return StaleTrialRetry(max_retry=1)


def test_a_stale_trials_retry_has_its_parameters_and_retry_of_only(tmp_path: Path) -> None:
    study = optuna.create_study(direction="maximize")
    stale = running_trial(study, worker_host="gone", worker_pid=1, error="boom", mlflow_run_id="r1", metrics={})
    study.tell(stale, state=TrialState.FAIL)
    stale_retry()(study, study.trials[0])  # as Optuna's fail_stale_trials calls it, once it failed the trial
    failed, retry = study.trials
    assert (retry.state, retry.user_attrs, retry.params) == (TrialState.WAITING, {"retry_of": 0}, failed.params)
    assert (retry.system_attrs["failed_trial"], retry.system_attrs["retry_history"]) == (0, [0])  # Optuna's own
    assert failed.user_attrs["worker_host"] == "gone"  # the failed trial keeps its record


def test_a_retry_is_not_retried_again() -> None:
    study = optuna.create_study(direction="maximize")
    for retry_of in (None, 0):
        trial = running_trial(study, **({} if retry_of is None else {"retry_of": retry_of}))
        study.tell(trial, state=TrialState.FAIL)
    first, retried = study.trials
    assert run_again(study, first) and not run_again(study, retried)  # a dead worker's
    stale_retry()(study, retried)  # a stale one's
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.FAIL, TrialState.WAITING]
    assert study.trials[2].user_attrs == {"retry_of": 0}


@pytest.mark.services
def test_a_stale_trial_is_failed_when_claiming_so_the_study_is_not_shortened(postgres_url: str, tmp_path: Path) -> None:
    name = f"stale-{uuid.uuid4().hex[:8]}"
    tuning = settings(n_trials=1, storage=postgres_url, study_name=name, heartbeat_interval=1, grace_period=2)
    storage = open_storage(tuning.storage, tuning)
    assert isinstance(storage, ResilientRDBStorage)
    assert isinstance(storage.get_heartbeat_stale_trial_callback(), StaleTrialRetry)
    study = optuna.create_study(study_name=f"{tuning.study_name}.segmentation", storage=storage, direction="maximize")
    orphan = running_trial(study, worker_host="a-dead-machine", worker_pid=1, error="old", mlflow_run_id="r0")
    storage.record_heartbeat(orphan._trial_id)  # its only heartbeat: then the machine died
    place = StudyPlace.of(tuning, "segmentation", tmp_path)
    session = Session.begin(study, tuning, "segmentation", place)
    assert not session.may_start(study, storage)  # 1 of 1 trials claimed, by the orphan
    time.sleep(3)  # > grace_period: stale
    assert session.may_start(study, storage)
    failed, retry = study.get_trials(deepcopy=False)
    assert failed.state is TrialState.FAIL and retry.state is TrialState.WAITING
    assert retry.user_attrs == {"retry_of": 0} and retry.params == failed.params
    result = tune("segmentation", SPEC, evaluate, tuning, FakeLogger(tmp_path / "runs.txt"))
    assert result.n_complete == 1
    done = study.get_trials(deepcopy=False)[1]
    assert done.state is TrialState.COMPLETE and done.params["n_clusters"] == failed.params["n_clusters"]
    assert {k: done.user_attrs[k] for k in ("retry_of", "worker_host", "worker_pid")} == {
        "retry_of": 0,
        "worker_host": HOST,
        "worker_pid": os.getpid(),
    }
    assert not {"error", "mlflow_run_id"} & set(done.user_attrs)
    storage.engine.dispose()


# --- claim lock ------------------------------------------------------------------------------------

TRY_LOCK = "import fcntl, sys; fcntl.flock(open(sys.argv[1], 'a'), fcntl.LOCK_EX | fcntl.LOCK_NB)"


def test_the_claim_lock_is_a_file_lock_other_processes_wait_for(tmp_path: Path) -> None:
    path = tmp_path / "claims.lock"
    lock = ClaimLock(StudyPlace(f"journal:{tmp_path}/j.log", "s", True, path))

    def other_may_lock() -> bool:
        return subprocess.run([sys.executable, "-c", TRY_LOCK, str(path)], capture_output=True).returncode == 0

    lock.acquire()
    assert not other_may_lock()
    lock.release()
    lock.release()  # idempotent
    assert other_may_lock()


def test_a_file_system_without_locks_is_a_warning(tmp_path: Path, monkeypatch, caplog) -> None:
    def refuse(fd: Any, operation: int) -> None:
        raise OSError(37, "No locks available")

    monkeypatch.setattr(fcntl, "flock", refuse)
    lock = ClaimLock(StudyPlace(f"journal:{tmp_path}/j.log", "s", True, tmp_path / "claims.lock"))
    with caplog.at_level(logging.WARNING, logger="crmflow.studies"):
        lock.acquire()
        lock.release()
    assert f"tuning: cannot lock {tmp_path / 'claims.lock'} ([Errno 37] No locks available)" in caplog.text


# --- a lost database connection --------------------------------------------------------------------


def masked_loss() -> UnboundLocalError:
    """What Optuna 5 raises when `tell` loses the connection: its `finally` fails while handling the loss."""
    try:
        try:
            raise StorageInternalError("An exception is raised during the commit.") from lost()
        except StorageInternalError:
            raise UnboundLocalError("cannot access local variable 'updated_state'")  # noqa: B904 (as Optuna does)
    except UnboundLocalError as error:
        return error


def test_a_lost_connection_is_found_through_the_errors_it_caused() -> None:
    assert lost_connection(masked_loss()) and describe_loss(masked_loss()) == CUT
    assert not lost_connection(ValueError("x")) and not lost_connection(None)
    assert not lost_connection(StorageInternalError("commit"))
    assert not lost_connection(sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate key")))


def test_a_missed_heartbeat_is_logged_and_the_next_one_tried(tmp_path: Path, monkeypatch, caplog) -> None:
    storage = ResilientRDBStorage(f"sqlite:///{tmp_path}/o.db")

    def cut(self: Any, trial_id: int) -> None:
        raise StorageInternalError("commit") from lost()

    monkeypatch.setattr(optuna.storages.RDBStorage, "record_heartbeat", cut)
    with caplog.at_level(logging.WARNING, logger="crmflow.reconnect"):
        storage.record_heartbeat(3)  # no exception: the heartbeat thread lives on
    assert f"heartbeat of trial id 3 missed ({CUT})" in caplog.text


def test_the_trial_a_worker_left_running_on_a_lost_connection_is_failed_and_retried(tmp_path: Path) -> None:
    storage = ResilientRDBStorage(f"sqlite:///{tmp_path}/o.db")
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    trial = running_trial(study)  # cut off before it recorded its worker: the storage knows it started it
    assert storage.last_started == trial._trial_id
    with pytest.raises(ValueError, match="not the database"):
        Outage(60).recover(study, storage, ValueError("not the database"))
    with pytest.raises(sqlalchemy.exc.OperationalError):
        Outage(60).recover(study, None, lost())  # no database storage: nothing to wait for
    assert study.trials[0].state is TrialState.RUNNING
    Outage(60).recover(study, storage, masked_loss())
    failed, retry = study.trials
    assert failed.state is TrialState.FAIL
    assert failed.user_attrs["error"] == f"worker pid {os.getpid()} on host {HOST} lost the database connection ({CUT})"
    assert (retry.state, retry.user_attrs, retry.system_attrs["fixed_params"]) == (
        TrialState.WAITING,
        {"retry_of": 0},
        failed.params,
    )
    assert storage.last_started is None
    popped = running_trial(study)  # taken from the queue: started by this process too
    assert popped.number == 1 and storage.last_started == popped._trial_id


def test_a_database_away_longer_than_the_patience_is_an_error(tmp_path: Path, monkeypatch) -> None:
    storage = ResilientRDBStorage(f"sqlite:///{tmp_path}/o.db")
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")

    def away(self: Any, name: str) -> int:
        raise StorageInternalError("commit") from lost("Connection refused")

    monkeypatch.setattr(ResilientRDBStorage, "get_study_id_from_name", away)
    outage, error, start = Outage(0.5), lost(), time.monotonic()
    with pytest.raises(sqlalchemy.exc.OperationalError) as caught:
        outage.recover(study, storage, error)
    assert caught.value is error and time.monotonic() - start < 1.5


@pytest.mark.services
def test_after_a_restart_pooled_connections_are_replaced_and_a_cut_trial_is_retried(
    postgres_url: str, tmp_path: Path
) -> None:
    tuning = settings(storage=postgres_url, study_name=f"cut-{uuid.uuid4().hex[:8]}")
    storage = open_storage(tuning.storage, tuning)
    study = optuna.create_study(study_name=f"{tuning.study_name}.segmentation", storage=storage, direction="maximize")
    running_trial(study, **Worker.this().attrs())
    lock = ClaimLock(StudyPlace.of(tuning, "segmentation", tmp_path))
    lock.acquire()
    with storage.engine.connect() as held:  # in use when the server goes
        held.execute(sqlalchemy.text("SELECT 1"))
        restart_postgres(postgres_url)
        with pytest.raises(sqlalchemy.exc.OperationalError) as caught:
            held.execute(sqlalchemy.text("SELECT 1"))
    lock.release()  # its connection is gone, and the lock with it: logged, not raised
    assert lost_connection(caught.value)
    assert len(study.get_trials(deepcopy=False)) == 1  # idle pooled connections replaced (pool_pre_ping)
    Outage(60).recover(study, storage, caught.value)
    failed, retry = study.get_trials(deepcopy=False)
    assert failed.state is TrialState.FAIL and "lost the database connection" in failed.user_attrs["error"]
    assert retry.state is TrialState.WAITING and retry.user_attrs == {"retry_of": 0}
    lock.acquire()  # claims go on
    lock.release()
    storage.engine.dispose()


# --- PostgreSQL restarted mid-study ----------------------------------------------------------------


def restart_mid_study(setup: Setup, process: subprocess.Popen, url: str) -> dict[int, tuple[Any, Any]]:
    """Restart PostgreSQL once the study has 2 COMPLETE trials and one RUNNING; the COMPLETE ones before it."""
    storage = optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True})
    deadline, name = time.monotonic() + TIMEOUT, f"{setup.study_name}.segmentation"
    try:
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
            try:
                trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
            except KeyError:  # not created yet
                continue
            complete = {t.number: (t.params, t.value) for t in trials if t.state is TrialState.COMPLETE}
            if len(complete) >= 2 and any(t.state is TrialState.RUNNING for t in trials):
                restart_postgres(url)
                return complete
    finally:
        storage.engine.dispose()
    pytest.fail(f"the study never had a trial running mid-study: {setup.output(0)}")


@pytest.mark.slow
@pytest.mark.services
def test_a_postgresql_restart_mid_study_loses_no_trial_and_leaves_nothing_running(
    postgres_url: str, tmp_path: Path
) -> None:
    setup = Setup(tmp_path, f"sqlite:///{tmp_path}/mlruns/mlflow.db", postgres_url, f"pg-{uuid.uuid4().hex[:8]}", "r")
    command = [*setup.overrides(12), "tuning.n_workers=2"]
    process = setup.start(0, *command)
    before = restart_mid_study(setup, process, postgres_url)
    assert process.wait(TIMEOUT) == 0, setup.output(0)  # the workers went on
    # whether a worker was mid-query at the restart (and logged "lost the database connection") depends on the
    # machine's load: pooled connections are checked before use, so a worker between queries reconnects silently
    study = setup.study()
    found = states(study)
    assert found["COMPLETE"] == 12 and "RUNNING" not in found, found
    assert {n: (study.trials[n].params, study.trials[n].value) for n in before} == before
    runs = setup.runs()
    assert not [run.info.run_name for run in runs if run.info.status == "RUNNING"]
    status = {run.info.run_id: run.info.status for run in runs}
    assert {status[t.user_attrs["mlflow_run_id"]] for t in study.trials if t.state is TrialState.COMPLETE} == {
        "FINISHED"
    }
    setup.start(1, *command).wait(TIMEOUT)  # the same command again: nothing left to run
    assert "RUNNING" not in states(setup.study()) and states(setup.study())["COMPLETE"] == 12, setup.output(1)
    assert len(setup.study().trials) == len(study.trials)
    assert not [run for run in setup.runs() if run.info.status == "RUNNING"]
