"""One MLflow parent run per study, however many processes or machines run the same command on it.

With `tuning.storage` and `tuning.study_name` the run belongs to the study, not to the process: under
`storage.study_lock` (a file lock next to a journal or SQLite file, an advisory lock in PostgreSQL) a process reads
the user attribute `mlflow_parent_run_id:<key>` of the run-level study `<study_name>` (no trials; the stage studies
are `<study_name>.<stage>`), where the key is a short hash of the tracking store (a server's URL, password hidden; a
local store's host and absolute path) and the experiment. When it names a run of this store and experiment, the
process attaches to it; otherwise it creates the parent run and records its id, before releasing the lock. So
processes started together make one parent, and every trial of every process is a nested child of it. Processes
logging to another store (or experiment) share the study's trials but have a parent of their own there, under their
own key: none overwrites another's. A study recorded before the key (the plain `mlflow_parent_run_id`) keeps its
parent in the store that has that run.

The parent's status is set by whoever ends last: each process sets it RUNNING when it attaches and writes its own
outcome (FINISHED, FAILED, KILLED) when it ends, as it logs its stage metrics (the last write wins). A resumed
study continues under the same parent, whatever its status, for it is the same study: a parent left RUNNING by a
killed process is closed by the rerun, and one that no rerun attaches to stays RUNNING.
"""

from __future__ import annotations

import hashlib
import logging
import socket
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

from mlflow.entities import Run
from optuna.storages import BaseStorage
from optuna.study import StudyDirection

from crmflow.config.tuning import TuningSettings
from crmflow.redact import redact
from crmflow.storage import open_storage, release_connections, study_lock
from crmflow.tracking import Tracker

logger = logging.getLogger(__name__)
PARENT_ATTR = "mlflow_parent_run_id"  # + ":<key>" of a tracking store and experiment; alone: a study recorded before
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


def parent_attr(tracking_uri: str, experiment: str) -> str:
    """The study user attribute that holds the parent run in this tracking store and experiment."""
    digest = hashlib.sha256(f"{store_identity(tracking_uri)}\n{experiment}".encode()).hexdigest()[:12]
    return f"{PARENT_ATTR}:{digest}"


def store_identity(tracking_uri: str) -> str:
    """A tracking store as machines tell it apart: a server by its URL (password hidden), a store on this
    machine's disk (SQLite, a folder) by host name and absolute path, so two machines' default local stores
    (`sqlite:///mlruns/mlflow.db`) are two stores."""
    scheme, sep, rest = tracking_uri.partition(":")
    if sep and scheme.partition("+")[0] == "sqlite":
        from sqlalchemy.engine import make_url

        database = make_url(tracking_uri).database or ""
        return f"{socket.gethostname()}:{Path(database).expanduser().resolve()}"
    if not sep or scheme == "file" or len(scheme) == 1:  # a path, a file: URI, a Windows drive letter
        path = rest.removeprefix("//") if scheme == "file" else tracking_uri
        return f"{socket.gethostname()}:{Path(path).expanduser().resolve()}"
    return redact(tracking_uri)


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
    """Under the study lock: attach to the parent recorded for this store and experiment when the store has it
    (else to a parent recorded before the key, when it is this store's), otherwise create and record one."""
    study_id = _run_study(storage, study_name)
    attrs, key = storage.get_study_user_attrs(study_id), parent_attr(tracker.uri, tracker.experiment)
    if tracker.experiment_id is None:
        tracker.ensure_experiment()  # so that a run of another experiment in this store is not taken for ours
    recorded = attrs.get(key) if key in attrs else attrs.get(PARENT_ATTR)
    status = tracker.run_status(recorded) if isinstance(recorded, str) else None
    if key in attrs and status is None:
        logger.warning(
            "tracking: study '%s' records parent run %s for experiment '%s' of %s, which does not have it "
            "(deleted?); its runs from here on go under a new parent run",
            study_name,
            recorded,
            tracker.experiment,
            redact(tracker.uri),
        )
    run_id = recorded if status is not None else None
    with tracker.parent_run(name, {**tags, STUDY_TAG: study_name}, run_id=run_id, shared=True) as run:
        if run_id is None:
            storage.set_study_user_attr(study_id, key, run.info.run_id)
            logger.info("study '%s': created its MLflow parent run %s", study_name, run.info.run_id)
        else:
            if key not in attrs:  # a parent recorded before the key: from now on under this store's key
                storage.set_study_user_attr(study_id, key, run_id)
            logger.info("study '%s': attached to its MLflow parent run %s (was %s)", study_name, run_id, status)
        yield run
