"""Cross-validation: out-of-fold predictions of a fresh pipeline per fold, and fold-averaged metrics.

With a fold report (a pruner on), the folds' results arrive in fold order as they finish (joblib's generator), each
fold is scored on its own and reported, so a hopeless trial stops before its remaining folds are fitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils.parallel import Parallel, delayed

from crmflow.prediction.task import Task
from crmflow.stages.contract import FoldReport


@dataclass
class OutOfFold:
    """Each row's prediction from the fold model that did not see it, and the folds' test positions."""

    predictions: np.ndarray
    folds: list[np.ndarray]

    def fold_mean(self, task: Task, y: np.ndarray, threshold: float | None) -> dict[str, float]:
        """The task's metrics per fold, averaged over the folds."""
        per_fold = [task.evaluate(y[test], self.predictions[test], threshold) for test in self.folds]
        return {name: float(np.mean([scores[name] for scores in per_fold])) for name in per_fold[0]}

    def fold_std(self, task: Task, y: np.ndarray, threshold: float | None, name: str) -> float:
        """The spread of one metric over the folds (population standard deviation)."""
        return float(np.std([task.evaluate(y[test], self.predictions[test], threshold)[name] for test in self.folds]))


def _fit_predict(
    pipeline: Any, task: Task, X: pd.DataFrame, y: pd.Series, train: np.ndarray, test: np.ndarray
) -> np.ndarray:
    fitted = clone(pipeline).fit(X.iloc[train], y.iloc[train])
    return task.predict(fitted, X.iloc[test])


def out_of_fold(
    pipeline: Any,
    task: Task,
    X: pd.DataFrame,
    y: pd.Series,
    cv: BaseCrossValidator,
    n_jobs: int,
    report: FoldReport | None = None,
    threshold: float | str | None = None,
) -> OutOfFold:
    """Fit a clone of `pipeline` (preprocessing included) on each training fold, predict its test fold.

    `report` gets each fold's metrics (with `threshold` decided on that fold alone) as soon as it is done."""
    folds = list(cv.split(X, y))
    # with a report, a fold is dispatched only when a worker is free, so a pruned trial leaves the rest unfitted
    dispatch = "n_jobs" if report is not None else "2*n_jobs"
    predicted = Parallel(n_jobs=n_jobs, return_as="generator", pre_dispatch=dispatch)(
        delayed(_fit_predict)(pipeline, task, X, y, train, test) for train, test in folds
    )
    predictions = np.empty(len(y), dtype="float64")
    actual = y.to_numpy()
    for fold, ((_, test), values) in enumerate(zip(folds, predicted, strict=True)):
        predictions[test] = values
        if report is not None:
            cut = task.decision_threshold(threshold, actual[test], values)
            report(fold, task.evaluate(actual[test], values, cut))
    return OutOfFold(predictions, [test for _, test in folds])
