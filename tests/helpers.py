"""Helpers shared by the tests: config composition as the CLI does it, and real data files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from crmflow.config.experiments import register_experiments
from crmflow.paths import config_dir

DATA_DIR = Path(os.environ.get("CRMFLOW_DATA_DIR", "data"))
REQUIRE_DATA = os.environ.get("CRMFLOW_REQUIRE_DATA") == "1"


def compose_config(overrides: list[str] | None = None, config_dirs: list[Path] | None = None) -> DictConfig:
    """Compose conf/config.yaml with overrides, experiments registered, as the CLI does;
    `config_dirs` are a user's config folders, added with `hydra.searchpath=[file://DIR, ...]`."""
    register_experiments()
    extra = [f"hydra.searchpath=[{','.join(f'file://{d}' for d in config_dirs)}]"] if config_dirs else []
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        return compose("config", overrides=[*extra, *(overrides or [])])


def data_file(name: str) -> Path:
    """A real dataset under CRMFLOW_DATA_DIR; skip (or fail when CI requires the data) if absent."""
    path = DATA_DIR / name
    if not path.is_file():
        message = f"real dataset {name} not found under CRMFLOW_DATA_DIR={DATA_DIR}"
        if REQUIRE_DATA:
            pytest.fail(message + " (CRMFLOW_REQUIRE_DATA=1)")
        pytest.skip(message)
    return path


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`python -m crmflow ARGS` in cwd, with Hydra's output folders kept under cwd."""
    return subprocess.run(
        [sys.executable, "-m", "crmflow", *args, f"hydra.run.dir={cwd}/outputs", f"hydra.sweep.dir={cwd}/multirun"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def sweep_parents(folder: Path, args: tuple[str, ...], n_jobs: int) -> tuple[str, list]:
    """Run a multirun into a fresh SQLite store under `folder`; its URI and the sweep's `n_jobs` parent runs."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{folder}/mlruns/mlflow.db"
    result = run_cli(*args, f"tracking.uri={uri}", cwd=folder)
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("synthetic").experiment_id], "tags.crmflow.sweep_id != ''")
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == n_jobs
    return uri, parents


def main_error_line(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """`crmflow ARGS` in this process must exit 2 with one stderr line; that line."""
    from crmflow.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(list(args))
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def assert_one_line_error(result: subprocess.CompletedProcess, expected: str, cwd: Path) -> None:
    """Exit code 2, one stderr line containing `expected`, and no MLflow store created."""
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert not (cwd / "mlruns").exists(), "no run may start on bad input"


# Five baskets of the textbook market-basket example, used by the rule tests.
TOY_BASKETS = [
    {"bread", "milk"},
    {"bread", "diapers", "beer", "eggs"},
    {"milk", "diapers", "beer", "cola"},
    {"bread", "milk", "diapers", "beer"},
    {"bread", "milk", "diapers", "cola"},
]


def artifact_paths(client: Any, run_id: str, path: str = "") -> set[str]:
    """Every artifact path of an MLflow run, folders walked."""
    found = set()
    for entry in client.list_artifacts(run_id, path):
        found |= artifact_paths(client, run_id, entry.path) if entry.is_dir else {entry.path}
    return found
