"""Shared fixtures: config composition, a temporary MLflow store, and real services (PostgreSQL, MLflow server)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

import pytest
from helpers import compose_config
from omegaconf import DictConfig
from services import ServiceUnavailable, mlflow_server, postgres_server

REQUIRE_SERVICES = os.environ.get("CRMFLOW_REQUIRE_SERVICES") == "1"


@pytest.fixture(scope="session", autouse=True)
def feature_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test (and every CLI run a test starts) caches customer tables in one temporary folder."""
    folder = tmp_path_factory.mktemp("feature-cache")
    before = os.environ.get("CRMFLOW_CACHE_DIR")
    os.environ["CRMFLOW_CACHE_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("CRMFLOW_CACHE_DIR", None)
    else:
        os.environ["CRMFLOW_CACHE_DIR"] = before


@pytest.fixture
def compose() -> Callable[..., DictConfig]:
    return compose_config


@pytest.fixture
def tracking_overrides(tmp_path: Path) -> list[str]:
    """Overrides that send a run to a fresh SQLite store under tmp_path."""
    return [f"tracking.uri=sqlite:///{tmp_path}/mlruns/mlflow.db", "tracking.experiment=test"]


def _start(stack: ExitStack, service: AbstractContextManager[str]) -> str:
    """Enter a service's context and return its URL; skip when it cannot start, or fail in CI."""
    try:
        return stack.enter_context(service)
    except ServiceUnavailable as error:
        reason = str(error)
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (CRMFLOW_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def _serve(service: AbstractContextManager[str]) -> Iterator[str]:
    """Yield a started service's URL for the session, and stop the service after it."""
    with ExitStack() as stack:
        yield _start(stack, service)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a real PostgreSQL server on loopback: postgresql+psycopg://crmflow:crmflow@127.0.0.1:N/crmflow."""
    yield from _serve(postgres_server())


@pytest.fixture(scope="session")
def mlflow_server_url() -> Iterator[str]:
    """http://127.0.0.1:N of a real `mlflow server` (SQLite backend, proxied artifacts in a temp folder)."""
    yield from _serve(mlflow_server())
