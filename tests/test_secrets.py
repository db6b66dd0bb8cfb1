"""A password planted in a run's URIs, data paths or secret-named keys reaches no byte of its MLflow store, its
Optuna storage or Hydra's output folders, and no line it prints; credentials from the environment
(MLFLOW_TRACKING_USERNAME/PASSWORD, PGPASSWORD, a .pgpass file) work and are not logged either."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from login_proxy import login_proxy
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf
from psycopg import sql
from services import ServiceUnavailable, add_postgres_role, mlflow_server_store
from sqlalchemy.engine import make_url

from crmflow import cli
from crmflow.hydra_callbacks import FAILURE_FILE, redact_yaml_file
from crmflow.redact import redact_logging
from crmflow.tracking import datasets, flatten

REQUIRE_SERVICES = os.environ.get("CRMFLOW_REQUIRE_SERVICES") == "1"
CREDENTIAL_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "PGPASSWORD")
TINY_RUN = ["tuning.n_trials=2", "rules=none", "predictor=none", "data.n_customers=300", "data.days=400"]


def planted() -> str:
    """A password no run could write by chance (letters and digits: the same in a URL, quoted or not)."""
    return f"Planted{uuid.uuid4().hex}"


def crmflow(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m crmflow ARGS` in cwd (created), Hydra's folders under it; no credentials from this process's
    environment, only those in `env`."""
    cwd.mkdir(parents=True, exist_ok=True)
    base = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_ENV and k != "PGPASSFILE"}
    command = [
        sys.executable,
        "-m",
        "crmflow",
        *args,
        f"hydra.run.dir={cwd}/outputs",
        f"hydra.sweep.dir={cwd}/multirun",
    ]
    return subprocess.run(
        command, cwd=cwd, env={**base, **(env or {})}, capture_output=True, text=True, timeout=600, check=False
    )


def leaks(secrets: list[str], folders: list[Path], *results: subprocess.CompletedProcess) -> list[str]:
    """Every file under `folders` (raw bytes: SQLite pages, artifacts, YAML, logs) and every output stream that
    holds one of `secrets`."""
    found = []
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            data = path.read_bytes()
            found += [f"{path} holds {secret}" for secret in secrets if secret.encode() in data]
    for number, result in enumerate(results):
        for stream in ("stdout", "stderr"):
            text = getattr(result, stream)
            found += [f"run {number} {stream} holds {secret}" for secret in secrets if secret in text]
    return found


