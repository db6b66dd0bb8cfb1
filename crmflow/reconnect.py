"""A worker that loses its database connection (PostgreSQL restarted, the network cut) waits and goes on.

`storage.open_storage` sets SQLAlchemy's `pool_pre_ping`, so a pooled connection the server closed is replaced
before use. What is left is a statement cut mid-flight and the seconds while the server is away:
- the heartbeat thread logs a missed beat and beats again at the next interval (`ResilientRDBStorage`), instead of
  ending and leaving the trial to go stale while it runs;
- a worker whose claim or trial failed for it (`Outage.recover`) waits until the database answers, up to
  `tuning.grace_period` seconds of trouble in a row (its trial would be stale by then anyway; then the error is
  raised), fails the trial it left RUNNING (its result could not be written) and runs it once more
  (crmflow.retries), and goes on claiming. The storage remembers which trial this process last started, so even a
  trial cut off before it recorded its worker is found.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import optuna
from optuna.storages import BaseStorage, RDBStorage
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import exc

from crmflow.redact import redact
from crmflow.retries import fail_and_retry
from crmflow.workers import Worker

logger = logging.getLogger(__name__)
FIRST_DELAY, MAX_DELAY = 0.25, 5.0  # seconds between attempts to reach the database again


def lost_connection(error: BaseException | None) -> bool:
    """Whether `error`, or an error it was raised from or while handling, is the database going away."""
    return _lost(error) is not None


def _lost(error: BaseException | None) -> BaseException | None:
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, exc.OperationalError | exc.InterfaceError | exc.DisconnectionError):
            return error
        if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
            return error
        error = error.__cause__ or error.__context__
    return None


def describe_loss(error: BaseException) -> str:
    """The lost connection's first line, e.g. 'server closed the connection unexpectedly', without passwords."""
    cause = getattr(_lost(error), "orig", None) or _lost(error) or error
    lines = str(cause).strip().splitlines()
    return redact(lines[0].split(" (Background on this error at:")[0]) if lines else type(cause).__name__


class ResilientRDBStorage(RDBStorage):
    """Optuna's RDBStorage whose heartbeat outlives a lost connection, and which remembers the trial this process
    last made RUNNING (`last_started`, a trial id), created or taken from the queue."""

    last_started: int | None = None

    def _create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> FrozenTrial:
        trial = super()._create_new_trial(study_id, template_trial)
        if trial.state is TrialState.RUNNING:
            self.last_started = trial._trial_id
        return trial

    def set_trial_state_values(self, trial_id: int, state: TrialState, values: Sequence[float] | None = None) -> bool:
        changed = super().set_trial_state_values(trial_id, state, values)
        if changed and state is TrialState.RUNNING:
            self.last_started = trial_id
        return changed

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            super().record_heartbeat(trial_id)
        except Exception as error:
            if not lost_connection(error):
                raise
            reason, interval = describe_loss(error), self.heartbeat_interval
            logger.warning("heartbeat of trial id %d missed (%s); the next in %s s", trial_id, reason, interval)


@dataclass
class Outage:
    """One worker's patience with its database: `patience` seconds of trouble in a row (`since`: its start)."""

    patience: float
    since: float | None = None

    def recover(self, study: optuna.Study, storage: BaseStorage | None, error: Exception) -> None:
        """Called with the error that stopped a claim or a trial: re-raise it unless it is a lost connection within
        the patience; else wait for the database, then fail and retry the trial this process left RUNNING."""
        if not isinstance(storage, ResilientRDBStorage) or not lost_connection(error):
            raise error
        self.since = self.since if self.since is not None else time.monotonic()
        reason = describe_loss(error)
        logger.warning("%s: lost the database connection (%s); waiting for it", study.study_name, reason)
        while True:
            _wait_for(storage, study.study_name, self.since + self.patience, error)
            try:
                self._fail_lost_trial(study, storage, reason)
                return
            except Exception as again:  # the database went away once more
                if not lost_connection(again):
                    raise

    def _fail_lost_trial(self, study: optuna.Study, storage: ResilientRDBStorage, reason: str) -> None:
        trial = storage.get_trial(storage.last_started) if storage.last_started is not None else None
        if trial is not None and trial.state is TrialState.RUNNING:
            worker = Worker.this()
            error = f"worker pid {worker.pid} on host {worker.host} lost the database connection ({reason})"
            fail_and_retry(study, storage, trial, error, "lost its database connection")
        storage.last_started = None

    def over(self) -> None:
        """A claim or trial went through: the next trouble starts a new wait."""
        self.since = None


def _wait_for(storage: BaseStorage, study_name: str, until: float, error: Exception) -> None:
    """Return once the database answers; raise `error` if it does not before `until` (time.monotonic())."""
    delay = FIRST_DELAY
    while True:
        try:
            storage.get_study_id_from_name(study_name)
            return
        except Exception as again:
            if not lost_connection(again):
                raise
        if time.monotonic() + delay > until:
            raise error
        time.sleep(delay)
        delay = min(2 * delay, MAX_DELAY)
