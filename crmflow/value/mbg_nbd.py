"""MBG/NBD (Batislam, Denizel & Filiztekin 2007): the BG/NBD with a dropout chance at the first purchase
too, so a customer with no repeat purchase may already be gone."""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, gammaln, hyp2f1

from crmflow.value.base import PurchaseModel

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
        decay = np.exp((r + x) * np.log1p(-z)) * hyp2f1(r + x, b + x + 1, a + b + x, z)
        alive = 1.0 / (1.0 + np.exp(MBGNBD._log_odds_dead(params, x, t_x, T)))
        return (a + b + x) / (a - 1) * (1.0 - decay) * alive

    @staticmethod
    def _new_customer_purchases(params: np.ndarray, t: np.ndarray) -> np.ndarray:
        r, alpha, a, b = params
        z = t / (alpha + t)
        return b / (a - 1) * (1.0 - np.exp(r * np.log1p(-z)) * hyp2f1(r, b + 1, a + b, z))
