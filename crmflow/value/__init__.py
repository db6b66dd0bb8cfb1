"""Customer value ("buy till you die") models fitted by maximum likelihood: purchase counts and spend."""

from __future__ import annotations

from crmflow.value.base import PurchaseModel
from crmflow.value.bg_nbd import BGNBD
from crmflow.value.errors import FitError
from crmflow.value.gamma_gamma import GammaGamma, frequency_spend_correlation
from crmflow.value.mbg_nbd import MBGNBD
from crmflow.value.models import PURCHASE_MODELS
from crmflow.value.pareto_nbd import ParetoNBD
from crmflow.value.summary import customer_summary, holdout_summary

__all__ = [
    "BGNBD",
    "MBGNBD",
    "PURCHASE_MODELS",
    "FitError",
    "GammaGamma",
    "ParetoNBD",
    "PurchaseModel",
    "customer_summary",
    "frequency_spend_correlation",
    "holdout_summary",
]
