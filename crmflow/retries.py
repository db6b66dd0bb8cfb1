"""A trial that cannot end by itself is failed and run once more with its parameters.

Three ways lead here: its worker died (crmflow.studies.fail_dead_trials), its worker lost the database connection
(crmflow.reconnect), or its heartbeat stopped (Optuna's `fail_stale_trials`, which calls the storage's
`RetryHeartbeatStaleTrialCallback`). Each retry is a WAITING trial with the same parameters whose only user
attribute is `retry_of` (the failed trial's number), and a retry is not retried again. Optuna's own callback copies
every user attribute to the retry, so the dead worker's `worker_host`, `worker_pid` and `error` would describe the
new trial until it marks its own worker; crmflow's subclass leaves them behind.
"""

from __future__ import annotations

import copy
import logging

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from crmflow.workers import WORKER_HOST, WORKER_PID

logger = logging.getLogger(__name__)
RETRY_OF, ERROR = "retry_of", "error"
ENQUEUED = ", its parameters enqueued again"


def run_again(study: optuna.Study, trial: FrozenTrial) -> bool:
    """Enqueue the trial's parameters once more, unless it is a retry itself or drew none; whether it did."""
    if RETRY_OF in trial.user_attrs or not trial.params:
        return False
    study.enqueue_trial(trial.params, user_attrs={RETRY_OF: trial.number})
    return True


def fail_and_retry(study: optuna.Study, storage: BaseStorage, trial: FrozenTrial, error: str, why: str) -> bool:
    """Fail a RUNNING trial with `error` as its user attribute, log that it `why` (e.g. 'was left RUNNING by
    dead process 7 on h1') and run it again (`run_again`); False when another process finished or failed it first."""
    try:
        storage.set_trial_user_attr(trial._trial_id, ERROR, error)
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False
    again = run_again(study, trial)
    logger.warning("%s: trial %d %s: marked FAIL%s", study.study_name, trial.number, why, ENQUEUED if again else "")
    return True


class StaleTrialRetry(optuna.storages.RetryHeartbeatStaleTrialCallback):
    """Optuna's retry of a trial whose heartbeat stopped (Optuna has failed it), with crmflow's attributes: the
    retry's only user attribute is `retry_of`, and a crmflow retry is not retried again. Optuna's bookkeeping
    (`max_retry`, the system attributes `failed_trial` and `retry_history`) is kept."""

    def __init__(self, max_retry: int | None = None) -> None:
        super().__init__(max_retry)
        self.max_retry = max_retry

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        history = trial.system_attrs.get("retry_history", [])
        again = RETRY_OF not in trial.user_attrs and (self.max_retry is None or len(history) < self.max_retry)
        if again:
            fresh = copy.deepcopy(trial)
            fresh.user_attrs = {RETRY_OF: trial.number}
            super().__call__(study, fresh)
        worker = f"worker pid {trial.user_attrs.get(WORKER_PID, '?')} on host {trial.user_attrs.get(WORKER_HOST, '?')}"
        why = f"of {worker} sent no heartbeat for the grace period"
        logger.warning("%s: trial %d %s: marked FAIL%s", study.study_name, trial.number, why, ENQUEUED if again else "")
