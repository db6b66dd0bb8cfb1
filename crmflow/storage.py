"""Optuna storages by scale, as Optuna documents them: in memory for one process, a journal file for several
processes on one host, a database for several machines (PostgreSQL, with a heartbeat and a retry of stale trials).

`check_storage` opens the configured storage before any data is read, so a wrong URL or a database that is down,
or a `tuning.study_name` whose stored studies optimise another direction or draw from another search space, is one
ConfigError line, not a failure after the data has been loaded. `study_lock` makes a decision taken by
several processes or machines on one study exclusive (which one creates the study's MLflow parent run).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.storages import BaseStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import FrozenTrial, TrialState

from crmflow.config.goals import Objective
from crmflow.config.search_space import SearchSpace
from crmflow.config.storage_url import JOURNAL, storage_kind
from crmflow.config.tuning import TuningSettings
from crmflow.errors import ConfigError
from crmflow.locks import file_lock, lock_name
from crmflow.reconnect import ResilientRDBStorage
from crmflow.redact import redact
from crmflow.retries import StaleTrialRetry

CONNECT_TIMEOUT = 5  # seconds: a database that does not answer is reported, not waited for
STALE_RETRIES = 1  # a trial whose worker died is run once more with its parameters
SCHEMA_LOCK = "<optuna schema>"  # the study_lock name under which a storage's tables are created


def journal_path(url: str) -> Path:
    """The file of a `journal:PATH` storage."""
    return Path(url[len(JOURNAL) :].strip()).expanduser()


def open_storage(url: str | None, settings: TuningSettings) -> BaseStorage | None:
    """The Optuna storage for `url` (None: in memory), created if absent; call it in each worker process.

    A database's: connections checked before use (`pool_pre_ping`, so one the server closed, e.g. by a restart,
    is replaced), a heartbeat that survives a lost connection and retries stale trials without their dead worker's
    attributes (crmflow.reconnect, crmflow.retries)."""
    if url is None:
        return None
    kind = storage_kind(url)
    if kind == "journal":
        path = journal_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    if kind == "sqlite":
        _sqlite_folder(url)
        with study_lock(url, SCHEMA_LOCK):
            return RDBStorage(url)
    # Processes (or machines) opening a fresh database together would race to create Optuna's tables.
    with warnings.catch_warnings(), study_lock(url, SCHEMA_LOCK):
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # the heartbeat is "experimental"
        return ResilientRDBStorage(
            url,
            engine_kwargs={"pool_pre_ping": True, "connect_args": {"connect_timeout": CONNECT_TIMEOUT}},
            heartbeat_interval=settings.heartbeat_interval,
            grace_period=settings.grace_period,
            heartbeat_stale_trial_callback=StaleTrialRetry(max_retry=STALE_RETRIES),
        )


def _sqlite_folder(url: str) -> None:
    """Create the folder of a SQLite file (SQLite creates the file, not its folder)."""
    database = _sqlite_file(url)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)


@contextmanager
def study_lock(url: str, name: str) -> Iterator[None]:
    """Hold a lock on study `name` of storage `url` that every process using the storage sees: an exclusive
    `flock` on `<file>.<name>.lock` next to a journal or SQLite file, an advisory lock in a database (PostgreSQL
    `pg_advisory_xact_lock`, MySQL `GET_LOCK`). A holder that dies releases it (the kernel closes its file, the
    database its connection)."""
    kind = storage_kind(url)
    if kind == "rdb":
        with _database_lock(url, name):
            yield
        return
    path = journal_path(url) if kind == "journal" else _sqlite_file(url)
    if path is None:  # SQLite in memory: one process, nothing to share
        yield
        return
    with file_lock(lock_name(path, name)):  # one file per name, so locks of different names may nest
        yield


@contextmanager
def _database_lock(url: str, name: str) -> Iterator[None]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    digest = hashlib.sha256(f"crmflow.study:{name}".encode()).digest()
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT})
    try:
        with engine.begin() as connection:  # the transaction, and the lock, end on leaving the block
            if engine.dialect.name == "postgresql":
                key = int.from_bytes(digest[:8], "big", signed=True)
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
                yield
            else:  # MySQL: a named lock, released explicitly (or when the connection closes)
                lock = f"crmflow.{digest.hex()[:48]}"
                connection.execute(text("SELECT GET_LOCK(:name, -1)"), {"name": lock})
                try:
                    yield
                finally:
                    connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": lock})
    finally:
        engine.dispose()


def _sqlite_file(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def release_connections(storage: BaseStorage | None) -> None:
    """Close a database storage's pooled connections, so none is shared with a forked worker (each worker
    opens its own storage; the parent reconnects when it next reads)."""
    if isinstance(storage, RDBStorage):
        storage.engine.dispose()


def check_storage(settings: TuningSettings, spaces: Mapping[str, SearchSpace] | None = None) -> None:
    """Open `tuning.storage` with a short connect timeout and check that the stages' stored studies (if any)
    optimise in the configured directions and that those of the stages this run tunes (`spaces`: stage -> its
    search space) drew from the same space; ConfigError naming the key otherwise. Nothing to do in memory."""
    from sqlalchemy.exc import SQLAlchemyError

    if settings.storage is None:
        return
    kind = storage_kind(settings.storage)
    place = (
        journal_path(settings.storage)
        if kind == "journal"
        else _sqlite_file(settings.storage)
        if kind == "sqlite"
        else None
    )
    if place is not None and place.is_dir():
        raise ConfigError(
            f"tuning.storage: '{place}' is a folder; give a file inside it, e.g. journal:{place}/study.log"
        )
    try:
        storage = open_storage(settings.storage, settings)
        studies = {study.study_name: study for study in storage.get_all_studies()}
    except (OSError, ImportError, RuntimeError, ValueError, SQLAlchemyError) as error:
        raise ConfigError(f"tuning.storage: cannot connect to {redact(settings.storage)}: {_reason(error)}") from None
    try:
        for stage in settings.objectives:
            name = f"{settings.study_name}.{stage}"
            if name in studies:
                found = studies[name]
                check_direction(name, [d.name.lower() for d in found.directions], settings.goals_of(stage), stage)
                check_goals(name, found.user_attrs, goals_record(settings, stage), stage)
        for stage, space in (spaces or {}).items():
            name = f"{settings.study_name}.{stage}"
            if name in studies and space and settings.wants(stage):
                trials = storage.get_all_trials(storage.get_study_id_from_name(name), deepcopy=False)
                check_space(name, trials, search_distributions(space), stage)
    finally:
        release_connections(storage)


def check_direction(study_name: str, found: list[str], goals: Sequence[Objective], stage: str) -> None:
    """A stored study keeps its directions: others are a different question, so they need another name."""
    wanted = [goal.direction for goal in goals]
    if all(w in ("maximize", "minimize") for w in wanted) and found != wanted:
        asked = " and ".join(f"{goal.direction} {goal.metric}" for goal in goals)
        raise ConfigError(
            f"tuning.study_name: the stored study '{study_name}' is to {' and '.join(found)}, but "
            f"tuning.objectives.{stage} asks to {asked}; choose another tuning.study_name (or delete the study)"
        )


GOALS_ATTR = "crmflow.goals"  # a study's objectives and constraints, as crmflow created it


def goals_record(settings: TuningSettings, stage: str) -> dict[str, list[str]]:
    """What a stage's study answers: its objective metrics (with directions) and its constraints, as text."""
    return {
        "objectives": [f"{goal.direction} {goal.metric}" for goal in settings.goals_of(stage)],
        "constraints": [str(bound) for bound in settings.bounds.get(stage, ())],
    }


