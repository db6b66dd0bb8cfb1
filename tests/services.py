"""Real services for the tests, started on free loopback ports and stopped afterwards: a PostgreSQL
server (shared Optuna studies; `restart_postgres` restarts it mid-test; `add_postgres_role` adds a role with a
password) and an `mlflow server` (remote tracking; `mlflow_server_store` also gives the folder of its store).
No pytest here: each helper raises `ServiceUnavailable` with the reason when its service cannot start, and the
fixtures decide."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

# A directory holding initdb and pg_ctl, instead of looking for Debian's (a wrong one simulates a missing server).
PG_BIN_ENV = "CRMFLOW_PG_BIN"
PG_USER = "crmflow"  # login role, password and database of the test server
PG_SYSTEM_USER = "postgres"  # PostgreSQL refuses to run as root; as root, its commands run as this user
START_TIMEOUT = 60.0
LOG_TAIL = 2000  # characters of a service's log quoted in the reason it did not start
PORT_ATTEMPTS = 3  # a free port can be taken before the server binds it: then try another
_RESTARTS: dict[str, Callable[[], None]] = {}  # URL of a running test server -> how to restart it


class ServiceUnavailable(RuntimeError):
    """A service could not be started here; the message says why."""


def free_port() -> int:
    """A loopback TCP port nobody listens on now (the OS picks it for a socket bound to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path) -> str:
    text = path.read_text(errors="replace") if path.is_file() else ""
    return text[-LOG_TAIL:].strip() or "(empty log)"


def _run(command: list[str], what: str, cwd: Path) -> None:
    """Run a set-up command; a failure becomes ServiceUnavailable quoting its output."""
    try:
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=START_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ServiceUnavailable(f"{what}: {error}") from error
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-LOG_TAIL:]
        raise ServiceUnavailable(f"{what} failed (exit {result.returncode}): {output}")


# --- PostgreSQL ------------------------------------------------------------------------------------


