"""The spread of the headline metric over the cross-validation folds, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from crmflow.prediction.evaluation import OutOfFold
from crmflow.prediction.task import CLASSIFICATION, REGRESSION


def test_the_fold_std_of_roc_auc_is_the_spread_of_the_per_fold_aucs() -> None:
    y = np.array([0, 1, 0, 1, 0, 1, 1, 0])
    scores = np.array([0.1, 0.9, 0.2, 0.8, 0.7, 0.3, 0.6, 0.4])
    # fold 1 ranks both positives above both negatives (AUC 1); fold 2: of the pairs (0.3, 0.6) x (0.7, 0.4) only 0.6 > 0.4 -> 1 of 4
    oof = OutOfFold(scores, [np.arange(4), np.arange(4, 8)])
    assert oof.fold_std(CLASSIFICATION, y, 0.5, "roc_auc") == pytest.approx(0.375)  # std of (1, 0.25)


def test_the_fold_std_of_rmse() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    predicted = np.array([1.0, 2.0, 5.0, 6.0])  # fold rmse 0 and 2
    oof = OutOfFold(predicted, [np.arange(2), np.arange(2, 4)])
    assert oof.fold_std(REGRESSION, y, None, "rmse") == pytest.approx(1.0)
