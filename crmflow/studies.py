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

Dead workers: a trial records its worker when it starts (crmflow.workers: host, pid, boot id, pid namespace,
process start time). A RUNNING trial whose worker this host can tell is gone is failed, and its parameters enqueued
once more (crmflow.retries), at the start of `tune` and before every claim; completed trials are never touched.
Before every claim, too, a database storage's trials without a heartbeat for `tuning.grace_period` are failed and
retried (Optuna's `fail_stale_trials`), so a dead machine's trial does not hold a place in the count. Other hosts'
trials are left to that heartbeat; in a journal shared across hosts, a dead host's trial stays RUNNING until a run
on that host resumes. A trial's MLflow run a dead worker left RUNNING is found by its tags (`crmflow.stage`,
`crmflow.trial`) once its trial has been failed; `dead_runs` says which runs those are and why, for `tune` to end
them KILLED.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import optuna
from optuna.storages import BaseStorage, RDBStorage
from optuna.trial import FrozenTrial, TrialState

from crmflow.config.goals import Objective
from crmflow.config.storage_url import JOURNAL, storage_kind
from crmflow.config.tuning import TuningSettings
from crmflow.locks import file_lock
from crmflow.reconnect import describe_loss, lost_connection
from crmflow.redact import redact
from crmflow.retries import fail_and_retry
from crmflow.storage import GOALS_ATTR, check_direction, check_goals, journal_path, study_lock
from crmflow.workers import WORKER_HOST, WORKER_PID, Worker, is_dead

logger = logging.getLogger(__name__)
DONE = (TrialState.COMPLETE, TrialState.PRUNED)
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
    """The lock of a study's claims: an exclusive `locks.file_lock` on the place's lock file (each acquire opens its
    own descriptor, so it is exclusive between forked processes), or for a database storage `storage.study_lock`
    (PostgreSQL's advisory lock, on a connection of its own, which every machine sees; a file next to a SQLite
    file); a no-op for the one process of a study in memory. `release` is idempotent; a lock whose database
    connection was lost is released by the server, so losing it on release is only logged."""

    def __init__(self, place: StudyPlace) -> None:
        self.path = place.lock_path
        kind = storage_kind(place.url) if place.url is not None else ""
        in_database = place.persistent and kind in ("rdb", "sqlite")
        self._database = (place.url, f"{place.study_name}.claims") if in_database else None
        self._held: ExitStack | None = None

    def _lock(self) -> AbstractContextManager[None]:
        if self._database is not None:
            return study_lock(*self._database)
        return nullcontext() if self.path is None else file_lock(self.path)

    def acquire(self) -> None:
        held = ExitStack()
        try:
            held.enter_context(self._lock())
        except OSError as error:  # e.g. a file system without locks: claims are then only nearly exact
            if self._database is not None:
                raise
            logger.warning("tuning: cannot lock %s (%s); workers may overshoot n_trials by a few", self.path, error)
            return
        self._held = held

    def release(self) -> None:
        if self._held is None:
            return
        held, self._held = self._held, None
        try:
            held.close()
        except Exception as error:
            if not lost_connection(error):
                raise
            logger.warning("tuning: the claim lock's database connection was lost (%s)", describe_loss(error))


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
            with warnings.catch_warnings():  # no heartbeat (journal, SQLite): nothing to do
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)
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
    place: StudyPlace,
    goals: Sequence[Objective],
    stage: str,
    storage: BaseStorage | None,
    sampler: Any,
    pruner: optuna.pruners.BasePruner | None = None,
    record: Mapping[str, list[str]] | None = None,
) -> optuna.Study:
    """Create the study or load it (`load_if_exists`, as each of Optuna's worker processes does); a stored
    study with other directions, or whose `record` (objectives and constraints, `storage.goals_record`) differs, is a
    ConfigError naming `tuning.study_name`. Two or more goals: a multi-objective study."""
    study = optuna.create_study(
        directions=[goal.direction for goal in goals],
        sampler=sampler,
        pruner=pruner,
        storage=storage,
        study_name=place.study_name,
        load_if_exists=place.study_name is not None,
    )
    check_direction(study.study_name, [d.name.lower() for d in study.directions], goals, stage)
    if record is not None:
        check_goals(study.study_name, study.user_attrs, record, stage)
        if GOALS_ATTR not in study.user_attrs:
            study.set_user_attr(GOALS_ATTR, dict(record))
    return study


def start_from_config(configured: dict[str, Any], study: optuna.Study, place: StudyPlace) -> None:
    """Enqueue the component's configured point as trial 0, so tuning never ends below it; a stored study's under
    its lock, so that processes starting it together enqueue it once."""
    shared = place.persistent and place.url is not None and place.study_name is not None
    with study_lock(place.url, place.study_name) if shared else nullcontext():
        if not study.get_trials(deepcopy=False):
            study.enqueue_trial(configured)


def fail_dead_trials(study: optuna.Study, storage: BaseStorage) -> int:
    """Fail the RUNNING trials whose worker this host can tell is gone (crmflow.workers.is_dead), and enqueue each
    once more with its parameters (crmflow.retries); return how many were failed."""
    here = Worker.this()
    heartbeat = isinstance(storage, RDBStorage) and storage.heartbeat_interval is not None
    failed = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = Worker.of(trial.user_attrs)
        if worker is None or not is_dead(worker, here, heartbeat):
            continue
        error = f"worker pid {worker.pid} on host {worker.host} died"
        why = f"was left RUNNING by dead process {worker.pid} on {worker.host}"
        failed += fail_and_retry(study, storage, trial, error, why)
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
