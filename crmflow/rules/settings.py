"""`rules.settings` (conf/rules/_settings.yaml), shared by every rule miner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from crmflow.config.constraints import Boolean, Interval

SHARE = [Interval(float, 0, 1, closed="neither", hint=" (a share of the baskets)")]


@dataclass
class RulesSettings:
    """`rules.settings` (see conf/rules/_settings.yaml): the time splits, k of hit-rate@k, rules in the
    readable top table, and rules mined per customer segment."""

    holdout_fraction: float
    validation_fraction: float
    k: int
    top_rules: int
    per_segment: bool
    segment_min_baskets: int
    segment_max_itemsets: int
    segment_max_rules: int
    segment_memory_budget_gib: float  # comparing one segment's rules with all baskets (crmflow.rules.segments)

    constraints: ClassVar[dict] = {
        "holdout_fraction": SHARE,
        "validation_fraction": SHARE,
        "k": [Interval(int, 1, None)],
        "top_rules": [Interval(int, 1, None)],
        "per_segment": [Boolean()],
        "segment_min_baskets": [Interval(int, 2, None)],
        "segment_max_itemsets": [Interval(int, 1, None)],
        "segment_max_rules": [Interval(int, 1, None)],
        "segment_memory_budget_gib": [Interval(float, 0, None, closed="neither", doc="a number of GiB > 0")],
    }
