"""Fit a segmenter on a seeded sample of customers and assign every other customer a segment.

`segmentation.settings.fit_sample: N` bounds what one fit costs (crmflow.segmentation.cost): the
stage fits, tunes and refits for stability a `SampledSegmenter`, and hands it on, so the predictor's
segment feature fits the same sample size inside each fold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import check_is_fitted

from crmflow.segmentation.segmenter import segment_names

__all__ = ["ASSIGNMENTS", "SampledSegmenter", "assignment_method", "assignment_metrics", "sample_rows"]

# how customers outside the sample get their segment: the fitted segmenter's own `predict`, or the
# segment of the nearest sampled customer (segmenters without predict: agglomerative, DBSCAN, HDBSCAN)
ASSIGNMENTS = ("predict", "nearest_sample")


def sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted positions of a seeded sample of `size` of `n` rows drawn without replacement (all rows when size >= n)."""
    if size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def assignment_method(segmenter: Any) -> str:
    """'predict' when the (fitted) segmenter has its own predict, else 'nearest_sample'."""
    return ASSIGNMENTS[0] if callable(getattr(segmenter, "predict", None)) else ASSIGNMENTS[1]


class SampledSegmenter(BaseEstimator):
    """Fit `segmenter` on a seeded sample of `fit_sample` rows, then label every row.

    The sampled rows keep the labels of the fit; the others are assigned with the fitted segmenter's
    `predict` when it has one, else the label of their nearest sampled row (1-nearest neighbour in the
    space the segmenter saw). Learned: `assignment_` (one of ASSIGNMENTS), `n_fitted_`, `assigner_`,
    and `segment_names_` when the fitted segmenter names its segments.
    """

    wraps = "segmenter"  # the segmenter helpers ask the wrapped one (crmflow.segmentation.segmenter)

    def __init__(self, segmenter: Any, fit_sample: int, random_state: int = 0) -> None:
        self.segmenter = segmenter
        self.fit_sample = fit_sample
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> SampledSegmenter:
        self.fit_predict(X, y)
        return self

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Labels of every row of X: the fit's for the sample, assigned for the others."""
        n = len(X)
        rows = sample_rows(n, self.fit_sample, self.random_state)
        sample = _safe_indexing(X, rows)
        fitted = clone(self.segmenter)
        fitted_labels = np.asarray(fitted.fit_predict(sample, None if y is None else _safe_indexing(y, rows)))
        self.assignment_ = assignment_method(fitted)
        self.assigner_ = fitted if self.assignment_ == "predict" else KNeighborsClassifier(1).fit(sample, fitted_labels)
        self.n_fitted_ = len(rows)
        names = segment_names(fitted)
        if names:
            self.segment_names_ = names
        rest = np.setdiff1d(np.arange(n), rows, assume_unique=True)
        if not len(rest):
            return fitted_labels
        assigned = np.asarray(self.assigner_.predict(_safe_indexing(X, rest)))
        labels = np.empty(n, dtype=np.result_type(fitted_labels, assigned))
        labels[rows], labels[rest] = fitted_labels, assigned
        return labels

    def predict(self, X: Any) -> np.ndarray:
        """Assign new rows as the rows outside the sample were assigned."""
        check_is_fitted(self, "assigner_")
        return np.asarray(self.assigner_.predict(X))


def assignment_metrics(fitted: Any, n: int) -> dict[str, float]:
    """How a fitted segmentation of `n` customers was made, as metrics: {} for a fit on every customer; for a
    SampledSegmenter `fit_sample` (customers fitted) and `assigned_by_<method>` (share of customers assigned)."""
    if not isinstance(fitted, SampledSegmenter):
        return {}
    return {"fit_sample": float(fitted.n_fitted_), f"assigned_by_{fitted.assignment_}": 1 - fitted.n_fitted_ / n}
