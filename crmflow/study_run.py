"""One MLflow parent run per study, however many processes or machines run the same command on it.

With `tuning.storage` and `tuning.study_name` the run belongs to the study, not to the process: under
`storage.study_lock` (a file lock next to a journal or SQLite file, an advisory lock in PostgreSQL) a process reads
the user attribute `mlflow_parent_run_id` of the run-level study `<study_name>` (no trials; the stage studies are
`<study_name>.<stage>`). When it names a run of this tracking store and experiment, the process attaches to it;
otherwise it creates the parent run and records its id, before releasing the lock. So processes started together
make one parent, and every trial of every process is a nested child of it.

The parent's status is set by whoever ends last: each process sets it RUNNING when it attaches and writes its own
outcome (FINISHED, FAILED, KILLED) when it ends, as it logs its stage metrics (the last write wins). A resumed
study continues under the same parent, whatever its status, for it is the same study: a parent left RUNNING by a
killed process is closed by the rerun, and one that no rerun attaches to stays RUNNING.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager

from mlflow.entities import Run
from optuna.storages import BaseStorage
from optuna.study import StudyDirection

from crmflow.config.tuning import TuningSettings
from crmflow.redact import redact
from crmflow.storage import open_storage, release_connections, study_lock
from crmflow.tracking import Tracker

logger = logging.getLogger(__name__)
PARENT_ATTR = "mlflow_parent_run_id"
STUDY_TAG = "crmflow.study_name"


@contextmanager
def study_parent_run(settings: TuningSettings, tracker: Tracker, name: str, tags: Mapping[str, str]) -> Iterator[Run]:
    """The parent run of this crmflow run: the study's own (created or attached) with a stored study, else a
    new one. Ended as `Tracker.parent_run` ends it (`shared=True` for a study's)."""
    if settings.storage is None or settings.study_name is None:
        with tracker.parent_run(name, tags) as run:
            yield run
        return
    with ExitStack() as stack:
        storage = open_storage(settings.storage, settings)  # before the lock: opening one may take it too
        try:
            with study_lock(settings.storage, settings.study_name):
                run = stack.enter_context(_create_or_attach(settings.study_name, storage, tracker, name, tags))
        finally:
            release_connections(storage)
        yield run


def _run_study(storage: BaseStorage, study_name: str) -> int:
    """The id of the run-level study `<study_name>` (no trials: only its user attributes are used)."""
    try:
        return storage.get_study_id_from_name(study_name)
    except KeyError:
        return storage.create_new_study([StudyDirection.MINIMIZE], study_name)


@contextmanager
def _create_or_attach(
    study_name: str, storage: BaseStorage, tracker: Tracker, name: str, tags: Mapping[str, str]
) -> Iterator[Run]:
    """Under the study lock: attach to the recorded parent when this store has it, else create and record one."""
    study_id = _run_study(storage, study_name)
    recorded = storage.get_study_user_attrs(study_id).get(PARENT_ATTR)
    status = tracker.run_status(recorded) if isinstance(recorded, str) else None
    if recorded and status is None:
        logger.warning(
            "tracking: study '%s' records parent run %s, which experiment '%s' of %s does not have; "
            "its runs from here on go under a new parent run",
            study_name,
            recorded,
            tracker.experiment,
            redact(tracker.uri),
        )
    run_id = recorded if status is not None else None
    with tracker.parent_run(name, {**tags, STUDY_TAG: study_name}, run_id=run_id, shared=True) as run:
        if run_id is None:
            storage.set_study_user_attr(study_id, PARENT_ATTR, run.info.run_id)
            logger.info("study '%s': created its MLflow parent run %s", study_name, run.info.run_id)
        else:
            logger.info("study '%s': attached to its MLflow parent run %s (was %s)", study_name, run_id, status)
        yield run
