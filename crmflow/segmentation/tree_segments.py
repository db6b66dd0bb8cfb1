"""Decision-tree segments: the leaves of a shallow tree fitted on a target, each named by its path."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils.validation import check_is_fitted

from crmflow.config.constraints import Interval, Options
from crmflow.config.validation import validate_parameters
from crmflow.errors import DataError

Bounds = dict[str, tuple[float | None, float | None]]
CRITERIA = ("gini", "entropy", "log_loss", "squared_error", "friedman_mse", "absolute_error", "poisson")


def _condition(name: str, low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{low:.4g} < {name} <= {high:.4g}"
    return f"{name} <= {high:.4g}" if high is not None else f"{name} > {low:.4g}"


def _narrow(bounds: Bounds, name: str, low: float | None = None, high: float | None = None) -> Bounds:
    old_low, old_high = bounds.get(name, (None, None))
    low = low if old_low is None else old_low if low is None else max(low, old_low)
    high = high if old_high is None else old_high if high is None else min(high, old_high)
    return {**bounds, name: (low, high)}


def leaf_paths(tree: Any, feature_names: list[str]) -> dict[int, str]:
    """Each leaf's node id -> its path with one range per feature, e.g.
    "recency <= 45.5 and 2.5 < frequency <= 7.5" (features in the order the tree first splits on them)."""
    structure = tree.tree_
    paths: dict[int, str] = {}
    stack: list[tuple[int, Bounds]] = [(0, {})]
    while stack:
        node, bounds = stack.pop()
        left, right = structure.children_left[node], structure.children_right[node]
        if left == right:  # a leaf
            paths[node] = " and ".join(_condition(n, *b) for n, b in bounds.items()) or "all customers"
            continue
        name, threshold = feature_names[structure.feature[node]], float(structure.threshold[node])
        stack.append((right, _narrow(bounds, name, low=threshold)))
        stack.append((left, _narrow(bounds, name, high=threshold)))
    return paths


def is_class_label(y: Any) -> bool:
    """Integer, boolean or text labels, or floats that are all 0/1, are classes; other floats are amounts."""
    values = np.asarray(y)
    return not np.issubdtype(values.dtype, np.floating) or bool(np.isin(values, (0.0, 1.0)).all())


class DecisionTreeSegmenter(ClusterMixin, BaseEstimator):
    """Segments = leaves of a shallow decision tree on the raw numeric features.

    The tree predicts the run's label when `target` is null (a classification tree for a class label
    such as churn, a regression tree for an amount such as spend), else the numeric feature `target`
    (a regression tree; that column is left out of the inputs). Leaves are numbered in
    tree order and `segment_names_` holds each leaf's path, so every segment explains itself.
    """

    raw_features = True
    _parameter_constraints = {
        "target": [None, str],
        "max_depth": [Interval(int, 1, None), None],
        "min_samples_leaf": [Interval(int, 1, None), Interval(float, 0, 1, closed="neither")],
        "criterion": [Options(CRITERIA), None],
        "random_state": [Interval(int, 0, 2**32 - 1), None],
    }

    def __init__(
        self,
        target: str | None = None,
        max_depth: int = 3,
        min_samples_leaf: float = 0.05,
        criterion: str | None = None,
        random_state: int | None = None,
    ) -> None:
        self.target = target
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.criterion = criterion
        self.random_state = random_state

    def _inputs(self, X: pd.DataFrame) -> pd.DataFrame:
        numeric = X.select_dtypes("number")
        return numeric.drop(columns=[self.target]) if self.target else numeric

    def check_features(self, X: pd.DataFrame, y: Any = None) -> None:
        """Parameters first; then the target must exist (a numeric column, or the run's label) and inputs remain."""
        validate_parameters(self, "segmentation")
        if self.target is not None and self.target not in X.select_dtypes("number").columns:
            raise DataError(
                f"segmentation.target: '{self.target}' is not a numeric customer feature; "
                f"numeric features: {list(X.select_dtypes('number').columns)}"
            )
        if self.target is None and y is None:
            raise DataError(
                "segmentation: decision_tree needs a target: the run's label (e.g. features=rfm churn) "
                "or segmentation.target naming a numeric feature"
            )
        if self._inputs(X).shape[1] == 0:
            raise DataError("segmentation: decision_tree needs numeric customer features besides the target")

    def fit(self, X: pd.DataFrame, y: Any = None) -> DecisionTreeSegmenter:
        self.check_features(X, y)
        inputs = self._inputs(X)
        target = np.asarray(y) if self.target is None else X[self.target].to_numpy(dtype="float64")
        if self.target is None and is_class_label(target):
            tree: Any = DecisionTreeClassifier(criterion=self.criterion or "gini", class_weight="balanced")
        else:
            tree = DecisionTreeRegressor(criterion=self.criterion or "squared_error")
            target = target.astype("float64")
        tree.set_params(
            max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf, random_state=self.random_state
        )
        self.tree_ = tree.fit(inputs, target)
        self.feature_names_ = list(inputs.columns)
        paths = leaf_paths(self.tree_, self.feature_names_)
        self.leaf_index_ = {leaf: i for i, leaf in enumerate(sorted(paths))}
        self.segment_names_ = {self.leaf_index_[leaf]: path for leaf, path in paths.items()}
        self.labels_ = self.predict(X)
        return self

    def fit_predict(self, X: pd.DataFrame, y: Any = None, **kwargs: Any) -> np.ndarray:
        return self.fit(X, y).labels_

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "tree_")
        leaves = self.tree_.apply(X[self.feature_names_])
        return np.asarray([self.leaf_index_[leaf] for leaf in leaves])
