"""The `tuning` config node: which stages are tuned, towards what, with how many trials, where and by how many
worker processes.

Light on purpose (no Optuna import): the stage contract and the run plan read it. Its keys are checked
with the vocabulary of crmflow.config.validation, like every other key a user types, before any data is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from crmflow.config.constraints import Boolean, Constraint, InstanceOf, Interval, Options, Text
from crmflow.config.validation import validate
from crmflow.errors import ConfigError, did_you_mean
from crmflow.redact import redact

DIRECTIONS = ("maximize", "minimize")
AUTO = "auto"  # an objective metric that means "the stage's default for this component"
TUNING_KEYS = (
    "n_trials",
    "timeout",
    "seed",
    "storage",
    "study_name",
    "n_workers",
    "resume",
    "heartbeat_interval",
    "grace_period",
    "max_failures",
    "sampler",
    "start_from_config",
    "objectives",
    "stages",
)
BUDGET_KEYS = ("n_trials", "timeout")
RESUME_MODES = ("finish", "add")  # finish: a stored study reaches n_trials; add: n_trials more, whatever is stored
JOURNAL = "journal:"
RDB_SCHEMES = ("sqlite", "postgresql", "mysql")  # SQLAlchemy dialects Optuna's RDBStorage supports, "+driver" allowed
# `tuning.storage` as a `_target_` node, compared as strings (nothing imported): the names Optuna 5 exposes
JOURNAL_TARGETS = ("optuna.storages.JournalStorage", "optuna.storages.journal.JournalStorage")
JOURNAL_FILE_TARGETS = ("optuna.storages.journal.JournalFileBackend", "optuna.storages.JournalFileStorage")
RDB_TARGET = "optuna.storages.RDBStorage"
JOURNAL_NODE = (
    f"{{_target_: {JOURNAL_TARGETS[0]}, log_storage: {{_target_: {JOURNAL_FILE_TARGETS[0]}, file_path: PATH}}}}"
)
RDB_NODE = f"{{_target_: {RDB_TARGET}, url: URL}}"


def storage_kind(storage: str) -> str:
    """The kind of a `tuning.storage` value: journal, sqlite, rdb (another database URL) or "" (unknown)."""
    if storage.startswith(JOURNAL):
        return "journal" if storage[len(JOURNAL) :].strip() else ""
    scheme, sep, _ = storage.partition("://")
    dialect = scheme.partition("+")[0]
    if not sep or dialect not in RDB_SCHEMES:
        return ""
    return "sqlite" if dialect == "sqlite" else "rdb"


def storage_from_node(node: Mapping[str, Any], key: str = "tuning.storage") -> str:
    """The `tuning.storage` string a `_target_` node stands for: `journal:PATH` for a JournalStorage on a journal
    file, the `url` of an RDBStorage; so locks, study places and checks see one spelling."""
    target = node.get("_target_")
    if target == RDB_TARGET:
        return _node_text(node, "url", key, "a database URL such as 'postgresql+psycopg://USER@HOST/DB'", RDB_NODE)
    if target not in JOURNAL_TARGETS:
        raise ConfigError(
            f"{key}._target_: expected {JOURNAL_TARGETS[0]} or {RDB_TARGET}; got {target!r}; "
            f"write {JOURNAL_NODE} or {RDB_NODE}"
        )
    _only(node, ("_target_", "log_storage"), key, JOURNAL_NODE)
    log = node.get("log_storage")
    found = log.get("_target_") if isinstance(log, Mapping) else log
    if found not in JOURNAL_FILE_TARGETS:
        raise ConfigError(
            f"{key}.log_storage._target_: expected {' or '.join(JOURNAL_FILE_TARGETS)}; got {found!r}; "
            f"write {JOURNAL_NODE}"
        )
    return JOURNAL + _node_text(log, "file_path", f"{key}.log_storage", "the journal file's path", JOURNAL_NODE)


def _node_text(node: Mapping[str, Any], name: str, key: str, what: str, form: str) -> str:
    """The one string argument `name` of a storage node (its other keys refused)."""
    _only(node, ("_target_", name), key, form)
    value = node.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key}.{name}: expected {what}; got {value!r}; write {form}")
    return value.strip()


def _only(node: Mapping[str, Any], keys: tuple[str, ...], key: str, form: str) -> None:
    for name in sorted(set(node) - set(keys)):
        raise ConfigError(
            f"{key}: unknown key '{name}' for {node.get('_target_')}{did_you_mean(name, keys)}; write {form}"
        )


@dataclass(frozen=True)
class StorageURL(Constraint):
    """A `tuning.storage` value: `journal:PATH`, or a database URL for Optuna's RDBStorage (a `_target_` node
    has been turned into one of these by `storage_from_node`)."""

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and bool(storage_kind(value))

    def describe(self) -> str:
        return (
            "'journal:PATH', 'sqlite:///PATH', a PostgreSQL/MySQL URL such as 'postgresql+psycopg://USER@HOST/DB' "
            f"or a _target_ node ({JOURNAL_TARGETS[0]} or {RDB_TARGET})"
        )

    def fix(self, value: Any) -> str:
        scheme = str(value).partition(":")[0].partition("+")[0]
        return did_you_mean(scheme, ("journal", *RDB_SCHEMES)) if isinstance(value, str) else ""


def _study_name_rule(values: Mapping[str, Any]) -> list[Any]:
    """A stored study is found by its name: `study_name` is required with a storage."""
    if values["storage"] is None:
        return [Text(), None]
    hint = f"; a study in tuning.storage={values['storage']} is found by its name, e.g. tuning.study_name=crm"
    return [Text(hint=hint)]


def _workers_rule(values: Mapping[str, Any]) -> Any:
    """SQLite is never shared by processes (its schema creation and locking race)."""
    if values["storage"] is not None and storage_kind(values["storage"]) == "sqlite":
        hint = "; SQLite is not shared by processes: use tuning.storage=journal:PATH for several workers on one host"
        return Interval(int, 1, 1, doc="1 with a SQLite storage", hint=hint)
    return Interval(int, 1, None)


def _grace_rule(values: Mapping[str, Any]) -> Any:
    interval = values["heartbeat_interval"]
    hint = f"; a trial is stale after missing heartbeats, so make it longer than tuning.heartbeat_interval={interval}"
    return Interval(int, interval, None, closed="neither", hint=hint)


@dataclass(frozen=True)
class Objective:
    """The metric a stage's study optimises and its direction."""

    metric: str
    direction: str

    constraints: ClassVar[dict[str, list[Any]]] = {"metric": [str], "direction": [Options(DIRECTIONS)]}