def pg_bin_dir() -> Path:
    """The folder of initdb and pg_ctl: $CRMFLOW_PG_BIN, else Debian's newest /usr/lib/postgresql/*/bin,
    else where PATH's pg_ctl really lives (/usr/local/bin/pg_ctl may be a symlink to Debian's)."""
    override = os.environ.get(PG_BIN_ENV)
    if override:
        candidates = [Path(override)]
    else:
        debian = [Path(d) for d in glob.glob("/usr/lib/postgresql/*/bin") if Path(d).parent.name.isdigit()]
        debian.sort(key=lambda d: int(d.parent.name), reverse=True)  # the newest major version first
        on_path = shutil.which("pg_ctl")
        candidates = debian + ([Path(on_path).resolve().parent] if on_path else [])
    for folder in candidates:
        if all(os.access(folder / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres", "psql")):
            return folder
    where = f"{PG_BIN_ENV}={override}" if override else "/usr/lib/postgresql/*/bin nor on PATH"
    raise ServiceUnavailable(
        f"PostgreSQL server binaries (initdb, pg_ctl, postgres, psql) not found in {where}; "
        "install Debian's package: apt-get install postgresql"
    )


def _as_server_user() -> list[str]:
    """The prefix that runs a PostgreSQL command as an unprivileged user: `runuser -u postgres --` as root."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        raise ServiceUnavailable("running as root, and runuser (util-linux) is missing to drop to the postgres user")
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError as error:
        raise ServiceUnavailable(f"running as root, and there is no unprivileged {PG_SYSTEM_USER!r} user") from error
    return [runuser, "-u", PG_SYSTEM_USER, "--"]


def _port_taken(error: ServiceUnavailable) -> bool:
    return "already in use" in str(error).lower()


def _pg_start(bin_dir: Path, prefix: list[str], root: Path) -> int:
    """pg_ctl start the cluster in root/data on a free loopback port (another one if it was taken); the port."""
    start = [*prefix, str(bin_dir / "pg_ctl"), "start", "-w", "-t", str(int(START_TIMEOUT)), "-D", str(root / "data")]
    for attempt in range(1, PORT_ATTEMPTS + 1):
        port, log = free_port(), root / f"server-{attempt}.log"
        options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} -c fsync=off"
        try:
            _run([*start, "-l", str(log), "-o", options], f"pg_ctl start on 127.0.0.1:{port}", root)
            return port
        except ServiceUnavailable as error:
            failure = ServiceUnavailable(f"{error}\nserver log: {_tail(log)}")
            if attempt == PORT_ATTEMPTS or not _port_taken(failure):
                raise failure from error
    raise AssertionError("unreachable")


def _pg_restart(bin_dir: Path, prefix: list[str], root: Path) -> None:
    """pg_ctl restart -m fast: every session is ended, then the server starts again with the same options (port)."""
    restart = [*prefix, str(bin_dir / "pg_ctl"), "restart", "-w", "-t", str(int(START_TIMEOUT)), "-m", "fast"]
    _run([*restart, "-D", str(root / "data"), "-l", str(root / "restart.log")], "pg_ctl restart", root)


def restart_postgres(url: str) -> None:
    """Restart the server of `url` (a `postgres_server`'s) as an operator would, `pg_ctl restart -m fast`: its
    connections are cut; it answers on the same port again when this returns."""
    _RESTARTS[url]()


@contextmanager
def postgres_server() -> Iterator[str]:
    """A throw-away PostgreSQL cluster on 127.0.0.1:<free port> with login role and database `crmflow`
    (password `crmflow`); yields its SQLAlchemy URL, then stops the server and deletes the cluster."""
    bin_dir = pg_bin_dir()
    prefix = _as_server_user()
    # Not under pytest's tmp_path: that folder is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="crmflow-test-pg-"))
    try:
        (root / "pwfile").write_text("postgres\n")
        if prefix:
            for path in (root, root / "pwfile"):
                shutil.chown(path, user=PG_SYSTEM_USER)
        initdb = [*prefix, str(bin_dir / "initdb"), "-D", str(root / "data"), "-U", "postgres", "-E", "UTF8"]
        initdb += [f"--pwfile={root}/pwfile", "--auth-local=trust", "--auth-host=scram-sha-256", "--locale=C", "-N"]
        _run(initdb, "initdb", root)
        port = _pg_start(bin_dir, prefix, root)
        url = f"postgresql+psycopg://{PG_USER}:{PG_USER}@127.0.0.1:{port}/{PG_USER}"
        try:
            role = f"CREATE ROLE {PG_USER} LOGIN PASSWORD '{PG_USER}'"
            database = f"CREATE DATABASE {PG_USER} OWNER {PG_USER}"  # not in a transaction: a -c of its own
            psql = [*prefix, str(bin_dir / "psql"), "-h", str(root), "-p", str(port), "-U", "postgres", "-qX"]
            _run([*psql, "-v", "ON_ERROR_STOP=1", "-c", role, "-c", database], "creating role and database", root)
            _RESTARTS[url] = partial(_pg_restart, bin_dir, prefix, root)
            yield url
        finally:
            _RESTARTS.pop(url, None)
            stop = [*prefix, str(bin_dir / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(root / "data")]
            subprocess.run(stop, cwd=root, capture_output=True, timeout=START_TIMEOUT, check=False)
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --- MLflow tracking server ------------------------------------------------------------------------


def _wait_for_health(process: subprocess.Popen, url: str, log: Path) -> None:
    """Poll GET url/health until it answers OK; the server exiting or the timeout is ServiceUnavailable."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None or "already in use" in _tail(log).lower():
            raise ServiceUnavailable(f"mlflow server did not start (exit code {process.poll()}): {_tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise ServiceUnavailable(f"mlflow server at {url} gave no /health in {START_TIMEOUT:.0f} s: {_tail(log)}")


def _stop_group(process: subprocess.Popen) -> None:
    """Terminate a process and its children (their own process group), killing them if they linger."""
    for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue


def _mlflow_start(root: Path) -> tuple[subprocess.Popen, str]:
    """Launch `mlflow server` (its own process group) on a free loopback port, another one if it was taken,
    and wait for /health; the process and its URL."""
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    for attempt in range(1, PORT_ATTEMPTS + 1):
        port, log = free_port(), root / f"server-{attempt}.log"
        command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)]
        command += ["--workers", "1", "--backend-store-uri", f"sqlite:///{root}/mlflow.db"]
        command += ["--serve-artifacts", "--artifacts-destination", str(root / "artifacts")]
        with log.open("w") as out:
            try:
                process = subprocess.Popen(
                    command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
            except OSError as error:
                raise ServiceUnavailable(f"cannot run mlflow server: {error}") from error
        try:
            _wait_for_health(process, f"http://127.0.0.1:{port}", log)
            return process, f"http://127.0.0.1:{port}"
        except ServiceUnavailable as error:
            _stop_group(process)
            if attempt == PORT_ATTEMPTS or not _port_taken(error):
                raise
    raise AssertionError("unreachable")


@contextmanager
def mlflow_server() -> Iterator[str]:
    """`mlflow server` on 127.0.0.1:<free port> with a SQLite backend and proxied artifacts, both in a temp
    folder; yields its http URL once /health answers, then stops the server's process group."""
    with tempfile.TemporaryDirectory(prefix="crmflow-test-mlflow-") as folder:
        process, url = _mlflow_start(Path(folder))
        try:
            yield url
        finally:
            _stop_group(process)


# --- Credentials: a password-protected PostgreSQL role; every byte an MLflow server stores --------------


PG_SUPERUSER = ("postgres", "postgres")  # initdb's superuser and its --pwfile password, as postgres_server sets them


def add_postgres_role(url: str, role: str, password: str) -> str:
    """On the server of `url` (a `postgres_server`'s), a login role `role` with `password` and a database of
    its own, named like it; its SQLAlchemy URL without the password (libpq reads PGPASSWORD or a .pgpass file)."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    server = make_url(url)
    user, secret = PG_SUPERUSER
    with psycopg.connect(
        host=server.host, port=server.port, user=user, password=secret, dbname="postgres", autocommit=True
    ) as connection:
        connection.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
        )
        connection.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(role), sql.Identifier(role)))
    return f"postgresql+psycopg://{role}@{server.host}:{server.port}/{role}"


@contextmanager
def mlflow_server_store() -> Iterator[tuple[str, Path]]:
    """Like `mlflow_server`, but yields the folder of its store too (`mlflow.db` and `artifacts/`), so a test can
    read every byte the server keeps."""
    with tempfile.TemporaryDirectory(prefix="crmflow-test-mlflow-") as folder:
        process, url = _mlflow_start(Path(folder))
        try:
            yield url, Path(folder)
        finally:
            _stop_group(process)


# --- mlflow ui over an existing store ---------------------------------------------------------------


@contextmanager
def mlflow_ui(backend_store_uri: str, artifact_root: str) -> Iterator[str]:
    """`mlflow ui` on 127.0.0.1:<free port> over an existing store (e.g. a run's SQLite file) and its artifact
    root; yields its http URL once /health answers, then stops the server's process group."""
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    with tempfile.TemporaryDirectory(prefix="crmflow-test-mlflow-ui-") as folder:
        root = Path(folder)
        for attempt in range(1, PORT_ATTEMPTS + 1):
            port, log = free_port(), root / f"ui-{attempt}.log"
            command = [sys.executable, "-m", "mlflow", "ui", "--host", "127.0.0.1", "--port", str(port)]
            command += ["--workers", "1", "--backend-store-uri", backend_store_uri]
            command += ["--default-artifact-root", artifact_root]
            with log.open("w") as out:
                try:
                    process = subprocess.Popen(
                        command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                    )
                except OSError as error:
                    raise ServiceUnavailable(f"cannot run mlflow ui: {error}") from error
            try:
                try:
                    _wait_for_health(process, f"http://127.0.0.1:{port}", log)
                except ServiceUnavailable as error:
                    if attempt == PORT_ATTEMPTS or not _port_taken(error):
                        raise
                    continue
                yield f"http://127.0.0.1:{port}"
                return
            finally:
                _stop_group(process)