def check_goals(study_name: str, attrs: Mapping[str, Any], wanted: Mapping[str, list[str]], stage: str) -> None:
    """A stored study keeps the metrics it optimises and the constraints its trials were judged by: a trial
    recorded without a constraint counts as feasible, so adding one to a study would let old trials win."""
    stored = attrs.get(GOALS_ATTR)
    if stored is None or stored == dict(wanted):
        return
    for part, key in (("objectives", f"tuning.objectives.{stage}"), ("constraints", f"tuning.constraints.{stage}")):
        if stored.get(part) != wanted[part]:
            raise ConfigError(
                f"tuning.study_name: the stored study '{study_name}' has {part} [{', '.join(stored.get(part) or [])}]"
                f", but {key} asks for [{', '.join(wanted[part])}]; choose another tuning.study_name (or delete the "
                "study)"
            )


def check_space(
    study_name: str, trials: Sequence[FrozenTrial], configured: Mapping[str, BaseDistribution], stage: str
) -> None:
    """A stored study keeps its search space: trials drawn from another one answer another question (and mislead
    its sampler), so it needs another name. Only trials that drew parameters count (not enqueued ones waiting)."""
    difference = _space_difference(trials, configured)
    if difference:
        raise ConfigError(
            f"tuning.study_name: the stored study '{study_name}' has trials drawn from another search space than "
            f"{stage}.search_space ({difference}); choose another tuning.study_name (or delete the study)"
        )


def _space_difference(trials: Sequence[FrozenTrial], configured: Mapping[str, BaseDistribution]) -> str:
    """The first parameter whose stored distribution differs, or that a finished trial did not draw; "" if none.
    A running (or dead worker's) trial may have drawn only some parameters, so only its drawn ones are compared."""
    for trial in trials:
        for name, distribution in trial.distributions.items():
            if configured.get(name) != distribution:
                return f"parameter {name}: stored {_shown(distribution)}, configured {_shown(configured.get(name))}"
        missing = [name for name in configured if name not in trial.distributions]
        if missing and trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
            return f"parameter {missing[0]}: stored {_shown(None)}, configured {_shown(configured[missing[0]])}"
    return ""


def _shown(distribution: BaseDistribution | None) -> str:
    """E.g. `IntDistribution(low=2, high=10)`: Optuna's fields, defaults left out."""
    if distribution is None:
        return "none (not tuned)"
    defaults = {"log": False, "step": 1 if isinstance(distribution, IntDistribution) else None}
    fields = vars(distribution)
    shown = [
        f"{key}={fields[key]!r}"
        for key in ("low", "high", "step", "log", "choices")
        if key in fields and (key not in defaults or fields[key] != defaults[key])
    ]
    return f"{type(distribution).__name__}({', '.join(shown)})"


class _Recorder:
    """A `TrialLike` that keeps the distribution of each suggest call, made as `optuna.Trial` makes it."""

    def __init__(self) -> None:
        self.distributions: dict[str, BaseDistribution] = {}

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        self.distributions[name] = IntDistribution(low=low, high=high, log=log, step=step)
        return low

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        self.distributions[name] = FloatDistribution(low, high, log=log, step=step)
        return low

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        self.distributions[name] = CategoricalDistribution(choices=choices)
        return choices[0]


def search_distributions(space: SearchSpace) -> dict[str, BaseDistribution]:
    """The Optuna distributions a trial draws `space` from, through `SearchSpace.suggest` itself (so they match)."""
    recorder = _Recorder()
    space.suggest(recorder)
    return recorder.distributions


def _reason(error: BaseException) -> str:
    """The first line of an error, without SQLAlchemy's background link and with any password redacted."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return redact(text.split(" (Background on this error at:")[0]).strip()