@dataclass(frozen=True)
class Budget:
    """How many trials (and seconds) one stage's study may spend."""

    n_trials: int
    timeout: float | None

    constraints: ClassVar[dict[str, list[Any]]] = {
        "n_trials": [Interval(int, 0, None)],
        "timeout": [Interval(float, 0, None, closed="neither", doc="a number of seconds > 0"), None],
    }


def _known_keys(node: Mapping[str, Any], keys: tuple[str, ...], key: str) -> None:
    for name in sorted(set(node) - set(keys)):
        raise ConfigError(f"{key}: unknown key '{name}'{did_you_mean(name, keys)}")


def _entries(node: Mapping[str, Any], stage_names: list[str], key: str, example: str) -> dict[str, Mapping[str, Any]]:
    """`<key>.<stage>: {...}` entries, each naming a known stage and holding a mapping."""
    for stage in node:
        if stage not in stage_names:
            raise ConfigError(f"{key}: unknown stage '{stage}'{did_you_mean(stage, stage_names)}")
    validate(node, dict.fromkeys(node, [InstanceOf(Mapping, doc="a mapping", hint=f"; e.g. {example}")]), key)
    return dict(node)


@dataclass
class TuningSettings:
    """The parsed `tuning` config node."""

    n_trials: int
    timeout: float | None
    seed: int
    storage: str | None
    study_name: str | None
    max_failures: int | None  # None: a stage's own number of trials
    sampler: Mapping[str, Any] | None
    objectives: dict[str, Objective] = field(default_factory=dict)
    start_from_config: bool = True
    budgets: dict[str, Budget] = field(default_factory=dict)
    n_workers: int = 1  # worker processes per tuned stage's study
    resume: str = "finish"  # what n_trials means for a stored study: its total (finish) or this run's (add)
    heartbeat_interval: int = 60  # PostgreSQL/MySQL studies: seconds between a running trial's heartbeats
    grace_period: int = 120  # ... and seconds without one before the trial is failed and retried

    constraints: ClassVar[dict[str, list[Any]]] = {
        **Budget.constraints,
        "seed": [int],
        "storage": [StorageURL(), None],
        "study_name": [_study_name_rule],
        "n_workers": [_workers_rule],
        "resume": [Options(RESUME_MODES)],
        "heartbeat_interval": [Interval(int, 1, None)],
        "grace_period": [_grace_rule],
        "max_failures": [Interval(int, 0, None), None],
        "sampler": [Mapping, None],
        "start_from_config": [Boolean()],
        "objectives": [Mapping, None],
        "stages": [Mapping, None],
    }

    @classmethod
    def parse(cls, node: Mapping[str, Any], stage_names: list[str]) -> TuningSettings:
        _known_keys(node, TUNING_KEYS, "tuning")
        values = {"n_trials": 0, "timeout": None, "seed": 0, "storage": None, "study_name": None, "sampler": None}
        values.update(start_from_config=True, objectives=None, stages=None, n_workers=1, resume="finish")
        values.update(heartbeat_interval=60, grace_period=120, max_failures=None)
        values.update(node)
        if isinstance(values["storage"], Mapping):  # a `_target_` node: its string, the one spelling used
            values["storage"] = storage_from_node(values["storage"])
        shown = {**values, "storage": redact(values["storage"])} if isinstance(values["storage"], str) else values
        validate(shown, cls.constraints, "tuning")  # a password in the storage URL never reaches a message
        default = Budget(values["n_trials"], values["timeout"])
        return cls(
            n_trials=default.n_trials,
            timeout=default.timeout,
            seed=values["seed"],
            storage=values["storage"],
            study_name=values["study_name"],
            max_failures=values["max_failures"],
            sampler=values["sampler"],
            objectives=_objectives(values["objectives"] or {}, stage_names),
            start_from_config=values["start_from_config"],
            budgets=_budgets(values["stages"] or {}, stage_names, default),
            n_workers=values["n_workers"],
            resume=values["resume"],
            heartbeat_interval=values["heartbeat_interval"],
            grace_period=values["grace_period"],
        )

    def budget(self, stage: str) -> Budget:
        """`tuning.stages.<stage>` when given, else the run-wide `tuning.n_trials` and `tuning.timeout`."""
        return self.budgets.get(stage, Budget(self.n_trials, self.timeout))

    def failure_limit(self, stage: str) -> int:
        """Failed trials a stage's study may have before it stops: `max_failures`, else its number of trials."""
        return self.budget(stage).n_trials if self.max_failures is None else self.max_failures

    def wants(self, stage: str) -> bool:
        """Whether the stage has an objective and trials to spend (its search space decides the rest)."""
        return stage in self.objectives and self.budget(stage).n_trials > 0


