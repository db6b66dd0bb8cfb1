"""MLflow tracking: one parent run per crmflow run (or per stored study, shared by the processes that run it:
crmflow.study_run), one nested run per trial (`tracking.trials: runs`; steps of the parent's metrics or nothing:
crmflow.tracking.trials), never left RUNNING (runs of dead workers are ended KILLED); safe
for parallel jobs and the worker processes of one study (client API with explicit run ids, a file lock
around creating a local SQLite store, datasets logged idempotently from a sample)."""

from crmflow.tracking.params import MAX_PARAM_LENGTH, flatten, git_commit
from crmflow.tracking.store import check_reachable, sqlite_path, store_lock
from crmflow.tracking.tracker import Terminated, Tracker

__all__ = [
    "MAX_PARAM_LENGTH",
    "Terminated",
    "Tracker",
    "check_reachable",
    "flatten",
    "git_commit",
    "sqlite_path",
    "store_lock",
]
