"""The purchase models by config name, so a stage looks a model up instead of branching on names."""

from __future__ import annotations

from crmflow.value.base import PurchaseModel
from crmflow.value.bg_nbd import BGNBD
from crmflow.value.mbg_nbd import MBGNBD
from crmflow.value.pareto_nbd import ParetoNBD

__all__ = ["PURCHASE_MODELS"]

PURCHASE_MODELS: dict[str, type[PurchaseModel]] = {"bg_nbd": BGNBD, "pareto_nbd": ParetoNBD, "mbg_nbd": MBGNBD}
