"""One stage's study shared by worker processes: where it lives, when a worker may start another trial, and
what happens to the trials of a worker that died.

Counting (documented in conf/tuning/default.yaml):
- a stored study with `tuning.resume: finish` stops when its COMPLETE (+ PRUNED) trials reach `n_trials`,
  running trials counting as claimed; failures are retried by the sampler until this run's failures exceed
  the failure limit. A rerun therefore runs only the missing trials.
- `resume: add`, and every study in memory or in the run's private journal: this run starts `n_trials` trials,
  whatever their outcome (the behaviour before studies were stored).
A claim (the check and the creation of the trial) holds an exclusive lock on a file, so the workers of one host
never start more trials than the total; the kernel releases it when its holder dies, even by SIGKILL. With a
database storage the lock is the database's advisory lock, so the workers of every machine share it.

Dead workers: a trial records `worker_host` and `worker_pid` when it starts. A RUNNING trial of this host whose
process is gone (or a zombie) is failed, and its parameters enqueued once more, at the start of `tune` and before
every claim; completed trials are never touched. Other hosts' trials are left to the database heartbeat
(PostgreSQL); in a journal shared across hosts, a dead host's trial stays RUNNING until a run on that host resumes.
A trial's MLflow run a dead worker left RUNNING is found by its tags (`crmflow.stage`, `crmflow.trial`) once its
trial has been failed; `dead_runs` says which runs those are and why, for `tune` to end them KILLED.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from crmflow.config.tuning import JOURNAL, Objective, TuningSettings, storage_kind
from crmflow.redact import redact
from crmflow.storage import check_direction, journal_path, study_lock

logger = logging.getLogger(__name__)
DONE = (TrialState.COMPLETE, TrialState.PRUNED)
WORKER_HOST, WORKER_PID, RETRY_OF = "worker_host", "worker_pid", "retry_of"
STAGE_TAG, TRIAL_TAG = "crmflow.stage", "crmflow.trial"  # on each trial's MLflow run


@dataclass(frozen=True)
class StudyPlace:
    """Where a stage's study lives: its storage URL (None: in memory), its name, whether it outlives the run,
    and the lock file that makes this host's claims exclusive (None: one process, or a database's own lock)."""

    url: str | None
    study_name: str | None
    persistent: bool
    lock_path: Path | None

    @classmethod
    def of(cls, settings: TuningSettings, stage: str, scratch: Path) -> StudyPlace:
        """`tuning.storage` when set; with several workers and no storage, a journal in the run's scratch folder."""
        name = f"{settings.study_name}.{stage}" if settings.study_name else None
        if settings.storage is not None:
            lock = None  # a database's claims: `storage.study_lock` (see ClaimLock)
            if storage_kind(settings.storage) == "journal":
                lock = journal_path(settings.storage).with_name(journal_path(settings.storage).name + ".claims")
            return cls(settings.storage, name, True, lock)
        if settings.n_workers > 1:
            journal = f"{JOURNAL}{scratch / 'journal.log'}"
            return cls(journal, name or f"crmflow.{stage}", False, scratch / "claims.lock")
        return cls(None, name, False, None)


