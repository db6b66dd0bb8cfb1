"""Secrets kept out of everything crmflow writes: params, tags, config.yaml, Hydra's `.hydra/` files, log lines,
messages, the summary.

A password in a URL (`postgresql://user:pw@host/db`, `http://alice:hunter2@host`, `s3://key:secret@bucket/x`)
becomes `***`, and so does the value of any key named like a secret (password, token, secret, api_key,
credential): in a config tree by its key, in text where it is written `key=value` (an override, a query string)
or `{key: value}` (a Hydra dict override, a repr). Light on purpose: the config layer, the CLI and the Hydra
callback use it. Credentials themselves belong in the environment (MLFLOW_TRACKING_USERNAME/PASSWORD,
PGPASSWORD or ~/.pgpass), where none of this is needed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "HIDDEN",
    "is_secret_key",
    "redact",
    "redact_config",
    "redact_logging",
    "redact_overrides",
    "redact_record",
]

HIDDEN = "***"
_WORDS = r"password|passwd|secret|token|api_key|apikey|credential"
# scheme://user:password@ — the password runs to the last "@" before the host, so it may hold "@" and "/"
# (SQLAlchemy and S3 secret keys allow both); the host ends at a path, port, query, space, quote or bracket.
# In a sweep job's overrides Hydra escapes ":" (`s3\://key\:secret@bucket`): a backslash may precede it; a URL
# that went through `pathlib.Path` has lost a slash (`s3:/key:secret@bucket`).
_URL_PASSWORD = re.compile(
    r"(\b[a-zA-Z][a-zA-Z0-9+.\-]*\\?:/{1,2}[^:/@\s'\"]*?)(\\?:)[^\s'\"]*@(?=[^@\s/'\"]*(?:[/:?#\s'\"),;\]}>]|$))"
)
_QUERY_PASSWORD = re.compile(r"([?&](?:password|passwd|pwd)=)[^&#\s]*", re.IGNORECASE)
_SECRET_KEY = re.compile(rf"({_WORDS})", re.IGNORECASE)
# key=value whose last key segment is secret-named: `+db.password=x`, `?access_token=x&...`, override_dirname
_ASSIGNED = re.compile(rf"(?<![\w.\-])([\w.\-]*(?:{_WORDS})[\w\-]*=)[^\s&'\"]*", re.IGNORECASE)
# {key: value} or {'key': 'value'}: a Hydra dict override, a YAML flow mapping, a Python or JSON repr
_MAPPED = re.compile(
    rf"""((?:(?<=[{{,])|(?<=[{{,]\s))(['"]?)[\w\-]*(?:{_WORDS})[\w\-]*\2\s*\\?:\s*)('[^']*'|"[^"]*"|(?:[^\s,'"{{}}\[\]\\]|\\.)+)""",
    re.IGNORECASE,
)


def is_secret_key(key: str) -> bool:
    """Whether a config key (its last dotted segment) is named like a secret: password, token, secret, ..."""
    return bool(_SECRET_KEY.search(str(key).rpartition(".")[2]))


def _hide_mapped(found: re.Match[str]) -> str:
    value = found.group(3)
    quote = value[0] if value[0] in "'\"" else ""
    return f"{found.group(1)}{quote}{HIDDEN}{quote}"


def redact(text: str) -> str:
    """`text` with every URL password, `?password=` query value and secret-named `key=value` or
    `{key: value}` value replaced by `***`."""
    text = _URL_PASSWORD.sub(rf"\1\2{HIDDEN}@", text)
    text = _QUERY_PASSWORD.sub(rf"\1{HIDDEN}", text)
    text = _ASSIGNED.sub(rf"\1{HIDDEN}", text)
    return _MAPPED.sub(_hide_mapped, text)


def redact_config(node: Any, key: str = "") -> Any:
    """A copy of a config tree with URL passwords hidden, and the whole value of every secret-named key
    (a mapping or list under `credentials:` too)."""
    if key and is_secret_key(key) and node not in (None, ""):
        return HIDDEN
    if isinstance(node, Mapping):
        return {k: redact_config(v, str(k)) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [redact_config(v) for v in node]
    return redact(node) if isinstance(node, str) else node


def redact_overrides(overrides: list[str]) -> list[str]:
    """Command-line overrides as they may be shown: `key=value` with the value redacted like the config
    (all of it for a secret-named key, sweep values included)."""
    shown = []
    for override in overrides:
        key, equals, value = override.partition("=")
        hidden = equals and is_secret_key(key) and value
        shown.append(f"{key}={HIDDEN}" if hidden else redact(override))
    return shown


def redact_record(record: logging.LogRecord) -> None:
    """Redact a log record in place: its message (arguments merged in), traceback and stack."""
    try:
        message = record.getMessage()
    except (TypeError, ValueError, KeyError):  # a bad format: the handler reports it when it formats the record
        return
    shown = redact(message)
    if shown != message:
        record.msg, record.args = shown, None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def redact_logging() -> None:
    """Make every log record of this process (and of processes it forks) redacted as it is made, whatever
    logger makes it and whichever handlers Hydra, MLflow or Optuna install later; once per process.

    A record factory rather than handler filters: Hydra's launcher reconfigures logging and logs each job's
    overrides before any callback could filter the new handlers. Called by the CLI and its Hydra callback,
    never at import time."""
    make = logging.getLogRecordFactory()
    if getattr(make, "redacts", False):
        return

    def make_redacted(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        redact_record(record)
        return record

    make_redacted.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_redacted)
