"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005 "RFM and CLV"; Fader & Hardie's Gamma-Gamma note)
and the discounted customer lifetime value it gives with a purchase model.

Each transaction's value is gamma(p, nu) around a customer's own mean, nu itself gamma(q, gamma) across
customers; fitted on the repeat buyers' mean repeat spend. The model assumes spend independent of
purchase frequency: `frequency_spend_correlation` reports how far the data agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import gammaln
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from crmflow.config.constraints import Interval
from crmflow.config.validation import validate_parameters
from crmflow.errors import ConfigError, DataError
from crmflow.value.base import PurchaseModel, check_summary, fit_log_params
from crmflow.value.summary import days_per_unit

__all__ = ["GammaGamma", "frequency_spend_correlation"]

SPEND_COLUMNS = ("frequency", "monetary_value")
DAYS_PER_MONTH = 365.25 / 12


def _repeat_buyers(summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """frequency and monetary_value of the customers with repeat purchases of positive mean value."""
    x, m = check_summary(summary, SPEND_COLUMNS)
    keep = (x > 0) & (m > 0)
    return x[keep], m[keep]


def frequency_spend_correlation(summary: pd.DataFrame) -> float:
    """Pearson correlation of frequency and monetary_value among repeat buyers (nan with fewer than 2)."""
    x, m = _repeat_buyers(summary)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(m) == 0:
        return float("nan")
    return float(np.corrcoef(x, m)[0, 1])


class GammaGamma(BaseEstimator):
    """The Gamma-Gamma spend model: `params_` p, q, gamma (lifetimes' p, q, v).

    The fit runs on spend in units of the repeat buyers' mean spend (the model is scale-equivariant: gamma
    scales with spend, p and q do not), so `penalizer * (p**2 + q**2 + (gamma / mean spend)**2)`, added to the
    mean negative log-likelihood, means the same in any currency. Learned: `params_` (gamma in the data's
    currency), `log_likelihood_` (summed over the repeat buyers), `converged_`, `n_customers_`.
    """

    _parameter_constraints: dict[str, list[Any]] = {"penalizer": [Interval(float, 0, None)]}
    param_names = ("p", "q", "gamma")

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, summary: pd.DataFrame) -> GammaGamma:
        """Maximum likelihood on the repeat buyers' (frequency, monetary_value); returns self."""
        validate_parameters(self, "value")
        x, m = _repeat_buyers(summary)
        if len(x) == 0:
            raise DataError(
                "value.spend: gamma_gamma needs repeat buyers; the summary has no customer with "
                "frequency > 0 and monetary_value > 0 (extend the calibration period or set the spend model to none)"
            )
        pairs, weights = np.unique(np.column_stack([x, m]), axis=0, return_counts=True)
        scale = float(np.average(pairs[:, 1], weights=weights))  # spend in units of the mean: gamma is too
        params, _ = fit_log_params(
            lambda p: self._log_likelihood(p, pairs[:, 0], pairs[:, 1] / scale),
            weights.astype(float),
            [np.ones(3), np.array([1.0, 2.0, 1.0])],  # the second: prior mean spend = the mean
            float(self.penalizer),
            f"{type(self).__name__} (spend / mean spend)",
        )
        params[2] *= scale
        self.params_ = dict(zip(self.param_names, map(float, params)))
        self.log_likelihood_ = float(np.dot(weights, self._log_likelihood(params, pairs[:, 0], pairs[:, 1])))
        self.converged_ = True
        self.n_customers_ = int(len(x))
        return self

    @staticmethod
    def _log_likelihood(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """log density of the mean spend m of x transactions (the sum x*m is gamma-gamma; Jacobian x)."""
        p, q, gamma = params
        px = p * x
        return (
            gammaln(px + q)
            - gammaln(px)
            - gammaln(q)
            + q * np.log(gamma)
            + (px - 1) * np.log(x * m)
            + np.log(x)
            - (px + q) * np.log(gamma + x * m)
        )

    @classmethod
    def individual_log_likelihood(cls, params: dict[str, float], frequency: Any, monetary_value: Any) -> np.ndarray:
        """The log-likelihood of each repeat buyer's mean spend at the given parameters."""
        values = np.array([params[name] for name in cls.param_names], dtype=float)
        x, m = np.broadcast_arrays(np.asarray(frequency, dtype=float), np.asarray(monetary_value, dtype=float))
        return cls._log_likelihood(values, x, m)

    def population_mean_spend(self) -> float:
        """E[spend] of a customer with no repeat history: p * gamma / (q - 1) (infinite for q <= 1)."""
        check_is_fitted(self, "params_")
        p, q, gamma = (self.params_[name] for name in self.param_names)
        return p * gamma / (q - 1) if q > 1 else float("inf")

    def expected_average_spend(self, summary: pd.DataFrame) -> pd.Series:
        """E[mean transaction value | history]: a weighted mean of the population mean and the customer's own."""
        check_is_fitted(self, "params_")
        p, q, gamma = (self.params_[name] for name in self.param_names)
        x, m = check_summary(summary, SPEND_COLUMNS)
        x = np.where(m > 0, x, 0.0)  # repeat buyers of zero value have no spend history either
        values = (gamma + x * m) * p / (p * x + q - 1)
        return pd.Series(values, index=summary.index, name="expected_average_spend")

    def clv(
        self,
        purchase_model: PurchaseModel,
        summary: pd.DataFrame,
        horizon_months: int,
        discount_rate_monthly: float,
        time_unit: str,
        margin: float = 1.0,
    ) -> pd.Series:
        """Discounted expected margin over `horizon_months`: for each month i, the expected purchases in
        month i times the expected spend times `margin`, divided by (1 + discount_rate_monthly) ** i.

        `time_unit` is the unit the purchase model was fitted in ("D" or "W"; a month is 365.25 / 12 days).
        """
        if not isinstance(horizon_months, (int, np.integer)) or horizon_months < 1:
            raise ConfigError(f"value.horizon_months: must be an int >= 1; got {horizon_months!r}")
        if not discount_rate_monthly >= 0:
            raise ConfigError(f"value.discount_rate: must be a number >= 0; got {discount_rate_monthly!r}")
        per_month = DAYS_PER_MONTH / days_per_unit(time_unit)
        spend = self.expected_average_spend(summary).to_numpy() * margin
        total = np.zeros(len(summary))
        previous = np.zeros(len(summary))
        for month in range(1, horizon_months + 1):
            cumulative = purchase_model.predict_purchases(month * per_month, summary).to_numpy()
            total += (cumulative - previous) * spend / (1 + discount_rate_monthly) ** month
            previous = cumulative
        return pd.Series(total, index=summary.index, name="clv")
