"""Classification or regression: what the chosen estimator is, and everything that follows from it.

The task is decided by the estimator class (scikit-learn's classifier/regressor tags), never by the
algorithm's name: its metrics, default tuning objective, CV splitter, holdout split, predictions,
target checks and diagnostic plots.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import is_classifier, is_regressor
from sklearn.model_selection import (
    BaseCrossValidator,
    FixedThresholdClassifier,
    KFold,
    StratifiedKFold,
    train_test_split,
)

import crmflow.plots.prediction as plots
from crmflow.config.components import ComponentSpec
from crmflow.config.goals import Objective
from crmflow.errors import ConfigError, DataError
from crmflow.prediction.gains import ranking_artifacts
from crmflow.prediction.metrics import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    classification_metrics,
    f1_optimal_threshold,
    regression_metrics,
)
from crmflow.prediction.settings import OPTIMAL

logger = logging.getLogger(__name__)


class Task(ABC):
    """The task-dependent half of the predictor stage."""

    name: ClassVar[str]
    metrics: ClassVar[tuple[str, ...]]
    objective: ClassVar[Objective]
    permutation_scoring: ClassVar[str]  # scikit-learn scorer for permutation importance

    @abstractmethod
    def splitter(self, folds: int, seed: int) -> BaseCrossValidator:
        """The k-fold splitter for cross-validation."""

    @abstractmethod
    def holdout_split(self, y: pd.Series, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions of the training rows and of the held-out rows."""

    @abstractmethod
    def check_target(self, y: pd.Series, model: str, folds: int, holdout_fraction: float) -> None:
        """Fail before fitting when the target does not suit this task."""

    @abstractmethod
    def predict(self, model: Any, X: pd.DataFrame) -> np.ndarray:
        """Positive-class probabilities (classification) or predicted values (regression)."""

    @abstractmethod
    def evaluate(self, y: np.ndarray, predicted: np.ndarray, threshold: float | None) -> dict[str, float]:
        """The task's metrics of one set of predictions."""

    @abstractmethod
    def prediction_columns(self, predicted: np.ndarray, threshold: float | None) -> dict[str, np.ndarray]:
        """Columns of a predictions table, e.g. probability and predicted class."""

    def decision_threshold(self, setting: float | str, y: np.ndarray, predicted: np.ndarray) -> float | None:
        """The classification cut-off to use (None for regression)."""
        return None

    def final_model(self, pipeline: Any, threshold: float | None) -> Any:
        """The estimator that is refit and logged (a classifier carries its decision threshold)."""
        return pipeline

    @abstractmethod
    def plots(
        self, sets: dict[str, tuple[np.ndarray, np.ndarray]], threshold: float | None, folder: Path
    ) -> list[Path]:
        """Diagnostic plots of named (actual, predicted) sets, e.g. out-of-fold and holdout."""


def _rows_needed(folds: int, holdout_fraction: float) -> int:
    return math.ceil(folds / (1.0 - holdout_fraction)) + (1 if holdout_fraction > 0 else 0)


