"""`predictor=svm`: a support vector classifier with Platt-scaled probabilities.

scikit-learn 1.9 deprecates `SVC(probability=True)` in favour of `CalibratedClassifierCV(SVC(),
ensemble=False)`; this estimator is that combination with SVC's parameters at the top level, so a
YAML file can set and tune them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import SVC


class ProbabilisticSVC(ClassifierMixin, BaseEstimator):
    """SVC whose `predict_proba` comes from sigmoid calibration on `calibration_folds` internal folds."""

    def __init__(
        self,
        C: float = 1.0,
        kernel: str = "rbf",
        gamma: str | float = "scale",
        class_weight: str | dict | None = None,
        calibration_folds: int = 3,
        random_state: int | None = None,
    ) -> None:
        self.C = C
        self.kernel = kernel
        self.gamma = gamma
        self.class_weight = class_weight
        self.calibration_folds = calibration_folds
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> ProbabilisticSVC:
        svc = SVC(
            C=self.C,
            kernel=self.kernel,
            gamma=self.gamma,
            class_weight=self.class_weight,
            random_state=self.random_state,
        )
        self.calibrated_ = CalibratedClassifierCV(svc, method="sigmoid", cv=self.calibration_folds, ensemble=False)
        self.calibrated_.fit(X, y)
        self.classes_ = self.calibrated_.classes_
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = self.calibrated_.n_features_in_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.calibrated_.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        return self.calibrated_.predict(X)
