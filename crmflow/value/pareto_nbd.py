"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987): Poisson purchases at a gamma-distributed rate and an
exponential lifetime at a gamma-distributed dropout rate. The likelihood follows Fader & Hardie's notes;
its hypergeometric terms are taken through Euler's transformation to a series with first parameter 1
(positive terms, no overflow) and combined in log space."""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, hyp2f1

from crmflow.value.base import PurchaseModel

__all__ = ["ParetoNBD"]


def _log_A0(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """log A_0 = log[(r+s+x) * integral over (t_x, T] of (alpha+y)^-(r+x) (beta+y)^-(s+1) dy]."""
    r, alpha, s, beta = params
    rsx = r + s + x
    big, small = max(alpha, beta), min(alpha, beta)
    second = s + 1 if alpha >= beta else r + x  # the 2F1's second parameter in Fader & Hardie's form

    def log_term(y: np.ndarray) -> np.ndarray:
        # 2F1(rsx, second; rsx+1; z) / (big+y)^rsx with z = (big-small)/(big+y), by Euler's transformation
        z = (big - small) / (big + y)
        series = hyp2f1(1.0, rsx + 1 - second, rsx + 1, z)
        return (1 - second) * np.log((small + y) / (big + y)) + np.log(series) - rsx * np.log(big + y)

    upper, lower = log_term(t_x), log_term(T)
    with np.errstate(divide="ignore"):  # t_x == T: an empty interval, log A_0 = -inf
        return upper + np.log(-np.expm1(np.minimum(lower - upper, 0.0)))


def _expm1_ratio(k: float, u: np.ndarray) -> np.ndarray:
    """(1 - exp(-k u)) / k, and its limit u at k = 0 (the Pareto/NBD's s = 1)."""
    return u if abs(k) < 1e-12 else -np.expm1(-k * u) / k


class ParetoNBD(PurchaseModel):
    """The Pareto/NBD purchase model: `params_` r, alpha (purchase rates), s, beta (dropout rates)."""

    param_names = ("r", "alpha", "s", "beta")
    time_scale_params = ("alpha", "beta")

    @staticmethod
    def _log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, s, beta = params
        head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        dropped = np.log(s) - np.log(r + s + x) + _log_A0(params, x, t_x, T)
        return head + np.logaddexp(alive, dropped)

    @staticmethod
    def _log_odds_dead(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, s, beta = params
        alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        return np.log(s) - np.log(r + s + x) + _log_A0(params, x, t_x, T) - alive

    @staticmethod
    def _conditional_purchases(
        params: np.ndarray, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        r, alpha, s, beta = params
        alive = 1.0 / (1.0 + np.exp(ParetoNBD._log_odds_dead(params, x, t_x, T)))
        rate = (r + x) / (alpha + T) * (beta + T)
        return alive * rate * _expm1_ratio(s - 1, np.log1p(t / (beta + T)))

    @staticmethod
    def _new_customer_purchases(params: np.ndarray, t: np.ndarray) -> np.ndarray:
        r, alpha, s, beta = params
        return r * beta / alpha * _expm1_ratio(s - 1, np.log1p(t / beta))
