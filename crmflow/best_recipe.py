"""`best_params.yaml`: a parent run's tuned winners written as a Hydra recipe that refits them once.

`crmflow --config-dir DIR +experiment=best` with the file as `DIR/experiment/best.yaml` reruns the same group
choices and plain overrides with every tuned stage's best parameters and `tuning=off`. The recipe's keys are
user keys, so its parameters are pinned (crmflow.config.pinning) as they should be.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from crmflow.config.pinning import SEARCH_SPACE, override_keys
from crmflow.redact import redact_config

__all__ = ["best_recipe", "kept_override_keys", "recipe_text"]

HEADER = "# @package _global_\n"
SKIPPED_GROUPS = {"tuning", "tracking", "experiment"}  # the recipe sets tuning off; where to log is the rerun's
SKIPPED_PREFIXES = ("tuning.", "tracking.", "hydra.")


def best_recipe(
    choices: Mapping[str, str],
    kept_keys: Iterable[str],
    config: Mapping[str, Any],
    best: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """The recipe as a mapping: a defaults list overriding the run's group choices (tuning off), the values of
    `kept_keys` (dotted, from the run's composed `config`), then each stage's best parameters (`estimator__C`
    under `predictor.estimator.C`)."""
    defaults: list[Any] = [
        {f"override /{group}": option}
        for group, option in choices.items()
        if group not in SKIPPED_GROUPS and option not in (None, "None")  # "None": an optional group left empty
    ]
    defaults.append({"override /tuning": "off"})
    recipe: dict[str, Any] = {"defaults": defaults}
    for key in sorted(kept_keys):
        if key.startswith(SKIPPED_PREFIXES) or f".{SEARCH_SPACE}" in f".{key}":
            continue
        found, value = _lookup(config, key.split("."))
        if found:
            _put(recipe, key.split("."), value)
    for stage, params in best.items():
        for name, value in params.items():
            _put(recipe, [stage, *name.split("__")], value)
    return recipe


def kept_override_keys(overrides: Iterable[str], recipe_keys: Iterable[str], config: Mapping[str, Any]) -> set[str]:
    """The dotted keys a rerun must set again: `key=value` overrides (not group choices) and a recipe's keys,
    secrets left out (a password, a URL with one): an artifact never holds them, the rerun is given them again."""
    keys = {key for key in override_keys(overrides) | set(recipe_keys) if "." in key or key == "seed"}
    shown = redact_config(config)
    return {key for key in keys if _lookup(shown, key.split(".")) == _lookup(config, key.split("."))}


def recipe_text(recipe: Mapping[str, Any], run_id: str | None = None) -> str:
    """The recipe as YAML, headed by `# @package _global_` and a comment naming the run it comes from."""
    origin = f"# The tuned winners of MLflow run {run_id}, refitted once with tuning off:\n" if run_id else ""
    usage = "# save as DIR/experiment/NAME.yaml, then: crmflow --config-dir DIR +experiment=NAME\n"
    return HEADER + origin + usage + yaml.safe_dump(dict(recipe), sort_keys=False, default_flow_style=False)


def _lookup(config: Mapping[str, Any], path: list[str]) -> tuple[bool, Any]:
    node: Any = config
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _put(tree: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        tree = tree.setdefault(part, {})
    tree[path[-1]] = _plain(value)


def _plain(value: Any) -> Any:
    """numpy scalars (Optuna's ints and floats) as Python ones, so the YAML holds plain numbers."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value
