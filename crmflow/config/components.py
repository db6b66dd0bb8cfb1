"""Resolve `_target_` from an allow-list and build components from their config nodes.

A component node holds `_target_`, constructor parameters, an optional `search_space` and
optional stage `settings`; only the parameters reach the constructor. A parameter may itself be a
`_target_` node (or a list or mapping of them), e.g. `estimator: {_target_: sklearn.svm.SVC, C: 1.0}`;
every node is checked before any is built, and a search space reaches nested parameters by
scikit-learn's double-underscore names (`estimator__C`).
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from crmflow.config.search_space import SearchSpace, parse_search_space
from crmflow.config.validation import parse_settings
from crmflow.errors import ConfigError, did_you_mean

ALLOWED_PREFIXES = ("crmflow.", "sklearn.", "mlxtend.", "statsmodels.", "optuna.samplers.", "optuna.pruners.")
ALLOWED_PACKAGES_KEY = "allowed_packages"  # the user's own packages a config may name, besides the above
_USER_PACKAGES: ContextVar[tuple[str, ...]] = ContextVar("crmflow_user_packages", default=())
RESERVED_KEYS = ("_target_", "search_space", "settings")
NESTED = "__"  # scikit-learn's separator between a component and its nested component's parameter


def check_user_packages(packages: Any) -> tuple[str, ...]:
    """`allowed_packages`: a list of importable package names outside Python's standard library."""
    if isinstance(packages, str) or not isinstance(packages, Sequence):
        raise ConfigError(f"{ALLOWED_PACKAGES_KEY}: must be a list of package names; got {packages!r}")
    for name in packages:
        parts = str(name).split(".")
        if not isinstance(name, str) or not all(part.isidentifier() for part in parts):
            raise ConfigError(f"{ALLOWED_PACKAGES_KEY}: must be a list of package names; got {name!r}")
        if parts[0] in sys.stdlib_module_names or parts[0] == "builtins":
            raise ConfigError(f"{ALLOWED_PACKAGES_KEY}: '{name}' is in Python's standard library and cannot be allowed")
    return tuple(packages)


@contextmanager
def user_packages(packages: Sequence[str]) -> Iterator[None]:
    """Let `_target_` name classes of these packages too, for the duration of one run (or plan)."""
    token = _USER_PACKAGES.set(check_user_packages(packages))
    try:
        yield
    finally:
        _USER_PACKAGES.reset(token)


def allowed_prefixes() -> tuple[str, ...]:
    """crmflow's allow-list plus the run's `allowed_packages`."""
    return ALLOWED_PREFIXES + tuple(f"{name}." for name in _USER_PACKAGES.get())


def resolve_target(target: str, key: str, field: str = "._target_") -> type:
    """Import the class named by `_target_`, refusing modules off the allow-list.

    The name must start with an allowed package, and so must the module the object is defined in:
    a function re-exported by an allowed module (e.g. `subprocess.check_output` inside a
    scikit-learn testing module) is refused, and so is anything that is not a class.
    """
    prefixes = allowed_prefixes()
    where = f"{key}{field}"
    if not isinstance(target, str) or not target.startswith(prefixes):
        raise ConfigError(
            f"{where}: '{target}' is not allowed; targets must start with one of {', '.join(prefixes)} "
            f"(add your own package to {ALLOWED_PACKAGES_KEY})"
        )
    found = _import_attribute(target, where)
    defined_in = f"{getattr(found, '__module__', '')}."
    if not inspect.isclass(found) or not defined_in.startswith(prefixes):
        raise ConfigError(
            f"{where}: '{target}' is not allowed; a target must be a class defined in an allowed package "
            f"(it is {'a class from ' + defined_in.rstrip('.') if inspect.isclass(found) else type(found).__name__})"
        )
    return found


def _import_attribute(target: str, where: str) -> Any:
    module_name, _, attribute = target.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{where}: cannot import module '{module_name}' ({exc})") from exc
    if not hasattr(module, attribute):
        public = [name for name in dir(module) if not name.startswith("_")]
        raise ConfigError(f"{where}: module '{module_name}' has no '{attribute}'{did_you_mean(attribute, public)}")
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
        """A fresh instance (nested nodes too) with the fixed parameters, overridden by e.g. a trial's draws.

        Top-level overrides go to the constructor; nested ones (`estimator__C`) are set with
        `set_params` on the fresh instance.
        """
        given = dict(overrides or {})
        nested = {name: value for name, value in given.items() if NESTED in name}
        params = _built_params(self.params, self.key)
        instance = self.factory(**{**params, **{k: v for k, v in given.items() if k not in nested}})
        return instance.set_params(**nested) if nested else instance


