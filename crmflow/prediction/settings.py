"""`predictor.settings` (conf/predictor/_settings.yaml), shared by every predictor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from crmflow.config.constraints import Boolean, Interval, Options

OPTIMAL = "optimal"  # threshold: the F1-optimal cut-off on the out-of-fold predictions
LOG1P = "log1p"
TARGET_TRANSFORMS = ("none", LOG1P)  # target_transform


@dataclass
class PredictorSettings:
    """`predictor.settings` (see conf/predictor/_settings.yaml)."""

    cv_folds: int
    holdout_fraction: float
    threshold: float | str
    segment_feature: bool
    permutation_repeats: int
    target_transform: str
    n_jobs: int

    constraints: ClassVar[dict] = {
        "cv_folds": [Interval(int, 2, None)],
        "holdout_fraction": [Interval(float, 0, 0.5)],
        "threshold": [
            Interval(float, 0, 1, closed="neither"),
            Options(OPTIMAL, hint=f" ('{OPTIMAL}' = the F1-optimal cut-off on the out-of-fold predictions)"),
        ],
        "segment_feature": [Boolean()],
        "permutation_repeats": [Interval(int, 1, None)],
        "target_transform": [Options(TARGET_TRANSFORMS)],
        "n_jobs": [Interval(int, 1, None), Interval(int, None, -1, doc="a negative int (-1 = every core)"), None],
    }
