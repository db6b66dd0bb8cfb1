"""Feature importances: the model's own (impurity, signed coefficient) or permutation importance on raw columns."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

from crmflow.prediction.feature_names import readable_names

COEFFICIENT = "coefficient (preprocessed scale)"


def final_estimator(model: Any) -> Any:
    """The fitted estimator at the end of `model` (unwrapping a threshold classifier or a target transform)."""
    pipeline = getattr(model, "estimator_", model)
    last = pipeline[-1] if hasattr(pipeline, "steps") else pipeline
    return getattr(last, "regressor_", last)  # a regressor fitted on a transformed target


def own_importances(estimator: Any) -> pd.DataFrame | None:
    """Impurity importances or signed coefficients on the preprocessed features, when the model has them.

    A coefficient keeps its sign (positive: the feature raises the prediction); the table is ranked by its size."""
    if hasattr(estimator, "feature_importances_"):
        values, kind = np.asarray(estimator.feature_importances_), "impurity importance"
    elif hasattr(estimator, "coef_"):
        values, kind = np.asarray(estimator.coef_).ravel(), COEFFICIENT
    else:
        return None
    names = getattr(estimator, "feature_names_in_", None)
    names = names if names is not None else [f"x{i}" for i in range(len(values))]
    return pd.DataFrame({"feature": list(names), "importance": values, "kind": kind})


def feature_importances(
    model: Any, X: pd.DataFrame, y: pd.Series, scoring: str, repeats: int, seed: int
) -> pd.DataFrame:
    """Importances ranked by size (coefficients by |value|), one-hot columns named `column=value`; permutation
    importance of the raw columns (on X, y) when the model has none."""
    table = own_importances(final_estimator(model))
    if table is None:
        result = permutation_importance(model, X, y, scoring=scoring, n_repeats=repeats, random_state=seed)
        table = pd.DataFrame(
            {
                "feature": list(X.columns),
                "importance": result.importances_mean,
                "std": result.importances_std,
                "kind": f"permutation importance ({scoring} drop)",
            }
        )
    names = readable_names(model)
    table["feature"] = [names.get(str(name), str(name)) for name in table["feature"]]
    size = table["importance"].abs() if (table["kind"] == COEFFICIENT).all() else table["importance"]
    return table.loc[size.sort_values(ascending=False, kind="stable").index].reset_index(drop=True)
