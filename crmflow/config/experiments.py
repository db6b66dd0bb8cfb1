"""Make `experiments/NAME.yaml` recipes selectable as `+experiment=NAME`."""

from __future__ import annotations

from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from crmflow.paths import experiments_dir


def experiment_files(folder: Path | None = None) -> list[Path]:
    """The recipe files, sorted by name."""
    return sorted((folder or experiments_dir()).glob("*.yaml"))


def register_experiments(folder: Path | None = None) -> list[str]:
    """Store every recipe in Hydra's config store under group `experiment`, package `_global_`.

    Called explicitly by the CLI and by tests, never on import.
    """
    store = ConfigStore.instance()
    names = []
    for path in experiment_files(folder):
        store.store(group="experiment", name=path.stem, node=OmegaConf.load(path), package="_global_")
        names.append(path.stem)
    return names
