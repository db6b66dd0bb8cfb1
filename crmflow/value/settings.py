"""`value.settings` (conf/value/_settings.yaml), shared by every purchase model of the value stage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from crmflow.config.constraints import Boolean, Date, InstanceOf, Interval, Options
from crmflow.value.summary import TIME_UNITS


@dataclass
class ValueSettings:
    """`value.settings`: the time unit, the calibration/holdout split, and how CLV is discounted.

    `calibration_end` null takes the day before the features cutoff (`features.cutoff`, resolved by the run: the
    features count purchases before that day); `horizon` null runs from the calibration end to the end of the last
    transaction day (with the default features cutoff: the cutoff day and the `features.horizon_days` after it).
    `validation_fraction`: the latest share of the calibration period
    that tuning trials are scored on (fitted on the rest), so no trial sees the holdout. `discount_rate` is
    monthly: an annual rate r is (1 + r)^(1/12) - 1. `add_features` joins P(alive), expected purchases (and spend
    and CLV) to the customer table for later stages; it needs `calibration_end` null (the features cutoff).
    """

    time_unit: str
    calibration_end: Any
    horizon: float | None
    validation_fraction: float
    clv_months: int
    discount_rate: float
    margin: float
    merge_same_day: bool
    add_features: bool

    constraints: ClassVar[dict] = {
        "time_unit": [Options(tuple(TIME_UNITS))],
        "calibration_end": [Date(), InstanceOf(date, doc="a date"), None],
        "horizon": [
            Interval(
                float,
                0,
                None,
                closed="neither",
                hint="; periods of time_unit after the calibration end, or null (to the last transaction day)",
            ),
            None,
        ],
        "validation_fraction": [Interval(float, 0, 1, closed="neither", hint=" (a share of the calibration period)")],
        "clv_months": [Interval(int, 1, None)],
        "discount_rate": [Interval(float, 0, None, hint=" (monthly; annual r: (1 + r) ** (1 / 12) - 1)")],
        "margin": [Interval(float, 0, None, closed="neither")],
        "merge_same_day": [Boolean()],
        "add_features": [Boolean()],
    }
