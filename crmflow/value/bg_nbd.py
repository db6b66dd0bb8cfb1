"""BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): Poisson purchases at a
gamma-distributed rate, and after each repeat purchase a beta-distributed chance of dropping out."""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, gammaln

from crmflow.value.base import PurchaseModel, scaled_complement

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
        alive = 1.0 / (1.0 + np.exp(BGNBD._log_odds_dead(params, x, t_x, T)))
        return scaled_complement(a + b + x - 1, r + x, b + x, z, (r + x) * np.log1p(-z)) / (a - 1) * alive

    @staticmethod
    def _new_customer_purchases(params: np.ndarray, t: np.ndarray) -> np.ndarray:
        r, alpha, a, b = params
        z = t / (alpha + t)
        return scaled_complement(a + b - 1, r, b, z, r * np.log1p(-z)) / (a - 1)
