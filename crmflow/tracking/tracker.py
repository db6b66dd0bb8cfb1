"""`Tracker`: one parent run per crmflow run, one nested child run per trial (with `tracking.trials: runs`; see
crmflow.tracking.trials for the others), through `MlflowClient` with explicit run ids only: no fluent active-run
stack, no global tracking URI, so reused joblib workers and the processes of one study share nothing but the store.
Runs end FINISHED, FAILED or KILLED; a run that a dead process left RUNNING is ended by `end_run` (KILLED, with the
reason in tag `crmflow.killed_reason`)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow.entities import Metric, Param, Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.tracking.context import registry as context_registry
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from crmflow.errors import ConfigError
from crmflow.tracking import datasets, models, runs
from crmflow.tracking.params import MAX_PARAM_LENGTH
from crmflow.tracking.store import artifact_location, redact, store_lock

if TYPE_CHECKING:
    from crmflow.stages.contract import LoggedModel

logger = logging.getLogger(__name__)
QUIET_LOGGERS = ("alembic", "mlflow.store.db.utils")  # "Creating initial MLflow database tables..." and migrations


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process was, so that its open runs end KILLED rather than RUNNING."""


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Turn SIGTERM into `Terminated` while a run is open, unless the process handles SIGTERM already
    (the CLI does) or this is not the main thread (only the main thread may set a handler)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise Terminated(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGTERM) is interrupt:  # unless someone installed their own meanwhile
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def _ended(client: MlflowClient, run_id: str, attached: bool = False) -> Iterator[None]:
    """End the run FINISHED, FAILED (exception) or KILLED (KeyboardInterrupt, SIGTERM, an exception whose
    `run_status` says so, e.g. a pruned trial: its message in tag `crmflow.killed_reason`), whatever happens, with
    the reason of a failure in tags `crmflow.error` and `crmflow.error_type`;
    an attached run (another process owns it) is left as it is unless this process fails; a shared run
    (`attached=False`) always gets this process's outcome, so the last process to end sets its status."""
    status = "FAILED"
    try:
        with _sigterm_interrupts():
            yield
        status = "FINISHED"
    except BaseException as error:
        stopped = getattr(error, "run_status", None) == "KILLED"  # e.g. a pruned trial: stopped, not failed
        status = "KILLED" if stopped or isinstance(error, KeyboardInterrupt) else "FAILED"
        if stopped:
            client.set_tag(run_id, runs.KILLED_REASON, str(error)[: runs.MAX_TAG_LENGTH])
        else:
            runs.tag_failure(client, run_id, error)
        raise
    finally:
        if not (attached and status == "FINISHED"):
            client.set_terminated(run_id, status)


def _open_client(uri: str) -> MlflowClient:
    """A client whose store was opened (created and migrated, for a fresh SQLite file) under the store lock.

    MLflow caches one store per URI per process; a forked process inherits the parent's, so its pooled
    database connections are dropped (not closed: they are the parent's) the first time a process uses it.
    """
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    with store_lock(uri):
        client = MlflowClient(uri)
    store = client._tracking_client.store
    engine = getattr(store, "engine", None)
    if engine is not None and getattr(store, "_crmflow_pid", None) != os.getpid():
        engine.dispose(close=False)
        store._crmflow_pid = os.getpid()
    return client


