"""The value stage's component: a purchase model and an optional spend model, fitted on one customer summary."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from crmflow.config.constraints import InstanceOf, Interval, Options
from crmflow.config.validation import validate_parameters
from crmflow.value.base import PurchaseModel
from crmflow.value.gamma_gamma import GammaGamma

__all__ = ["NO_SPEND", "SPEND_MODELS", "CustomerValue"]

NO_SPEND = "none"
SPEND_MODELS: dict[str, type[GammaGamma]] = {"gamma_gamma": GammaGamma}  # `value.spend` name -> spend model


class CustomerValue(BaseEstimator):
    """`purchases` (a BG/NBD-family model) and `spend` (a name in SPEND_MODELS, or "none").

    `fit(summary)` fits a clone of `purchases` as `purchases_` and, unless spend is "none", the spend model
    (penalised by `spend_penalizer`) as `spend_` (None without one).
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "purchases": [InstanceOf(PurchaseModel, doc="a crmflow purchase model (crmflow.value.base.PurchaseModel)")],
        "spend": [Options((*SPEND_MODELS, NO_SPEND))],
        "spend_penalizer": [Interval(float, 0, None)],
    }

    def __init__(self, purchases: PurchaseModel, spend: str = "gamma_gamma", spend_penalizer: float = 0.0) -> None:
        self.purchases = purchases
        self.spend = spend
        self.spend_penalizer = spend_penalizer

    @property
    def has_spend(self) -> bool:
        return self.spend != NO_SPEND

    def fit_purchases(self, summary: pd.DataFrame) -> PurchaseModel:
        """A fresh copy of the purchase model fitted on the summary (what a tuning trial needs)."""
        validate_parameters(self, "value")
        return clone(self.purchases).fit(summary)

    def fit(self, summary: pd.DataFrame) -> CustomerValue:
        """Fit the purchase model and, if any, the spend model on the same summary; returns self."""
        self.purchases_ = self.fit_purchases(summary)
        spend = SPEND_MODELS.get(self.spend)
        self.spend_ = None if spend is None else spend(penalizer=self.spend_penalizer).fit(summary)
        return self

    def customer_table(self, summary: pd.DataFrame, horizon: float, clv_months: int, discount_rate: float,
                       margin: float, time_unit: str) -> pd.DataFrame:  # fmt: skip
        """Per customer: expected purchases in `horizon`, P(alive), and with a spend model expected spend and CLV."""
        check_is_fitted(self, "purchases_")
        table = summary.copy()
        table["expected_purchases"] = self.purchases_.predict_purchases(horizon, summary)
        table["p_alive"] = self.purchases_.probability_alive(summary)
        if self.spend_ is not None:
            table["expected_spend"] = self.spend_.expected_average_spend(summary)
            table["clv"] = self.spend_.clv(self.purchases_, summary, clv_months, discount_rate, time_unit, margin)
        return table
