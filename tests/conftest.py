"""Shared fixtures: config composition and a temporary MLflow store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import compose_config
from omegaconf import DictConfig


@pytest.fixture
def compose() -> Callable[..., DictConfig]:
    return compose_config


@pytest.fixture
def tracking_overrides(tmp_path: Path) -> list[str]:
    """Overrides that send a run to a fresh SQLite store under tmp_path."""
    return [f"tracking.uri=sqlite:///{tmp_path}/mlruns/mlflow.db", "tracking.experiment=test"]
