"""MBG/NBD (Batislam, Denizel & Filiztekin 2007): the BG/NBD with a dropout chance at the first purchase
too, so a customer with no repeat purchase may already be gone."""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, gammaln

from crmflow.value.base import PurchaseModel, scaled_complement

__all__ = ["MBGNBD"]


class MBGNBD(PurchaseModel):
    """The MBG/NBD purchase model: `params_` r, alpha (gamma purchase rates), a, b (beta dropout)."""

    param_names = ("r", "alpha", "a", "b")

    @staticmethod
    def _log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, a, b = params
        head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x + 1) - betaln(a, b)
        alive = -(r + x) * np.log(alpha + T)
        dropped = np.log(a) - np.log(b + x) - (r + x) * np.log(alpha + t_x)
        return head + np.logaddexp(alive, dropped)

    @staticmethod
    def _log_odds_dead(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, a, b = params
        return np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))

    @staticmethod
    def _conditional_purchases(
        params: np.ndarray, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        r, alpha, a, b = params
        z = t / (alpha + T + t)
        alive = 1.0 / (1.0 + np.exp(MBGNBD._log_odds_dead(params, x, t_x, T)))
        return scaled_complement(a + b + x, r + x, b + x + 1, z, (r + x) * np.log1p(-z)) / (a - 1) * alive

    @staticmethod
    def _new_customer_purchases(params: np.ndarray, t: np.ndarray) -> np.ndarray:
        r, alpha, a, b = params
        z = t / (alpha + t)
        return b / (a + b) * scaled_complement(a + b, r, b + 1, z, r * np.log1p(-z)) / (a - 1)