class Tracker:
    """Logs a crmflow run to an MLflow tracking store; `worker()` hands the run to other processes."""

    def __init__(self, uri: str, experiment: str, trials: str = "runs") -> None:
        self.uri = uri
        self.experiment = experiment
        self.trials = trials  # tracking.trials: runs | steps | none (crmflow.tracking.trials)
        self.experiment_id: str | None = None
        self._parent_id: str | None = None
        self._child_id: str | None = None
        self._shared = False  # the parent is shared by processes: params already set are kept, not refused
        self._client: MlflowClient | None = None
        self._client_pid: int | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickled for another process: the store, experiment and parent, without client or open child."""
        return {**self.__dict__, "_client": None, "_client_pid": None, "_child_id": None}

    @property
    def client(self) -> MlflowClient:
        """This tracker's client, opened in the process that uses it."""
        if self._client is None or self._client_pid != os.getpid():
            self._client, self._client_pid = _open_client(self.uri), os.getpid()
        return self._client

    @property
    def parent_run_id(self) -> str | None:
        """The id of the parent run this tracker logs under (opened or attached), else None."""
        return self._parent_id

    @property
    def current_run_id(self) -> str:
        """The run the log_* methods write to: the open child run, else the parent run."""
        current = self._child_id or self._parent_id
        if current is None:
            raise RuntimeError("tracking: no open run; log inside Tracker.parent_run() or child_run()")
        return current

    def ensure_experiment(self) -> str:
        """Create the store and the experiment once, under the store lock, before any run or trial."""
        client = self.client
        with store_lock(self.uri):
            found = client.get_experiment_by_name(self.experiment)
            if found is None:
                try:
                    self.experiment_id = client.create_experiment(
                        self.experiment, artifact_location=artifact_location(self.uri)
                    )
                except MlflowException:  # created meanwhile by a process that does not take the lock (a server)
                    found = client.get_experiment_by_name(self.experiment)
                    if found is None:
                        raise
            if found is not None:
                self.experiment_id = found.experiment_id
        return self.experiment_id

    @contextmanager
    def parent_run(
        self, name: str, tags: Mapping[str, str], run_id: str | None = None, shared: bool = False
    ) -> Iterator[Run]:
        """Create the parent run (ended FINISHED, FAILED or KILLED on exit), or with `run_id` attach to one
        another process created: its children go under it, and on exit its status changes only if this
        process fails. `name` and `tags` apply to a created run only.

        `shared=True` (one run for every process of a study): an attached run is set RUNNING again and, like a
        created one, ends with this process's outcome (the last process to end sets it); params the run has
        already are kept (MLflow params are write-once), a different value is logged as a warning."""
        if self._parent_id is not None and run_id != self._parent_id:
            raise RuntimeError(f"tracking: this tracker already logs under parent run {self._parent_id}")
        client = self.client
        if run_id is None:
            if self.experiment_id is None:
                self.ensure_experiment()
            run = client.create_run(self.experiment_id, tags=context_registry.resolve_tags(dict(tags)), run_name=name)
        else:
            run = self._attach(run_id)
            if shared and run.info.status != "RUNNING":
                client.update_run(run_id, status="RUNNING")
        previous, self._parent_id, self._shared = self._parent_id, run.info.run_id, shared
        try:
            with _ended(client, run.info.run_id, attached=run_id is not None and not shared):
                yield run
        finally:
            self._parent_id, self._child_id, self._shared = previous, None, False

    def _attach(self, run_id: str) -> Run:
        run = self.client.get_run(run_id)
        if self.experiment_id is not None and run.info.experiment_id != self.experiment_id:
            raise ConfigError(
                f"tracking: parent run {run_id} belongs to experiment id {run.info.experiment_id}, not to "
                f"'{self.experiment}' (id {self.experiment_id}) in {redact(self.uri)}"
            )
        self.experiment_id = run.info.experiment_id
        return run

    @contextmanager
    def child_run(self, name: str, params: Mapping[str, Any], tags: Mapping[str, str]) -> Iterator[Run]:
        """A run nested under the parent (tag `mlflow.parentRunId`); the log_* methods write to it meanwhile."""
        if self._parent_id is None:
            raise RuntimeError("tracking: child_run() needs an open parent_run() (or a tracker from worker())")
        if self._child_id is not None:
            raise RuntimeError(f"tracking: child run {self._child_id} is still open; one at a time per tracker")
        client = self.client
        tags = {**context_registry.resolve_tags(dict(tags)), MLFLOW_PARENT_RUN_ID: self._parent_id}
        run = client.create_run(self.experiment_id, tags=tags, run_name=name)
        self._child_id = run.info.run_id
        try:
            with _ended(client, run.info.run_id):
                if params:
                    self.log_params({k: str(v)[:MAX_PARAM_LENGTH] for k, v in params.items()})
                yield run
        finally:
            self._child_id = None

    def worker(self) -> Tracker:
        """A fresh tracker for another process (forked or spawned; picklable): the same store, experiment
        and parent run, its own client, no open child. Its children nest under the parent; it never ends
        the parent itself."""
        if self._parent_id is None:
            raise RuntimeError("tracking: worker() needs an open parent_run()")
        fresh = Tracker(self.uri, self.experiment, self.trials)
        fresh.experiment_id, fresh._parent_id = self.experiment_id, self._parent_id
        return fresh

    def run_status(self, run_id: str) -> str | None:
        """The status of run `run_id` in this store and experiment (any experiment before one is known), else None."""
        return runs.run_status(self.client, run_id, self.experiment_id)

    def running_children(self, tags: Mapping[str, str]) -> dict[str, dict[str, str]]:
        """The RUNNING nested runs of the parent that carry `tags`: run id -> all its tags."""
        if self._parent_id is None:
            raise RuntimeError("tracking: running_children() needs an open parent_run()")
        return runs.running_children(self.client, self.experiment_id, self._parent_id, tags)

    def end_run(self, run_id: str, status: str, reason: str) -> bool:
        """End a run a dead process left RUNNING, with `reason` in tag `crmflow.killed_reason`; whether it did."""
        return runs.end_run(self.client, run_id, status, reason)

    def log_params(self, params: Mapping[str, str]) -> None:
        batch = {str(k): str(v) for k, v in params.items()}
        if self._shared and self._child_id is None:  # the shared parent: first values stay
            runs.log_new_params(self.client, self.current_run_id, batch)
            return
        self.client.log_batch(self.current_run_id, params=[Param(k, v) for k, v in batch.items()])

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Set tags on a run that other processes of the study may tag at the same moment (the shared parent): the
        store's insert of a new tag can then lose the race ("UNIQUE constraint failed"); the tag exists by then, so
        setting it once more updates it."""
        for key, value in tags.items():
            try:
                self.client.set_tag(run_id, key, value)
            except MlflowException as error:
                if "UNIQUE constraint" not in str(error) and "IntegrityError" not in str(error):
                    raise
                self.client.set_tag(run_id, key, value)

    def log_metrics(self, metrics: Mapping[str, float], prefix: str = "", step: int = 0) -> None:
        now = int(time.time() * 1000)
        batch = [Metric(f"{prefix}{k}", float(v), now, step) for k, v in metrics.items()]
        self.client.log_batch(self.current_run_id, metrics=batch)

    def log_artifacts(self, paths: list[Path], folder: str | None = None) -> None:
        for path in paths:
            self.client.log_artifact(self.current_run_id, str(path), artifact_path=folder)

    def log_text(self, text: str, file_name: str) -> None:
        self.client.log_text(self.current_run_id, text, file_name)

    def log_dataset(self, frame: Any, name: str, context: str) -> None:
        """The table as a dataset input; digest and schema from a fixed-size sample, same in every process."""
        datasets.log_dataset(self.client, self.current_run_id, frame, name, context)

    def log_model(self, logged: LoggedModel, stage: str | None = None) -> str:
        """Log the fitted model of `stage` to the current run; return a URI to load it with (`models.log_model`)."""
        return models.log_model(self.client, self.current_run_id, logged, stage)