class ClassificationTask(Task):
    """Binary classification (churn, campaign response) from positive-class probabilities."""

    name = "classification"
    metrics = CLASSIFICATION_METRICS
    objective = Objective("roc_auc", "maximize")
    permutation_scoring = "roc_auc"

    def splitter(self, folds: int, seed: int) -> BaseCrossValidator:
        return StratifiedKFold(folds, shuffle=True, random_state=seed)

    def holdout_split(self, y: pd.Series, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
        positions = np.arange(len(y))
        if fraction == 0:
            return positions, positions[:0]
        train, holdout = train_test_split(positions, test_size=fraction, stratify=y, random_state=seed)
        return np.sort(train), np.sort(holdout)

    def check_target(self, y: pd.Series, model: str, folds: int, holdout_fraction: float) -> None:
        numeric = pd.api.types.is_numeric_dtype(y)
        values = np.unique(y.to_numpy()) if numeric else None
        if not numeric or not np.isin(values, [0, 1]).all():
            shown = y.nunique() if numeric else f"non-numeric {y.dtype}"
            raise ConfigError(
                f"predictor: {model} is a classifier, but the target '{y.name}' is not a 0/1 class label "
                f"({shown} distinct values); choose a regressor (e.g. predictor=ridge) or a class target "
                "(e.g. features.target=churn)"
            )
        counts = y.value_counts()
        if len(counts) != 2:
            raise DataError(f"predictor: target '{y.name}' has {len(counts)} class(es); a classifier needs 2")
        needed = _rows_needed(folds, holdout_fraction)
        if counts.min() < needed:
            raise DataError(
                f"predictor: target '{y.name}' has only {counts.min()} rows of class {counts.idxmin()}; "
                f"predictor.settings.cv_folds={folds} with holdout_fraction={holdout_fraction} needs at least {needed}"
            )

    def predict(self, model: Any, X: pd.DataFrame) -> np.ndarray:
        positive = list(model.classes_).index(1)
        return model.predict_proba(X)[:, positive]

    def evaluate(self, y: np.ndarray, predicted: np.ndarray, threshold: float | None) -> dict[str, float]:
        return classification_metrics(y, predicted, 0.5 if threshold is None else threshold)

    def prediction_columns(self, predicted: np.ndarray, threshold: float | None) -> dict[str, np.ndarray]:
        return {"probability": predicted, "predicted_class": (predicted >= threshold).astype(int)}

    def decision_threshold(self, setting: float | str, y: np.ndarray, predicted: np.ndarray) -> float:
        return f1_optimal_threshold(y, predicted) if setting == OPTIMAL else float(setting)

    def final_model(self, pipeline: Any, threshold: float | None) -> Any:
        return FixedThresholdClassifier(pipeline, threshold=threshold, response_method="predict_proba")

    def plots(
        self, sets: dict[str, tuple[np.ndarray, np.ndarray]], threshold: float | None, folder: Path
    ) -> list[Path]:
        last = list(sets)[-1]  # the holdout when there is one
        actual, probability = sets[last]
        return [
            plots.probability_curves(sets, folder / "predictor_curves.png"),
            plots.confusion_matrix(
                actual,
                probability >= threshold,
                f"{last}, threshold {threshold:.3f}",
                folder / "predictor_confusion_matrix.png",
            ),
            *ranking_artifacts(actual, probability, last, folder),  # gains (CSV, plot) and calibration
        ]


class RegressionTask(Task):
    """Regression of a customer value (e.g. spend in the period after the cutoff)."""

    name = "regression"
    metrics = REGRESSION_METRICS
    objective = Objective("rmse", "minimize")
    permutation_scoring = "neg_root_mean_squared_error"

    def splitter(self, folds: int, seed: int) -> BaseCrossValidator:
        return KFold(folds, shuffle=True, random_state=seed)

    def holdout_split(self, y: pd.Series, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
        positions = np.arange(len(y))
        if fraction == 0:
            return positions, positions[:0]
        train, holdout = train_test_split(positions, test_size=fraction, random_state=seed)
        return np.sort(train), np.sort(holdout)

    def check_target(self, y: pd.Series, model: str, folds: int, holdout_fraction: float) -> None:
        if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
            raise DataError(f"predictor: {model} is a regressor, but the target '{y.name}' is not numeric ({y.dtype})")
        if y.nunique() < 2:
            raise DataError(f"predictor: target '{y.name}' is constant ({y.iloc[0]}); a regressor needs variation")
        needed = _rows_needed(folds, holdout_fraction)
        if len(y) < needed:
            raise DataError(
                f"predictor: target '{y.name}' has {len(y)} rows; predictor.settings.cv_folds={folds} with "
                f"holdout_fraction={holdout_fraction} needs at least {needed}"
            )
        if np.isin(y.unique(), [0, 1]).all():
            raise ConfigError(
                f"predictor: {model} is a regressor, but the target '{y.name}' is a 0/1 class label; choose a "
                "classifier (e.g. predictor=logistic_regression) or a numeric target (e.g. features.target=spend)"
            )

    def predict(self, model: Any, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(model.predict(X), dtype="float64")

    def evaluate(self, y: np.ndarray, predicted: np.ndarray, threshold: float | None) -> dict[str, float]:
        return regression_metrics(y, predicted)

    def prediction_columns(self, predicted: np.ndarray, threshold: float | None) -> dict[str, np.ndarray]:
        return {"predicted": predicted}

    def plots(
        self, sets: dict[str, tuple[np.ndarray, np.ndarray]], threshold: float | None, folder: Path
    ) -> list[Path]:
        return [plots.predicted_vs_actual(sets, folder / "predictor_predicted_vs_actual.png")]


CLASSIFICATION = ClassificationTask()
REGRESSION = RegressionTask()


def task_of(spec: ComponentSpec) -> Task:
    """The task of the configured estimator; classifiers must report probabilities."""
    estimator = spec.build()
    if is_classifier(estimator):
        if not hasattr(estimator, "predict_proba"):
            raise ConfigError(
                f"{spec.key}: {spec.short_name} has no predict_proba; crmflow's classifiers report "
                "probabilities (ROC/PR curves, log-loss, decision thresholds); choose a probabilistic "
                "classifier (predictor=svm wraps SVC in CalibratedClassifierCV for Platt-scaled probabilities)"
            )
        return CLASSIFICATION
    if is_regressor(estimator):
        return REGRESSION
    raise ConfigError(f"{spec.key}._target_: {spec.target} is neither a scikit-learn classifier nor a regressor")