def _is_node(value: Any) -> bool:
    return isinstance(value, Mapping) and "_target_" in value


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def check_node(node: Mapping[str, Any], key: str) -> Callable[..., Any]:
    """Resolve a node's `_target_` and check its parameter names, nested nodes included; build nothing."""
    factory = resolve_target(node["_target_"], key)
    params = {k: v for k, v in node.items() if k != "_target_"}
    check_parameters(set(params), factory, key, "parameter")
    for name, value in params.items():
        check_nested(value, f"{key}.{name}")
    return factory


def check_nested(value: Any, key: str) -> None:
    """Check every `_target_` node inside a parameter value: a node, or lists and mappings of them."""
    if _is_node(value):
        check_node(value, key)
    elif isinstance(value, Mapping):
        for name, item in value.items():
            check_nested(item, f"{key}.{name}")
    elif _is_list(value):
        for position, item in enumerate(value):
            check_nested(item, f"{key}[{position}]")


def _built(value: Any, key: str) -> Any:
    """`value` with every (already checked) nested node instantiated afresh; containers are copied."""
    if _is_node(value):
        factory = resolve_target(value["_target_"], key)
        return factory(**_built_params({k: v for k, v in value.items() if k != "_target_"}, key))
    if isinstance(value, Mapping):
        return {name: _built(item, f"{key}.{name}") for name, item in value.items()}
    if _is_list(value):
        items = [_built(item, f"{key}[{position}]") for position, item in enumerate(value)]
        return tuple(items) if isinstance(value, tuple) else items
    return value


def _built_params(params: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {name: _built(value, f"{key}.{name}") for name, value in params.items()}


def build_node(node: Mapping[str, Any], key: str) -> Any:
    """Instantiate a plain `_target_` node (no search space or settings), e.g. a pipeline step."""
    if "_target_" not in node:
        raise ConfigError(f"{key}: expected a '_target_' naming a class; got keys {sorted(node)}")
    check_node(node, key)
    return _built(node, key)


def check_search_space(spec: ComponentSpec) -> None:
    """Every tuned name must be a parameter: top-level ones of the constructor, nested ones (`estimator__C`)
    a key of the built component's `get_params(deep=True)`."""
    where = f"{spec.key}.search_space"
    check_parameters({n for n in spec.search_space.names if NESTED not in n}, spec.factory, where, "parameter")
    nested = [n for n in spec.search_space.names if NESTED in n]
    if not nested:
        return
    instance = spec.build()
    if not callable(getattr(instance, "get_params", None)):
        raise ConfigError(
            f"{where}: '{nested[0]}' names a nested parameter, but {spec.short_name} has no get_params/set_params "
            "(only scikit-learn-style estimators have nested parameters)"
        )
    deep = instance.get_params(deep=True)
    for name in nested:
        if name not in deep:
            raise ConfigError(f"{where}: {_unknown_nested(name, deep, spec)}")


def _unknown_nested(name: str, deep: Mapping[str, Any], spec: ComponentSpec) -> str:
    """Why a nested name is not a parameter: the deepest component on its path and that component's names."""
    parts = name.split(NESTED)
    owner = next((NESTED.join(parts[:i]) for i in range(len(parts) - 1, 0, -1) if NESTED.join(parts[:i]) in deep), None)
    if owner is None:
        top = [k for k in deep if NESTED not in k]
        return (
            f"unknown parameter '{name}' for {spec.short_name}: it has no parameter '{parts[0]}'"
            f"{did_you_mean(parts[0], top)} (valid: {', '.join(sorted(top))})"
        )
    component = deep[owner]
    if component is None or not callable(getattr(component, "get_params", None)):
        return (
            f"unknown parameter '{name}' for {spec.short_name}: its '{owner}' is {component!r}, not a component; "
            f"set {spec.key}.{owner.replace(NESTED, '.')} to a _target_ node to tune its parameters"
        )
    names = [k for k in deep if k.startswith(owner + NESTED) and NESTED not in k[len(owner) + len(NESTED) :]]
    return (
        f"unknown parameter '{name}' for {spec.short_name}.{owner} ({type(component).__name__})"
        f"{did_you_mean(name, names)} (valid: {', '.join(sorted(names))})"
    )


def parse_component(node: Mapping[str, Any], key: str, settings_type: type | None = None) -> ComponentSpec:
    """Validate a stage's component node: target, parameters, search space and settings."""
    if node.get("_target_") is None:
        raise ConfigError(f"{key}: expected a '_target_' naming the component class")
    factory = resolve_target(node["_target_"], key)
    params = {k: v for k, v in node.items() if k not in RESERVED_KEYS}
    check_parameters(set(params), factory, key, "parameter")
    for name, value in params.items():
        check_nested(value, f"{key}.{name}")
    space = parse_search_space(node.get("search_space") or {}, f"{key}.search_space")
    spec = ComponentSpec(key, node["_target_"], factory, params, space)
    check_search_space(spec)
    spec.settings = parse_settings(node.get("settings"), settings_type, f"{key}.settings")
    return spec
