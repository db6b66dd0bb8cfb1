"""Association rules: baskets from transactions, rule mining with mlxtend, held-out evaluation."""

from __future__ import annotations

from crmflow.rules.baskets import Baskets, baskets_from_transactions, encode_baskets
from crmflow.rules.estimator import AssociationRules
from crmflow.rules.evaluation import evaluate_recommendations
from crmflow.rules.itemsets import ALGORITHMS, MinerSpec, min_support_count
from crmflow.rules.protocol import RuleMiner
from crmflow.rules.rule_table import METRICS, rule_metrics

__all__ = [
    "ALGORITHMS",
    "METRICS",
    "AssociationRules",
    "Baskets",
    "MinerSpec",
    "RuleMiner",
    "baskets_from_transactions",
    "encode_baskets",
    "evaluate_recommendations",
    "min_support_count",
    "rule_metrics",
]
