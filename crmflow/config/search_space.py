"""Search spaces declared next to the parameters they tune, drawn by an Optuna trial.

```yaml
search_space:
  n_clusters: {type: int, low: 2, high: 12}
  tol: {type: float, low: 1.0e-5, high: 1.0e-2, log: true}
  covariance_type: {type: categorical, choices: [full, diag]}
  estimator__C: {type: float, low: 1.0e-2, high: 100.0, log: true}   # C of the nested `estimator` node
```
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from crmflow.errors import ConfigError, did_you_mean


class TrialLike(Protocol):
    """The part of `optuna.Trial` a search space needs."""

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int: ...
    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float: ...
    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


_KEYS = {
    "int": {"type", "low", "high", "step", "log"},
    "float": {"type", "low", "high", "step", "log"},
    "categorical": {"type", "choices"},
}


@dataclass(frozen=True)
class Dimension:
    """One tunable parameter."""

    name: str
    type: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: TrialLike) -> Any:
        """Draw a value from the trial."""
        name = self.name
        if self.type == "categorical":
            return trial.suggest_categorical(name, list(self.choices))
        if self.type == "int":
            return trial.suggest_int(name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(name, float(self.low), float(self.high), step=self.step, log=self.log)

    def edges(self) -> tuple[Any, ...]:
        """The values a trial may draw that bound this dimension: every choice, or the range's ends."""
        if self.type == "categorical":
            return self.choices
        cast = int if self.type == "int" else float
        return (cast(self.low), cast(self.high))

    def contains(self, value: Any) -> bool:
        """Whether `value` is one this dimension can draw (a choice, or in range and on the step grid)."""
        if self.type == "categorical":
            return any(value == choice and type(value) is type(choice) for choice in self.choices)
        if isinstance(value, bool) or not isinstance(value, int if self.type == "int" else (int, float)):
            return False
        if not self.low <= value <= self.high:
            return False
        return self.step is None or math.isclose(((value - self.low) / self.step) % 1, 0, abs_tol=1e-9)


@dataclass(frozen=True)
class SearchSpace:
    """The tunable dimensions of one component."""

    dimensions: tuple[Dimension, ...] = ()

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dimensions]

    def __bool__(self) -> bool:
        return bool(self.dimensions)

    def suggest(self, trial: TrialLike) -> dict[str, Any]:
        return {d.name: d.suggest(trial) for d in self.dimensions}

    def configured_point(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The configured values of the tuned parameters that lie inside their ranges (a study's first trial).

        Nested names (`estimator__C`) are looked up in the nested `_target_` nodes of `params`.
        """
        point = {}
        for dimension in self.dimensions:
            value = configured_value(params, dimension.name)
            if value is not MISSING and dimension.contains(value):
                point[dimension.name] = value
        return point


MISSING = object()  # what configured_value returns for a parameter the config does not set


def _child(node: Any, name: str) -> Any:
    """A parameter of a config node, or the node named `name` in one of its `[name, node, ...]` lists
    (a Pipeline's steps, a VotingClassifier's estimators), as scikit-learn's `get_params(deep=True)` names them."""
    if not isinstance(node, Mapping):
        return MISSING
    if name in node:
        return node[name]
    for value in node.values():
        for item in value if isinstance(value, Sequence) and not isinstance(value, str) else ():
            if isinstance(item, Sequence) and not isinstance(item, str) and len(item) >= 2 and item[0] == name:
                return item[1]
    return MISSING


def configured_value(params: Mapping[str, Any], name: str) -> Any:
    """The value `params` configures for `name` (`estimator__C` walks into the `estimator` node), or `MISSING`."""
    if name in params:
        return params[name]
    value: Any = params
    for part in name.split("__"):
        value = _child(value, part)
        if value is MISSING:
            break
    return value


def _parse_dimension(name: str, entry: Any, key: str) -> Dimension:
    where = f"{key}.{name}"
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: expected a mapping like {{type: int, low: 2, high: 10}}; got {entry!r}")
    kind = entry.get("type")
    if kind not in _KEYS:
        raise ConfigError(
            f"{where}.type: expected one of {', '.join(_KEYS)}; got {kind!r}{did_you_mean(str(kind), _KEYS)}"
        )
    for extra in sorted(set(entry) - _KEYS[kind]):
        raise ConfigError(f"{where}: unknown key '{extra}' for type {kind}{did_you_mean(extra, _KEYS[kind])}")
    if kind == "categorical":
        choices = entry.get("choices")
        if not isinstance(choices, (list, tuple)) or not choices:
            raise ConfigError(f"{where}.choices: expected a non-empty list; got {choices!r}")
        return Dimension(name, kind, choices=tuple(choices))
    return _parse_range(name, kind, entry, where)


def _parse_range(name: str, kind: str, entry: Mapping[str, Any], where: str) -> Dimension:
    number = int if kind == "int" else (int, float)
    for bound in ("low", "high"):
        value = entry.get(bound)
        if isinstance(value, bool) or not isinstance(value, number):
            raise ConfigError(f"{where}.{bound}: expected {'an int' if kind == 'int' else 'a number'}; got {value!r}")
    low, high, step, log = entry["low"], entry["high"], entry.get("step"), bool(entry.get("log", False))
    if low > high:
        raise ConfigError(f"{where}: low must be <= high; got low={low}, high={high}")
    if log and low <= 0:
        raise ConfigError(f"{where}: a log range needs low > 0; got low={low}")
    if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0):
        raise ConfigError(f"{where}.step: expected a positive number; got {step!r}")
    if step is not None and log:
        raise ConfigError(f"{where}: step and log cannot be combined")
    return Dimension(name, kind, low=low, high=high, step=step, log=log)


def parse_search_space(node: Mapping[str, Any], key: str) -> SearchSpace:
    """Validate a `search_space` mapping; every malformed entry is a ConfigError naming its key."""
    if not isinstance(node, Mapping):
        raise ConfigError(f"{key}: expected a mapping of parameter name to range; got {node!r}")
    return SearchSpace(tuple(_parse_dimension(str(name), entry, key) for name, entry in node.items()))
