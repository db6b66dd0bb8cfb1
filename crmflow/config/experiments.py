"""Make `experiments/NAME.yaml` recipes selectable as `+experiment=NAME`."""

from __future__ import annotations

from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from crmflow.config import pinning
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


def recipe_keys(name: str, search_dirs: list[Path] = ()) -> set[str]:
    """The dotted keys a recipe sets (recipes it includes in its defaults list too), for pinning.

    Found in the config store (crmflow's recipes) or as `experiment/NAME.yaml` under a user's
    config dir on the search path; an unknown name sets nothing (Hydra has already refused it).
    """
    node = _recipe_node(name, search_dirs)
    if node is None:
        return set()
    keys = pinning.recipe_keys(node)
    for entry in node.get("defaults") or []:
        if isinstance(entry, str) and not entry.startswith(("/", "_self_")):
            keys |= recipe_keys(entry, search_dirs)
    return keys


def _recipe_node(name: str, search_dirs: list[Path]) -> dict | None:
    stored = ConfigStore.instance().repo.get("experiment", {}).get(f"{name}.yaml")
    if stored is not None:
        return OmegaConf.to_container(stored.node)
    for folder in search_dirs:
        path = Path(folder) / "experiment" / f"{name}.yaml"
        if path.is_file():
            return OmegaConf.to_container(OmegaConf.load(path))
    return None
