"""Metrics of one set of predictions: classifiers from positive-class probabilities, regressors from values."""

from __future__ import annotations

import numpy as np
from sklearn import metrics

CLASSIFICATION_METRICS = ("roc_auc", "pr_auc", "accuracy", "precision", "recall", "f1", "log_loss")
REGRESSION_METRICS = ("rmse", "mae", "r2")


def classification_metrics(y: np.ndarray, probability: np.ndarray, threshold: float) -> dict[str, float]:
    """Ranking metrics from the probabilities, label metrics at `threshold` (class 1 when p >= threshold)."""
    predicted = (probability >= threshold).astype(int)
    return {
        "roc_auc": float(metrics.roc_auc_score(y, probability)),
        "pr_auc": float(metrics.average_precision_score(y, probability)),
        "accuracy": float(metrics.accuracy_score(y, predicted)),
        "precision": float(metrics.precision_score(y, predicted, zero_division=0)),
        "recall": float(metrics.recall_score(y, predicted, zero_division=0)),
        "f1": float(metrics.f1_score(y, predicted, zero_division=0)),
        "log_loss": float(metrics.log_loss(y, probability, labels=[0, 1])),
    }


def regression_metrics(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Root mean squared error, mean absolute error and R² of predicted values."""
    return {
        "rmse": float(metrics.root_mean_squared_error(y, predicted)),
        "mae": float(metrics.mean_absolute_error(y, predicted)),
        "r2": float(metrics.r2_score(y, predicted)),
    }


def f1_optimal_threshold(y: np.ndarray, probability: np.ndarray) -> float:
    """The probability cut-off with the highest F1 (class 1 when p >= cut-off)."""
    precision, recall, thresholds = metrics.precision_recall_curve(y, probability)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return float(thresholds[int(np.argmax(f1[:-1]))])
