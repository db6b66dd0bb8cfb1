"""Resolve `_target_` from an allow-list and build components from their config nodes.

A component node holds `_target_`, constructor parameters, an optional `search_space` and
optional stage `settings`; only the parameters reach the constructor.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from crmflow.config.search_space import SearchSpace, parse_search_space
from crmflow.errors import ConfigError, did_you_mean

ALLOWED_PREFIXES = ("crmflow.", "sklearn.", "mlxtend.", "statsmodels.", "optuna.samplers.", "optuna.pruners.")
RESERVED_KEYS = ("_target_", "search_space", "settings")


def resolve_target(target: str, key: str) -> Callable[..., Any]:
    """Import the class or function named by `_target_`, refusing modules off the allow-list."""
    if not isinstance(target, str) or not target.startswith(ALLOWED_PREFIXES):
        raise ConfigError(
            f"{key}._target_: '{target}' is not allowed; targets must start with one of {', '.join(ALLOWED_PREFIXES)}"
        )
    module_name, _, attribute = target.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{key}._target_: cannot import module '{module_name}' ({exc})") from exc
    if not hasattr(module, attribute):
        public = [name for name in dir(module) if not name.startswith("_")]
        raise ConfigError(
            f"{key}._target_: module '{module_name}' has no '{attribute}'{did_you_mean(attribute, public)}"
        )
    return getattr(module, attribute)


def accepted_parameters(factory: Callable[..., Any]) -> set[str] | None:
    """Names the constructor accepts, or None when it takes **kwargs (anything goes)."""
    signature = inspect.signature(factory)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()):
        return None
    return {name for name in signature.parameters if name != "self"}


def check_parameters(names: set[str], factory: Callable[..., Any], key: str, what: str) -> None:
    """Raise a ConfigError naming the first name the factory does not accept."""
    accepted = accepted_parameters(factory)
    if accepted is None:
        return
    for name in sorted(names - accepted):
        raise ConfigError(
            f"{key}: unknown {what} '{name}' for {factory.__name__}{did_you_mean(name, accepted)} "
            f"(valid: {', '.join(sorted(accepted))})"
        )


@dataclass
class ComponentSpec:
    """A validated component: its factory, fixed parameters, search space and stage settings."""

    key: str
    target: str
    factory: Callable[..., Any]
    params: dict[str, Any]
    search_space: SearchSpace
    settings: Any = None

    @property
    def short_name(self) -> str:
        return self.target.rpartition(".")[2]

    def build(self, overrides: Mapping[str, Any] | None = None) -> Any:
        """A fresh instance with the fixed parameters, overridden by e.g. a trial's draws."""
        return self.factory(**{**self.params, **dict(overrides or {})})


def build_node(node: Mapping[str, Any], key: str) -> Any:
    """Instantiate a plain `_target_` node (no search space or settings), e.g. a pipeline step."""
    if "_target_" not in node:
        raise ConfigError(f"{key}: expected a '_target_' naming a class; got keys {sorted(node)}")
    factory = resolve_target(node["_target_"], key)
    params = {k: v for k, v in node.items() if k != "_target_"}
    check_parameters(set(params), factory, key, "parameter")
    return factory(**params)


def parse_settings(node: Mapping[str, Any] | None, settings_type: type | None, key: str) -> Any:
    """Build a stage's settings dataclass, naming unknown and missing keys."""
    given = dict(node or {})
    if settings_type is None:
        if given:
            raise ConfigError(f"{key}: this stage takes no settings; got {sorted(given)}")
        return None
    names = [f.name for f in dataclasses.fields(settings_type)]
    for name in sorted(set(given) - set(names)):
        raise ConfigError(f"{key}: unknown setting '{name}'{did_you_mean(name, names)} (valid: {', '.join(names)})")
    for name in names:
        if name not in given:
            raise ConfigError(f"{key}: missing setting '{name}' (expected keys: {', '.join(names)})")
    return settings_type(**given)


def parse_component(node: Mapping[str, Any], key: str, settings_type: type | None = None) -> ComponentSpec:
    """Validate a stage's component node: target, parameters, search space and settings."""
    if node.get("_target_") is None:
        raise ConfigError(f"{key}: expected a '_target_' naming the component class")
    factory = resolve_target(node["_target_"], key)
    params = {k: v for k, v in node.items() if k not in RESERVED_KEYS}
    check_parameters(set(params), factory, key, "parameter")
    space = parse_search_space(node.get("search_space") or {}, f"{key}.search_space")
    check_parameters(set(space.names), factory, f"{key}.search_space", "parameter")
    settings = parse_settings(node.get("settings"), settings_type, f"{key}.settings")
    return ComponentSpec(key, node["_target_"], factory, params, space, settings)