def database_text(url: str, password: str) -> str:
    """Every row of every table of the PostgreSQL database of `url` (Optuna's studies, trials, attributes)."""
    place = make_url(url)
    with psycopg.connect(
        host=place.host, port=place.port, user=place.username, password=password, dbname=place.database
    ) as connection:
        tables = [row[0] for row in connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        assert "trials" in tables, tables
        select = sql.SQL("SELECT * FROM {}")
        return "\n".join(str(row) for t in tables for row in connection.execute(select.format(sql.Identifier(t))))


def _service(service: AbstractContextManager) -> Iterator:
    try:
        with service as value:
            yield value
            return
    except ServiceUnavailable as error:
        reason = str(error)
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (CRMFLOW_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def mlflow_store() -> Iterator[tuple[str, Path]]:
    """A real `mlflow server` and the folder holding its database and artifacts."""
    yield from _service(mlflow_server_store())


@pytest.fixture(scope="module")
def login() -> tuple[str, str]:
    return "crmflow", planted()


@pytest.fixture(scope="module")
def guarded_server(mlflow_store: tuple[str, Path], login: tuple[str, str]) -> Iterator[str]:
    """The server behind a basic-auth login (tests/login_proxy.py says why not MLflow's own auth app)."""
    with login_proxy(mlflow_store[0], *login) as url:
        yield url


@pytest.fixture
def pg_role(postgres_url: str) -> tuple[str, str]:
    """A fresh role with a planted password and its own database: its URL without the password, the password."""
    password = planted()
    return add_postgres_role(postgres_url, f"secrets_{uuid.uuid4().hex[:10]}", password), password


# --- the pieces ------------------------------------------------------------------------------------


def test_hydra_files_are_rewritten_without_secrets(tmp_path: Path) -> None:
    secret = planted()
    overrides = [f"tracking.uri=http://u:{secret}@h", f"+data.token={secret}", "seed=1,2"]
    (tmp_path / "overrides.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(overrides)))
    hydra = {"overrides": {"task": overrides}, "job": {"override_dirname": ",".join(overrides)}, "run": "${now:%H}"}
    (tmp_path / "hydra.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create({"hydra": hydra})))
    config = {"tracking": {"uri": f"s3://k:{secret}@b/x"}, "db": {"password": secret}, "name": "${seed}"}
    (tmp_path / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(config)))
    assert all(redact_yaml_file(tmp_path / name) for name in ("overrides.yaml", "hydra.yaml", "config.yaml"))
    assert not redact_yaml_file(tmp_path / "config.yaml")  # nothing left to hide: not rewritten
    assert leaks([secret], [tmp_path]) == []
    assert OmegaConf.load(tmp_path / "overrides.yaml")[1] == "+data.token=***"
    hydra_file = OmegaConf.to_container(OmegaConf.load(tmp_path / "hydra.yaml"), resolve=False)
    assert hydra_file["hydra"]["run"] == "${now:%H}"  # interpolations stay as written


def test_every_log_record_is_redacted_as_it_is_made() -> None:
    secret, out = planted(), io.StringIO()
    logger, handler = logging.getLogger("crmflow.tests.secrets"), logging.StreamHandler(out)
    logger.addHandler(handler)
    make = logging.getLogRecordFactory()  # an earlier test in this process (a CLI run) may have installed it
    try:
        logging.setLogRecordFactory(logging.LogRecord)
        redact_logging()
        installed = logging.getLogRecordFactory()
        redact_logging()  # once: not a factory wrapping a factory
        assert installed is not logging.LogRecord and logging.getLogRecordFactory() is installed
        logger.warning("storage %s, %s", f"postgresql://u:{secret}@h/db", {"token": secret})
        try:
            raise ValueError(f"cannot open s3://key:{secret}@bucket/t.csv")
        except ValueError:
            logger.exception("load failed")
    finally:
        logger.removeHandler(handler)
        logging.setLogRecordFactory(make)
    assert secret not in out.getvalue()
    assert "postgresql://u:***@h/db" in out.getvalue() and "Traceback" in out.getvalue()


def test_the_verbose_traceback_hides_passwords(capsys: pytest.CaptureFixture[str]) -> None:
    secret = planted()
    try:
        raise RuntimeError(f"tracking.uri: http://alice:{secret}@host refused")
    except RuntimeError:
        cli._redacted_traceback(*sys.exc_info())
    err = capsys.readouterr().err
    assert "Traceback" in err and "http://alice:***@host" in err and secret not in err


def test_mlflow_prints_no_run_link_for_a_uri_with_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cli.MLFLOW_LINKS_OFF, "false")
    cli._hide_mlflow_links(OmegaConf.create({"tracking": {"uri": "http://127.0.0.1:5000"}}))
    assert os.environ[cli.MLFLOW_LINKS_OFF] == "false"
    cli._hide_mlflow_links(OmegaConf.create({"tracking": {"uri": "http://alice:pw@127.0.0.1:5000"}}))
    assert os.environ[cli.MLFLOW_LINKS_OFF] == "true"


def test_params_and_dataset_sources_hide_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = planted()
    flat = flatten({"tuning": {"storage": f"postgresql://u:{secret}@h/db"}, "db": {"credentials": {"key": secret}}})
    assert flat == {"tuning.storage": "postgresql://u:***@h/db", "db.credentials": "***"}
    monkeypatch.setattr(datasets.context_registry, "resolve_tags", lambda: {"mlflow.source.name": f"s3://k:{secret}@b"})
    source = json.loads(datasets.dataset_entity(pd.DataFrame({"a": [1, 2]}), "t").source)
    assert source == {"tags": {"mlflow.source.name": "s3://k:***@b"}}


# --- whole runs --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_password_in_a_data_path_or_an_unknown_key_is_in_no_file_and_no_line(tmp_path: Path) -> None:
    """Runs that stop on bad input: the error line, the --verbose traceback, the sweep's failure records and
    Hydra's files hide the password; the store the sweep created holds none."""
    secret = planted()
    store = [f"tracking.uri=sqlite:///{tmp_path}/mlruns/mlflow.db"]
    path = ["data=csv", f"data.transactions.path=s3://AKIAEXAMPLE:{secret}@bucket/t.csv", *store]
    single = crmflow(*path, cwd=tmp_path / "single")
    verbose = crmflow("--verbose", *path, cwd=tmp_path / "verbose")
    sweep = crmflow("--multirun", *path, "seed=1,2", cwd=tmp_path / "sweep")
    token = crmflow(f"+tracking.token={secret}", *store, cwd=tmp_path / "token")
    assert single.returncode == 2 and "AKIAEXAMPLE:***@bucket/t.csv' does not exist" in single.stderr
    assert verbose.returncode != 0 and "Traceback" in verbose.stderr
    assert sweep.returncode == 2 and "crmflow: 2 sweep job(s) failed" in sweep.stderr, sweep.stderr[-2000:]
    assert token.returncode == 2 and "tracking: unknown key 'token'" in token.stderr
    records = sorted((tmp_path / "sweep" / "multirun").rglob(FAILURE_FILE))
    assert len(records) == 2 and all("AKIAEXAMPLE:***@" in r.read_text() for r in records)
    assert "+tracking.token=***" in (tmp_path / "token" / "outputs" / ".hydra" / "overrides.yaml").read_text()
    assert (tmp_path / "mlruns" / "mlflow.db").is_file()
    assert leaks([secret], [tmp_path], single, verbose, sweep, token) == []


@pytest.mark.slow
@pytest.mark.services
def test_passwords_in_the_tracking_and_storage_uris_are_in_no_file_and_no_line(
    guarded_server: str,
    login: tuple[str, str],
    mlflow_store: tuple[str, Path],
    pg_role: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both passwords are used: the server refuses a request without the login, the role needs its password.
    A single run and a 2-job sweep; then every byte of the server's store and of the database, Hydra's folders
    and the output are searched."""
    (user, password), (storage, pg_password) = login, pg_role
    role = storage.split("://", 1)[1].split("@", 1)[0]
    tracking = guarded_server.replace("http://", f"http://{user}:{password}@")
    common = [*TINY_RUN, f"tracking.uri={tracking}", "tracking.experiment=secrets-in-uris"]
    common.append("tuning.storage=" + storage.replace(f"://{role}@", f"://{role}:{pg_password}@"))
    single = crmflow(*common, "tuning.study_name=single", cwd=tmp_path)
    assert single.returncode == 0, single.stderr[-3000:]
    sweep = crmflow("--multirun", *common, "tuning.study_name=sweep_a,sweep_b", cwd=tmp_path)
    assert sweep.returncode == 0, sweep.stderr[-3000:]

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    client = MlflowClient(guarded_server)
    experiment = client.get_experiment_by_name("secrets-in-uris")
    parents = client.search_runs([experiment.experiment_id], "attributes.status = 'FINISHED'")
    parents = [run for run in parents if "mlflow.parentRunId" not in run.data.tags]
    assert len(parents) == 3
    assert {run.data.params["tracking.uri"] for run in parents} == {tracking.replace(f":{password}@", ":***@")}
    assert all(f"{role}:***@" in run.data.params["tuning.storage"] for run in parents)
    assert "***" in (tmp_path / "multirun" / "multirun.yaml").read_text()
    found = leaks([password, pg_password], [tmp_path, mlflow_store[1]], single, sweep)
    assert found == []
    assert pg_password not in database_text(storage, pg_password)


@pytest.mark.slow
@pytest.mark.services
def test_credentials_from_the_environment_work_and_are_not_logged(
    guarded_server: str,
    login: tuple[str, str],
    mlflow_store: tuple[str, Path],
    pg_role: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """tracking=server with MLFLOW_TRACKING_URI/USERNAME/PASSWORD, and a storage URL without its password:
    PGPASSWORD for a single run, a .pgpass file (PGPASSFILE) for a 2-job sweep."""
    (user, password), (storage, pg_password) = login, pg_role
    with pytest.raises(MlflowException):  # the server does ask for the login
        MlflowClient(guarded_server).search_experiments()
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "absent"))
    with pytest.raises(psycopg.OperationalError, match="password"):  # and the role asks for its password
        database_text(storage, "")
    tracking = {"MLFLOW_TRACKING_URI": guarded_server, "MLFLOW_TRACKING_USERNAME": user}
    tracking["MLFLOW_TRACKING_PASSWORD"] = password
    common = [*TINY_RUN, "tracking=server", f"tuning.storage={storage}"]
    single = crmflow(*common, "tuning.study_name=env_single", cwd=tmp_path, env={**tracking, "PGPASSWORD": pg_password})
    assert single.returncode == 0, single.stderr[-3000:]
    host_port, database = storage.split("@", 1)[1].split("/", 1)  # the role is named like its database
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"{host_port}:{database}:{database}:{pg_password}\n")  # host:port:database:user:password
    pgpass.chmod(0o600)
    sweep_env = {**tracking, "PGPASSFILE": str(pgpass)}
    sweep = crmflow("--multirun", *common, "tuning.study_name=env_a,env_b", cwd=tmp_path, env=sweep_env)
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    assert "Tracking server: " + guarded_server in single.stdout
    pgpass.unlink()  # it holds the password on purpose
    found = leaks([password, pg_password], [tmp_path, mlflow_store[1]], single, sweep)
    assert found == []
    assert pg_password not in database_text(storage, pg_password)