def _objectives(node: Mapping[str, Any], stage_names: list[str]) -> dict[str, Objective]:
    """`tuning.objectives.<stage>: {metric, direction}`; `{metric: auto}` is resolved by the plan."""
    objectives = {}
    example = "{metric: silhouette, direction: maximize}"
    for stage, entry in _entries(node, stage_names, "tuning.objectives", example).items():
        key = f"tuning.objectives.{stage}"
        _known_keys(entry, tuple(Objective.constraints), key)
        values = {"metric": None, "direction": "maximize", **entry}
        validate(values, Objective.constraints, key)
        metric = values["metric"]
        objectives[stage] = Objective(AUTO, AUTO) if metric == AUTO else Objective(metric, values["direction"])
    return objectives


def _budgets(node: Mapping[str, Any], stage_names: list[str], default: Budget) -> dict[str, Budget]:
    """`tuning.stages.<stage>: {n_trials, timeout}`, each key left out or null falling back to the run-wide value
    (so an entry of nulls sets nothing, whether or not its stage is configured)."""
    budgets = {}
    given = {stage: entry for stage, entry in node.items() if not _all_null(entry)}
    for stage, entry in _entries(given, stage_names, "tuning.stages", "{n_trials: 20, timeout: 600}").items():
        key = f"tuning.stages.{stage}"
        _known_keys(entry, BUDGET_KEYS, key)
        values = {"n_trials": default.n_trials, "timeout": default.timeout}
        values.update({name: value for name, value in entry.items() if value is not None})
        validate(values, Budget.constraints, key)
        budgets[stage] = Budget(values["n_trials"], values["timeout"])
    return budgets


def _all_null(entry: Any) -> bool:
    return isinstance(entry, Mapping) and all(value is None for value in entry.values())
