"""`forecaster.settings` (conf/forecaster/_settings.yaml), shared by every forecaster."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from crmflow.config.constraints import Boolean, Interval, Options
from crmflow.forecasting.backtest import RollingOrigin
from crmflow.forecasting.series import FREQUENCIES, VALUES


def _holdout_folds(settings: Mapping[str, Any]) -> Interval:
    """The latest folds kept for the report must leave at least one fold to tune on."""
    last = settings["folds"] - 1
    return Interval(int, 0, last, doc=f"an int in the range [0, folds - 1] = [0, {last}]")


@dataclass
class ForecasterSettings:
    """`forecaster.settings`: what is aggregated how, the backtest windows, interval level, per-segment runs."""

    frequency: str
    value: str
    seasonal_period: int
    horizon: int
    folds: int
    step: int
    holdout_folds: int
    interval: float
    per_segment: bool
    complete_periods_only: bool

    constraints: ClassVar[dict] = {
        "frequency": [Options(FREQUENCIES)],
        "value": [Options(VALUES)],
        "seasonal_period": [Interval(int, 1, None)],
        "horizon": [Interval(int, 1, None)],
        "folds": [Interval(int, 1, None)],
        "step": [Interval(int, 1, None)],
        "holdout_folds": [_holdout_folds],
        "interval": [Interval(float, 0, 1, closed="neither", hint=" (a level, e.g. 0.95)")],
        "per_segment": [Boolean()],
        "complete_periods_only": [Boolean()],
    }

    @property
    def windows(self) -> RollingOrigin:
        return RollingOrigin(self.horizon, self.folds, self.step)

    @property
    def tuning_folds(self) -> int:
        """The earlier folds, which tuning trials score; the latest `holdout_folds` are kept for the report."""
        return self.folds - self.holdout_folds
