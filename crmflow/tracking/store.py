"""Where runs go: a local SQLite file, created and migrated once under a file lock, or a tracking server,
checked for reachability before any data is read. No MLflow import here."""

from __future__ import annotations

import base64
import logging
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from crmflow.errors import ConfigError
from crmflow.locks import file_lock
from crmflow.redact import redact

logger = logging.getLogger(__name__)
SQLITE_PREFIX = "sqlite:///"
HEALTH_TIMEOUT = 3.0  # seconds for GET <uri>/health: an unreachable server fails the run at once
SERVER_SCHEMES = ("http", "https")


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI, else None."""
    return Path(uri[len(SQLITE_PREFIX) :]) if uri.startswith(SQLITE_PREFIX) else None


def artifact_location(uri: str) -> str | None:
    """Artifacts of a SQLite store live next to its file (`<db folder>/artifacts`); a server decides its own."""
    database = sqlite_path(uri)
    return None if database is None else (database.parent.resolve() / "artifacts").as_uri()


@contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Hold an exclusive `fcntl.flock` on `<db>.lock` next to a SQLite store (nothing for other stores).

    MLflow creates and migrates a fresh database without a lock of its own, so processes opening one
    together leave it half-migrated; under this lock the first creates it and the others find it done.
    Not re-entrant: flock locks belong to an open file, so never nest two of these in one process.
    """
    database = sqlite_path(uri)
    if database is None:
        yield
        return
    with file_lock(database.with_name(f"{database.name}.lock")):
        yield


def check_reachable(uri: str, timeout: float = HEALTH_TIMEOUT) -> None:
    """For an http(s) tracking URI, GET `<uri>/health` within `timeout` seconds; a ConfigError saying how
    to start a server (or choose tracking=local) when nothing answers. Other URIs are local: nothing to do.

    Any answer below 500 counts as reachable (a 401 is the server asking for credentials, which MLflow's
    client sends from MLFLOW_TRACKING_USERNAME/PASSWORD); messages never show a password.
    """
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme not in SERVER_SCHEMES:
        _check_local_store(uri)
        return
    host = parts.netloc.rpartition("@")[2]
    url = urllib.parse.urlunsplit((parts.scheme, host, parts.path.rstrip("/") + "/health", "", ""))
    request = urllib.request.Request(url, headers=_basic_auth(parts))
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return
    except urllib.error.HTTPError as error:
        if error.code < 500:
            return
        reason = f"HTTP {error.code} {error.reason}"
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = str(getattr(error, "reason", None) or error)
    if parts.password:
        reason = reason.replace(parts.password, "***")
    raise ConfigError(
        f"tracking.uri: cannot reach the MLflow tracking server at {redact(uri)}: {reason}; "
        "start one with `mlflow server --host 127.0.0.1 --port 5000` or choose tracking=local"
    )


def _basic_auth(parts: urllib.parse.SplitResult) -> dict[str, str]:
    """An Authorization header for credentials given in the URI itself (urllib would read them as the host)."""
    if parts.username is None:
        return {}
    pair = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


def _check_local_store(uri: str) -> None:
    """A SQLite store's file must be a file (or absent) in a folder crmflow can create and write."""
    database = sqlite_path(uri)
    if database is None:
        return
    example = "e.g. tracking.uri=sqlite:///mlruns/mlflow.db"
    if database.is_dir():
        raise ConfigError(f"tracking.uri: '{database}' is a folder; give the SQLite file inside it, {example}")
    folder = next((p for p in (database.parent, *database.parent.parents) if p.exists()), Path("."))
    try:  # a probe folder, removed at once: nothing of the store is created before the run starts
        os.rmdir(tempfile.mkdtemp(prefix=".crmflow-probe-", dir=folder))
    except OSError as error:
        raise ConfigError(
            f"tracking.uri: cannot create the SQLite store '{database}' in '{folder}' ({error.strerror}); {example}"
        ) from None
