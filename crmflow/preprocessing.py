"""Build the preprocessing pipeline from its declared step lists (`preprocessing=`).

```yaml
columns:                     # named column groups, each with a selector and ordered steps
  numeric:
    select: numeric          # numeric | categorical | [column, names]
    steps:
      - {_target_: sklearn.impute.SimpleImputer, strategy: median}
      - {_target_: sklearn.preprocessing.StandardScaler}
final: []                    # steps on the whole matrix afterwards, e.g. PCA
```
The result is one unfitted scikit-learn Pipeline, so it is fitted inside each CV fold.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from crmflow.config.components import build_node
from crmflow.errors import ConfigError, DataError, did_you_mean


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


def _selector(select: Any, key: str) -> Callable[[pd.DataFrame], list[str]] | list[str]:
    if isinstance(select, str):
        if select not in SELECTORS:
            raise ConfigError(
                f"{key}: unknown column selector '{select}'{did_you_mean(select, SELECTORS)} "
                f"(valid: {', '.join(SELECTORS)} or a list of column names)"
            )
        return SELECTORS[select]
    if isinstance(select, Sequence) and all(isinstance(c, str) for c in select):
        return list(select)
    raise ConfigError(f"{key}: expected a selector name or a list of column names; got {select!r}")


def _steps(nodes: Sequence[Mapping[str, Any]], key: str) -> list[tuple[str, Any]]:
    steps = []
    for position, node in enumerate(nodes):
        estimator = build_node(node, f"{key}[{position}]")
        steps.append((f"{position}_{type(estimator).__name__.lower()}", estimator))
    return steps


def build_preprocessor(node: Mapping[str, Any], key: str = "preprocessing") -> Pipeline:
    """An unfitted Pipeline (pandas output) from a preprocessing config node."""
    for name in sorted(set(node) - {"columns", "final"}):
        raise ConfigError(f"{key}: unknown key '{name}'{did_you_mean(name, ['columns', 'final'])}")
    groups = node.get("columns") or {}
    transformers = []
    for name, group in groups.items():
        where = f"{key}.columns.{name}"
        for extra in sorted(set(group) - {"select", "steps"}):
            raise ConfigError(f"{where}: unknown key '{extra}'{did_you_mean(extra, ['select', 'steps'])}")
        steps = _steps(group.get("steps") or [], f"{where}.steps")
        transformer = Pipeline(steps) if steps else "passthrough"
        transformers.append((str(name), transformer, _selector(group.get("select", "numeric"), f"{where}.select")))
    head: list[tuple[str, Any]] = []
    if transformers:
        head = [("columns", ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False))]
    steps = head + _steps(node.get("final") or [], f"{key}.final")
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
