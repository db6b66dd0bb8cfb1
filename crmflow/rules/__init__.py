"""Association rules: baskets from transactions, rule mining with mlxtend, held-out evaluation."""

from __future__ import annotations

from crmflow.rules.baskets import Baskets, baskets_from_transactions, encode_baskets
from crmflow.rules.evaluation import evaluate_recommendations
from crmflow.rules.miner import (
    ALGORITHMS,
    METRICS,
    AssociationRules,
    MinerSpec,
    min_support_count,
)

__all__ = [
    "ALGORITHMS",
    "METRICS",
    "AssociationRules",
    "Baskets",
    "MinerSpec",
    "baskets_from_transactions",
    "encode_baskets",
    "evaluate_recommendations",
    "min_support_count",
]
