"""One validation vocabulary for everything a user types: component parameters, stage settings, tuning keys.

Modelled on scikit-learn's `_parameter_constraints`: a declaration maps each name to a list of
constraints (the kinds in `crmflow.config.constraints`, re-exported here) and a value is valid when any
one of them accepts it. A list may also hold small callables `f(values) -> constraint` for cross-field
rules (e.g. `max_len >= min_len`), which are checked after every plain rule has passed. Every failure
is one `ConfigError` of one shape:

    segmentation.settings.stability_resamples: must be an int in the range [0, inf); got 'abc'

and a component parameter reads like scikit-learn's own messages, prefixed with its config key:

    rules.min_len: The 'min_len' parameter of AssociationRules must be an int in the range [1, inf). Got 0 instead.

Light on purpose: no scikit-learn, MLflow or Optuna import at module level.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

from crmflow.config.constraints import (
    Constraint,
    NoneConstraint,
    as_constraint,
)
from crmflow.errors import ConfigError, did_you_mean

__all__ = ["invalid", "parse_settings", "validate", "validate_parameters"]


def _is_dependent(declared: Any) -> bool:
    """A cross-field rule: a callable that is neither a type nor a Constraint."""
    return callable(declared) and not isinstance(declared, (type, Constraint))


def _resolve(declared: Iterable[Any], values: Mapping[str, Any]) -> list[Constraint]:
    resolved: list[Constraint] = []
    for entry in declared:
        made = entry(values) if _is_dependent(entry) else entry
        resolved.extend(as_constraint(c) for c in (made if isinstance(made, (list, tuple)) else [made]))
    return resolved


def _rule(constraints: list[Constraint]) -> str:
    """The rules joined the way scikit-learn joins them: "a, b or None" (None last)."""
    texts = [str(c) for c in constraints if not isinstance(c, NoneConstraint)]
    texts += ["None"] * any(isinstance(c, NoneConstraint) for c in constraints)
    return texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " or " + texts[-1]


def invalid(key: str, rule: str, value: Any, fix: str = "", owner: str | None = None, name: str = "") -> ConfigError:
    """The one message shape: the full config key, the rule broken, the value received, a fix.

    With `owner` (the component class, or function, that takes parameter `name`) the message reads like
    scikit-learn's parameter errors; an empty `key` (a call argument, not a config key) is then left out.
    """
    if owner is not None:
        name = name or key.rpartition(".")[2]
        head = f"{key}: " if key else ""
        return ConfigError(f"{head}The '{name}' parameter of {owner} must be {rule}. Got {value!r} instead{fix or '.'}")
    return ConfigError(f"{key}: must be {rule}; got {value!r}{fix}")


def validate(
    values: Mapping[str, Any], constraints: Mapping[str, list[Any]], key: str, owner: str | None = None
) -> None:
    """ConfigError naming `key.<name>` for the first value no constraint of its list accepts.

    Names with plain rules are checked first, in declaration order, then the cross-field rules, which
    may therefore read the other values as valid. `owner` names the component class (or, with an empty
    `key`, the function) whose parameters these are.
    """
    plain = [name for name, declared in constraints.items() if not any(map(_is_dependent, declared))]
    for name in [*plain, *(name for name in constraints if name not in plain)]:
        value = values[name]
        resolved = _resolve(constraints[name], values)
        if not any(c.accepts(value) for c in resolved):
            fix = next((f for f in (c.fix(value) for c in resolved) if f), "")
            full_key = f"{key}.{name}" if key else ("" if owner else name)
            raise invalid(full_key, _rule(resolved), value, fix, owner, name)


def parse_settings(node: Mapping[str, Any] | None, settings_type: type | None, key: str) -> Any:
    """Build a stage's settings dataclass, naming unknown and missing keys, then checking its `constraints`."""
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
    validate(given, getattr(settings_type, "constraints", {}), key)
    return settings_type(**given)


def _declaring_class(cls: type) -> type | None:
    return next((c for c in cls.__mro__ if "_parameter_constraints" in vars(c)), None)


def validate_parameters(estimator: Any, key: str) -> None:
    """Check a built component's parameters; ConfigError naming `key.<parameter>` for the first bad one.

    crmflow's classes declare `_parameter_constraints` in this vocabulary; scikit-learn estimators are
    checked by their own `_validate_params()`, whose InvalidParameterError becomes a ConfigError with
    the config key in front. An estimator given as a parameter (e.g. CalibratedClassifierCV's
    `estimator`) is checked too, under `key.<parameter>`. An empty `key` (a component checking itself
    in `fit`, not knowing where it is configured) leaves the key out. Objects that declare nothing pass.
    """
    declaring = _declaring_class(type(estimator))
    if declaring is not None and declaring.__module__.split(".")[0] == "crmflow":
        constraints = type(estimator)._parameter_constraints
        values = {name: getattr(estimator, name) for name in constraints}
        validate(values, constraints, key, owner=type(estimator).__name__)
    elif declaring is not None and hasattr(estimator, "_validate_params"):
        _validate_foreign(estimator, key)
    params = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
    for name, value in params.items():
        if hasattr(value, "get_params") and not isinstance(value, type):
            validate_parameters(value, f"{key}.{name}" if key else name)


def _validate_foreign(estimator: Any, key: str) -> None:
    """scikit-learn's own check, its InvalidParameterError (a ValueError) turned into a ConfigError."""
    try:
        estimator._validate_params()
    except ValueError as exc:
        if "InvalidParameterError" not in {c.__name__ for c in type(exc).__mro__}:
            raise
        message = str(exc)
        named = re.match(r"The '([^']+)' parameter of ", message)
        full_key = f"{key}.{named.group(1)}" if key and named else key
        raise ConfigError(f"{full_key}: {message}" if full_key else message) from exc
