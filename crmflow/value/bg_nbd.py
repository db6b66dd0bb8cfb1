"""BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): Poisson purchases at a
gamma-distributed rate, and after each repeat purchase a beta-distributed chance of dropping out."""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, gammaln, hyp2f1

from crmflow.value.base import PurchaseModel

__all__ = ["BGNBD"]


class BGNBD(PurchaseModel):
    """The BG/NBD purchase model: `params_` r, alpha (gamma purchase rates), a, b (beta dropout).

    A customer with no repeat purchase is alive for sure (dropout happens only after a purchase).
    """

    param_names = ("r", "alpha", "a", "b")

    @staticmethod
    def _log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, a, b = params
        head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
        alive = -(r + x) * np.log(alpha + T)
        repeat = np.maximum(x, 1)  # the dropped-out branch exists only for x > 0
        dropped = np.log(a) - np.log(b + repeat - 1) - (r + x) * np.log(alpha + t_x)
        return head + np.logaddexp(alive, np.where(x > 0, dropped, -np.inf))

    @staticmethod
    def _log_odds_dead(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, a, b = params
        repeat = np.maximum(x, 1)
        odds = np.log(a) - np.log(b + repeat - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        return np.where(x > 0, odds, -np.inf)

    @staticmethod
    def _conditional_purchases(
        params: np.ndarray, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        r, alpha, a, b = params
        z = t / (alpha + T + t)
        decay = np.exp((r + x) * np.log1p(-z)) * hyp2f1(r + x, b + x, a + b + x - 1, z)
        alive = 1.0 / (1.0 + np.exp(BGNBD._log_odds_dead(params, x, t_x, T)))
        return (a + b + x - 1) / (a - 1) * (1.0 - decay) * alive

    @staticmethod
    def _new_customer_purchases(params: np.ndarray, t: np.ndarray) -> np.ndarray:
        r, alpha, a, b = params
        z = t / (alpha + t)
        return (a + b - 1) / (a - 1) * (1.0 - np.exp(r * np.log1p(-z)) * hyp2f1(r, b, a + b - 1, z))
