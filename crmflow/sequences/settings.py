"""`sequences.settings` (conf/sequences/_settings.yaml), shared by every sequential-pattern miner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from crmflow.config.constraints import Boolean, Date, InstanceOf, Interval

SHARE = [Interval(float, 0, 1, closed="neither")]


@dataclass
class SequencesSettings:
    """The cutoff between the customers' histories and the next baskets they are scored on, the trials' own
    split before it, k of hit-rate@k, the basket rules compared on the same customers, per-segment mining."""

    cutoff: Any
    validation_fraction: float
    k: int
    top_rules: int
    compare_rules_min_support: float
    compare_rules_min_confidence: float
    per_segment: bool
    segment_min_customers: int

    constraints: ClassVar[dict] = {
        "cutoff": [Date(), InstanceOf(date, doc="a date"), None],
        "validation_fraction": SHARE,
        "k": [Interval(int, 1, None)],
        "top_rules": [Interval(int, 1, None)],
        "compare_rules_min_support": SHARE,
        "compare_rules_min_confidence": [Interval(float, 0, 1)],
        "per_segment": [Boolean()],
        "segment_min_customers": [Interval(int, 2, None)],
    }
