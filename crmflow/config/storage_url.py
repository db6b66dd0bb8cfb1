"""`tuning.storage`: a journal file or a database URL for Optuna's RDBStorage, or the same as a `_target_` node.

Compared as strings (nothing imported), so the config stays light and locks, study places and checks see one
spelling of each storage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crmflow.config.constraints import Constraint
from crmflow.errors import ConfigError, did_you_mean

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