class ClaimLock:
    """The lock of a study's claims: an exclusive `flock` on the place's lock file (each acquire opens its own
    descriptor, so it is exclusive between forked processes), or for a database storage `storage.study_lock`
    (PostgreSQL's advisory lock, on a connection of its own, which every machine sees; a file next to a SQLite
    file); a no-op for the one process of a study in memory. `release` is idempotent."""

    def __init__(self, place: StudyPlace) -> None:
        self.path = place.lock_path
        kind = storage_kind(place.url) if place.url is not None else ""
        in_database = place.persistent and kind in ("rdb", "sqlite")
        self._database = (place.url, f"{place.study_name}.claims") if in_database else None
        self._fd: int | None = None
        self._held: ExitStack | None = None

    def acquire(self) -> None:
        if self._database is not None:
            held = ExitStack()
            held.enter_context(study_lock(*self._database))
            self._held = held
            return
        if self.path is None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as error:  # e.g. a file system without locks: claims are then only nearly exact
            os.close(fd)
            logger.warning("tuning: cannot lock %s (%s); workers may overshoot n_trials by a few", self.path, error)
            return
        self._fd = fd

    def release(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            held.close()
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


@dataclass(frozen=True)
class Session:
    """One `tune` call's share of a study, shared by its workers (inherited through fork)."""

    stage: str
    target: int  # n_trials: the study's total (finish) or this session's trials (add)
    finish: bool
    start: int  # trials numbered from here on were created by this session (or by peers meanwhile)
    waiting: frozenset[int]  # trials enqueued before it started, which it will run
    failure_limit: int
    deadline: float | None  # time.monotonic() (system-wide, so shared by forked workers)

    @classmethod
    def begin(cls, study: optuna.Study, settings: TuningSettings, stage: str, place: StudyPlace) -> Session:
        trials = study.get_trials(deepcopy=False)
        budget = settings.budget(stage)
        finish = place.persistent and settings.resume == "finish"
        waiting = frozenset(t.number for t in trials if t.state is TrialState.WAITING)
        deadline = None if budget.timeout is None else time.monotonic() + budget.timeout
        session = cls(stage, budget.n_trials, finish, len(trials), waiting, settings.failure_limit(stage), deadline)
        if place.persistent and trials:
            done = sum(t.state in DONE for t in trials)
            todo = max(session.target - done, 0) if finish else session.target
            logger.info("%s: study '%s' has %d finished trials; running %d more", stage, study.study_name, done, todo)
        return session

    def ours(self, trials: list[FrozenTrial]) -> list[FrozenTrial]:
        return [t for t in trials if t.number >= self.start or t.number in self.waiting]

    def counted(self, trials: list[FrozenTrial]) -> int:
        """The trials that count towards `target`: done or running in the study (finish), started here (add)."""
        if self.finish:
            return sum(t.state in (*DONE, TrialState.RUNNING) for t in trials)
        return sum(t.state is not TrialState.WAITING for t in self.ours(trials))

    def finished(self, trials: list[FrozenTrial]) -> int:
        """The finished trials that count (progress lines): done in the study (finish), ended here (add)."""
        if self.finish:
            return sum(t.state in DONE for t in trials)
        return sum(t.state.is_finished() for t in self.ours(trials))

    def may_start(self, study: optuna.Study, storage: BaseStorage | None) -> bool:
        """Whether a worker may claim another trial: budget, failures and time left. Call it under the claim lock."""
        if storage is not None:
            fail_dead_trials(study, storage)
        trials = study.get_trials(deepcopy=False)
        failed = sum(t.state is TrialState.FAIL for t in self.ours(trials))
        if failed > self.failure_limit:
            limit = self.failure_limit
            logger.error("stopping the study: %d failed trials exceed tuning.max_failures=%d", failed, limit)
            return False
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return False
        return self.counted(trials) < self.target


def load_study(
    place: StudyPlace, objective: Objective, stage: str, storage: BaseStorage | None, sampler: Any
) -> optuna.Study:
    """Create the study or load it (`load_if_exists`, as each of Optuna's worker processes does); a stored
    study with another direction is a ConfigError naming `tuning.study_name`."""
    study = optuna.create_study(
        direction=objective.direction,
        sampler=sampler,
        storage=storage,
        study_name=place.study_name,
        load_if_exists=place.study_name is not None,
    )
    check_direction(study.study_name, [d.name.lower() for d in study.directions], objective, stage)
    return study


def mark_worker(trial: optuna.Trial) -> None:
    """Record who runs the trial, so that a later run can tell a dead worker's trial from a running one."""
    trial.set_user_attr(WORKER_HOST, socket.gethostname())
    trial.set_user_attr(WORKER_PID, os.getpid())


def pid_alive(pid: int) -> bool:
    """Whether process `pid` of this host is alive; a zombie (killed, not yet reaped by its parent) is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):  # no /proc: trust kill
        return True
    return state != "Z"


def fail_dead_trials(study: optuna.Study, storage: BaseStorage) -> int:
    """Fail the RUNNING trials that dead processes of this host left behind, and enqueue each once more with its
    parameters (as Optuna's heartbeat retry does for a database); return how many were failed."""
    host = socket.gethostname()
    dead = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if t.user_attrs.get(WORKER_HOST) == host
        and isinstance(t.user_attrs.get(WORKER_PID), int)
        and not pid_alive(t.user_attrs[WORKER_PID])
    ]
    failed = 0
    study_id = storage.get_study_id_from_name(study.study_name) if dead else None
    for trial in dead:
        pid = trial.user_attrs[WORKER_PID]
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        try:
            storage.set_trial_user_attr(trial_id, "error", f"worker pid {pid} on host {host} died")
            storage.set_trial_state_values(trial_id, TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:  # another process failed (or finished) it first
            continue
        failed += 1
        retry = RETRY_OF not in trial.user_attrs and bool(trial.params)
        if retry:
            study.enqueue_trial(trial.params, user_attrs={RETRY_OF: trial.number})
        logger.warning(
            "%s: trial %d was left RUNNING by dead process %d on %s: marked FAIL%s",
            study.study_name,
            trial.number,
            pid,
            host,
            ", its parameters enqueued again" if retry else "",
        )
    return failed


def dead_runs(study: optuna.Study, running: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Of the RUNNING child runs of the study's stage (run id -> tags), those whose trial has finished (a live
    worker ends its run before its trial ends, so such a run's worker is gone): run id -> why."""
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    reasons = {}
    for run_id, tags in running.items():
        number = tags.get(TRIAL_TAG, "")
        trial = trials.get(int(number)) if number.isdigit() else None
        if trial is None or not trial.state.is_finished():
            continue
        worker = f"worker pid {trial.user_attrs.get(WORKER_PID, '?')} on host {trial.user_attrs.get(WORKER_HOST, '?')}"
        cause = trial.user_attrs.get("error") or f"{worker} stopped without ending its run"
        reasons[run_id] = f"{cause}; trial {number} of study '{study.study_name}' is {trial.state.name}"
    return reasons


class RunCloser(Protocol):
    """What ending the runs of dead workers needs from tracking: the parent's RUNNING children with some tags,
    and a way to end one with a reason."""

    def running_children(self, tags: Mapping[str, str]) -> Mapping[str, Mapping[str, str]]: ...

    def end_run(self, run_id: str, status: str, reason: str) -> bool: ...


def end_dead_runs(stage: str, study: optuna.Study, closer: RunCloser | None) -> int:
    """End KILLED the stage's trial runs whose worker died (their trial is finished, the run RUNNING)."""
    if closer is None:
        return 0
    dead = dead_runs(study, closer.running_children({STAGE_TAG: stage}))
    return sum(closer.end_run(run_id, "KILLED", reason) for run_id, reason in dead.items())


def describe(place: StudyPlace) -> str:
    """The study for a log line, without any password."""
    return f"'{place.study_name}' in {redact(place.url)}" if place.url else "in memory"
