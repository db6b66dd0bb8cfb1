"""Build the preprocessing pipeline from its declared step lists (`preprocessing=`).

```yaml
columns:                     # named column groups, each with a selector and ordered steps
  skewed:
    select: [monetary, frequency]                           # a list of column names
    steps:
      - {_target_: sklearn.impute.SimpleImputer, strategy: median}
      - {_target_: crmflow.transformers.Log1p}
  numeric:
    select: {dtype: numeric, exclude: [monetary, frequency]} # or just `numeric` / `categorical`
    steps:
      - {_target_: sklearn.impute.SimpleImputer, strategy: median}
      - {_target_: sklearn.preprocessing.StandardScaler}
final: []                    # steps on the whole matrix afterwards, e.g. PCA
```
A selector mapping takes `dtype` (numeric | categorical) and/or `include` (names), minus `exclude`.
Named columns are checked when the pipeline is fitted. The result is one unfitted scikit-learn
Pipeline with pandas output, so it is fitted inside each CV fold and column names flow on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from crmflow.config.components import build_node
from crmflow.config.validation import validate_parameters
from crmflow.errors import ConfigError, DataError, did_you_mean

NODE_KEYS = ("columns", "final")
GROUP_KEYS = ("select", "steps")
SELECTOR_KEYS = ("dtype", "include", "exclude")


def numeric_columns(frame: pd.DataFrame) -> list[str]:
    """Columns holding numbers or booleans."""
    return [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]


def categorical_columns(frame: pd.DataFrame) -> list[str]:
    """Columns holding anything else (strings, categories, objects)."""
    return [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]


SELECTORS: dict[str, Callable[[pd.DataFrame], list[str]]] = {
    "numeric": numeric_columns,
    "categorical": categorical_columns,
}


@dataclass(frozen=True)
class ColumnSelector:
    """A group's columns, chosen at fit time: the columns of type `kind` plus `include`, minus `exclude`.

    Every named column must exist; a missing one is a DataError naming the selector's config `key`.
    """

    key: str
    kind: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def __call__(self, frame: pd.DataFrame) -> list[str]:
        self._check_names(frame)
        chosen = SELECTORS[self.kind](frame) if self.kind is not None else []
        chosen += [c for c in self.include if c not in chosen]
        return [c for c in chosen if c not in self.exclude]

    def _check_names(self, frame: pd.DataFrame) -> None:
        present = [str(c) for c in frame.columns]
        for name in (*self.include, *self.exclude):
            if name not in frame.columns:
                shown = ", ".join(present[:12]) + (", …" if len(present) > 12 else "")
                raise DataError(
                    f"{self.key}: column '{name}' is not in the data{did_you_mean(name, present)} (columns: {shown})"
                )


def _check_keys(node: Mapping[str, Any], allowed: Sequence[str], key: str, what: str) -> None:
    for name in sorted(set(node) - set(allowed), key=str):
        raise ConfigError(f"{key}: unknown {what} '{name}'{did_you_mean(name, allowed)} (valid: {', '.join(allowed)})")


def _dtype(value: Any, key: str) -> str:
    if not isinstance(value, str) or value not in SELECTORS:
        raise ConfigError(
            f"{key}: unknown column selector '{value}'{did_you_mean(str(value), SELECTORS)} "
            f"(valid: {', '.join(SELECTORS)}, a list of column names, or a mapping with "
            f"{', '.join(SELECTOR_KEYS)})"
        )
    return value


def _names(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not all(isinstance(c, str) for c in value):
        raise ConfigError(f"{key}: expected a list of column names; got {value!r}")
    return tuple(value)


def _mapping_selector(select: Mapping[str, Any], key: str) -> ColumnSelector:
    _check_keys(select, SELECTOR_KEYS, key, "selector key")
    if select.get("dtype") is None and not select.get("include"):
        raise ConfigError(f"{key}: a selector mapping needs 'dtype' and/or 'include'; got keys {sorted(select)}")
    dtype = None if select.get("dtype") is None else _dtype(select["dtype"], f"{key}.dtype")
    include = _names(select.get("include") or [], f"{key}.include")
    exclude = _names(select.get("exclude") or [], f"{key}.exclude")
    for name in sorted(set(include) & set(exclude)):
        raise ConfigError(f"{key}: column '{name}' is both in include and in exclude")
    return ColumnSelector(key, dtype, include, exclude)


def _selector(select: Any, key: str) -> ColumnSelector:
    """Parse a group's `select`: a type name, a list of column names, or a mapping."""
    if isinstance(select, str):
        return ColumnSelector(key, kind=_dtype(select, key))
    if isinstance(select, Mapping):
        return _mapping_selector(select, key)
    if isinstance(select, Sequence):
        return ColumnSelector(key, include=_names(select, key))
    raise ConfigError(
        f"{key}: expected a selector name, a list of column names or a mapping "
        f"with {', '.join(SELECTOR_KEYS)}; got {select!r}"
    )


def _steps(nodes: Any, key: str) -> list[tuple[str, Any]]:
    if nodes is None:
        return []
    if isinstance(nodes, (str, Mapping)) or not isinstance(nodes, Iterable):
        raise ConfigError(f"{key}: expected a list of steps, each with a '_target_'; got {nodes!r}")
    steps = []
    for position, node in enumerate(nodes):
        if not isinstance(node, Mapping):
            raise ConfigError(f"{key}[{position}]: expected a step with a '_target_'; got {node!r}")
        estimator = build_node(node, f"{key}[{position}]")
        validate_parameters(estimator, f"{key}[{position}]")
        steps.append((f"{position}_{type(estimator).__name__.lower()}", estimator))
    return steps


def _group(name: str, group: Any, key: str) -> tuple[str, Any, ColumnSelector]:
    """One ColumnTransformer entry: (name, step pipeline or passthrough, selector)."""
    where = f"{key}.columns.{name}"
    if not isinstance(group, Mapping):
        raise ConfigError(f"{where}: expected a mapping with {', '.join(GROUP_KEYS)}; got {group!r}")
    _check_keys(group, GROUP_KEYS, where, "key")
    steps = _steps(group.get("steps"), f"{where}.steps")
    transformer = Pipeline(steps) if steps else "passthrough"
    return str(name), transformer, _selector(group.get("select", "numeric"), f"{where}.select")


def build_preprocessor(node: Mapping[str, Any], key: str = "preprocessing") -> Pipeline:
    """An unfitted Pipeline (pandas output) from a preprocessing config node."""
    _check_keys(node, NODE_KEYS, key, "key")
    groups = node.get("columns") or {}
    if not isinstance(groups, Mapping):
        raise ConfigError(f"{key}.columns: expected a mapping of named column groups; got {groups!r}")
    transformers = [_group(name, group, key) for name, group in groups.items()]
    head: list[tuple[str, Any]] = []
    if transformers:
        head = [("columns", ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False))]
    steps = head + _steps(node.get("final"), f"{key}.final")
    pipeline = Pipeline(steps or [("identity", "passthrough")])
    return pipeline.set_output(transform="pandas")


def require_numeric(matrix: pd.DataFrame, stage: str) -> None:
    """Fail before fitting when preprocessing leaves text columns for a numeric algorithm."""
    non_numeric = [c for c in matrix.columns if not pd.api.types.is_numeric_dtype(matrix[c])]
    if non_numeric:
        raise DataError(
            f"{stage}: non-numeric columns {non_numeric[:5]} reach the algorithm after preprocessing; "
            "choose a preprocessing option that encodes them (e.g. preprocessing=standard)"
        )
