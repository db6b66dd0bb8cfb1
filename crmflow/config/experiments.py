"""Make `experiments/NAME.yaml` recipes selectable as `+experiment=NAME`."""

from __future__ import annotations

from collections.abc import Sequence
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


STORE = None  # in a search path: where crmflow's recipes (the config store) stand


def recipe_keys(name: str, search_path: Sequence[Path | None] = (STORE,)) -> set[str]:
    """The dotted keys a recipe sets (recipes it includes in its defaults list too), for pinning.

    `search_path` is Hydra's, in its order: a user's `experiment/NAME.yaml` folder (a Path) or
    crmflow's recipes (`STORE`); the first that has the recipe is the one Hydra composed. An
    unknown name sets nothing (Hydra has already refused it).
    """
    node = _recipe_node(name, search_path)
    if node is None:
        return set()
    keys = pinning.recipe_keys(node)
    for entry in node.get("defaults") or []:
        if isinstance(entry, str) and entry != "_self_" and not entry.startswith("/") or _own_group(entry):
            keys |= recipe_keys(entry.removeprefix("/experiment/"), search_path)
    return keys


def _own_group(entry: object) -> bool:
    """A defaults entry naming another recipe by its absolute path, e.g. `/experiment/base`."""
    return isinstance(entry, str) and entry.startswith("/experiment/")


def _recipe_node(name: str, search_path: Sequence[Path | None]) -> dict | None:
    for place in search_path:
        if place is STORE:
            stored = ConfigStore.instance().repo.get("experiment", {}).get(f"{name}.yaml")
            if stored is not None:
                return OmegaConf.to_container(stored.node)
            continue
        path = Path(place) / "experiment" / f"{name}.yaml"
        if path.is_file():
            return OmegaConf.to_container(OmegaConf.load(path))
    return None
