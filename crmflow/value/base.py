"""What the buy-till-you-die purchase models share: the summary check and maximum likelihood on log-parameters.

A model subclass declares `param_names` and four vectorised functions of a parameter array
(`_log_likelihood`, `_log_odds_dead`, `_conditional_purchases`, `_new_customer_purchases`); this class
turns them into the scikit-learn style `fit` and the pandas-facing predictions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit, hyp2f1
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from crmflow.config.constraints import Interval
from crmflow.config.validation import validate_parameters
from crmflow.errors import ConfigError, DataError
from crmflow.value.errors import FitError

__all__ = ["SUMMARY_COLUMNS", "PurchaseModel", "check_summary", "fit_log_params", "scaled_complement"]

logger = logging.getLogger(__name__)

SUMMARY_COLUMNS = ("frequency", "recency", "T")
LogLikelihood = Callable[[np.ndarray], np.ndarray]
SMALL_C = 1e-7  # below it scaled_complement uses its c -> 0 limit


def check_summary(summary: pd.DataFrame, columns: tuple[str, ...] = SUMMARY_COLUMNS) -> list[np.ndarray]:
    """The named columns as float arrays; DataError naming the column that is missing or invalid."""
    if not isinstance(summary, pd.DataFrame) or summary.empty:
        raise DataError("value: the customer summary is empty (no customer bought by the calibration end)")
    arrays = []
    for column in columns:
        if column not in summary.columns:
            raise DataError(f"value: the customer summary has no column '{column}' (columns: {list(summary.columns)})")
        values = pd.to_numeric(summary[column], errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise DataError(f"value: column '{column}' must hold finite non-negative numbers")
        arrays.append(values)
    if "frequency" in columns and np.any(arrays[columns.index("frequency")] % 1 != 0):
        raise DataError("value: column 'frequency' must hold whole numbers of repeat purchases")
    if set(SUMMARY_COLUMNS) <= set(columns):
        x, t_x, T = (arrays[columns.index(c)] for c in SUMMARY_COLUMNS)
        if np.any(t_x > T + 1e-9):
            raise DataError("value: column 'recency' must not exceed column 'T'")
        if np.any((x == 0) & (t_x != 0)):
            raise DataError("value: column 'recency' must be 0 where frequency is 0")
    return arrays


def scaled_complement(c: Any, A: Any, B: Any, z: Any, log_u: Any) -> np.ndarray:
    """c * (1 - exp(log_u) * 2F1(A, B; c; z)), finite also as c -> 0 (fits with a + b + x - 1 near 0, where
    2F1 itself overflows): there it is the limit -u * A * B * z * 2F1(A + 1, B + 1; 2; z), exact to O(c)."""
    c, A, B, z, u = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (c, A, B, z, np.exp(log_u))))
    small = np.abs(c) < SMALL_C
    safe = np.where(small, 1.0, c)
    regular = safe * (1.0 - u * hyp2f1(A, B, safe, z))
    limit = -u * A * B * z * hyp2f1(A + 1, B + 1, 2.0, z)
    return np.where(small, limit, regular)


def fit_log_params(
    log_likelihood: LogLikelihood, weights: np.ndarray, starts: list[np.ndarray], penalizer: float, name: str
) -> tuple[np.ndarray, float]:
    """Maximise the weighted log-likelihood over log-parameters; the parameters and the summed log-likelihood.

    The objective is the mean negative log-likelihood plus `penalizer * sum(params**2)` (lifetimes' L2
    penalty). The optimiser starts from each of `starts` (e.g. all ones, and the scale parameters at the data's
    scale: from ones alone a spend scale in the hundreds can drift along a ridge to a far worse optimum) and the
    best converged optimum wins. FitError with the optimiser's message when none converges to a finite optimum.
    """
    total = weights.sum()

    def objective(log_params: np.ndarray) -> float:
        params = np.exp(log_params)
        with np.errstate(all="ignore"):
            value = -np.dot(weights, log_likelihood(params)) / total + penalizer * np.sum(params**2)
        return float(value) if np.isfinite(value) else np.inf

    started = time.perf_counter()
    options = {"xatol": 1e-8, "fatol": 1e-12, "maxiter": 20_000, "maxfev": 40_000, "adaptive": True}
    results = [minimize(objective, np.log(start), method="Nelder-Mead", options=options) for start in starts]
    converged = [r for r in results if r.success and np.isfinite(r.fun)]
    if not converged:
        message = results[0].message
        raise FitError(f"value: {name} did not converge ({message}); try a penalizer > 0 or more customers")
    result = min(converged, key=lambda r: r.fun)
    params = np.exp(result.x)
    with np.errstate(all="ignore"):
        log_lik = float(np.dot(weights, log_likelihood(params)))
    elapsed = time.perf_counter() - started
    evaluations = sum(r.nfev for r in results)
    logger.info("%s fitted in %.2fs (%d evaluations): LL %.2f", name, elapsed, evaluations, log_lik)
    return params, log_lik


class PurchaseModel(BaseEstimator):
    """Base of the purchase-count models (BG/NBD, Pareto/NBD, MBG/NBD), fitted on a customer summary.

    `penalizer` adds `penalizer * sum(params**2)` to the mean negative log-likelihood. Learned:
    `params_` (a dict), `log_likelihood_` (summed over customers), `converged_`, `n_customers_`.
    """

    _parameter_constraints: dict[str, list[Any]] = {"penalizer": [Interval(float, 0, None)]}
    param_names: tuple[str, ...] = ()
    time_scale_params: tuple[str, ...] = ("alpha",)  # in the time unit: the second start sets them to the mean T

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, summary: pd.DataFrame) -> PurchaseModel:
        """Maximum likelihood on the summary's frequency, recency and T; returns self."""
        validate_parameters(self, "value")
        data = np.column_stack(check_summary(summary))
        unique, weights = np.unique(data, axis=0, return_counts=True)  # identical histories count once, weighted
        x, t_x, T = unique.T
        scaled = [max(float(np.average(T, weights=weights)), 1.0) if n in self.time_scale_params else 1.0
                  for n in self.param_names]  # fmt: skip
        params, log_lik = fit_log_params(
            lambda p: self._log_likelihood(p, x, t_x, T),
            weights.astype(float),
            [np.ones(len(self.param_names)), np.array(scaled)],
            float(self.penalizer),
            type(self).__name__,
        )
        self.params_ = dict(zip(self.param_names, map(float, params)))
        self.log_likelihood_ = log_lik
        self.converged_ = True
        self.n_customers_ = int(len(data))
        return self

    @classmethod
    def individual_log_likelihood(cls, params: Mapping[str, float], frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """The log-likelihood of each customer's history (x, t_x, T) at the given parameters."""
        values = np.array([params[name] for name in cls.param_names], dtype=float)
        arrays = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (frequency, recency, T)))
        return cls._log_likelihood(values, *arrays)

    def _fitted(self) -> np.ndarray:
        check_is_fitted(self, "params_")
        return np.array([self.params_[name] for name in self.param_names])

    def predict_purchases(self, t: float, summary: pd.DataFrame) -> pd.Series:
        """Expected purchases of each customer in the next `t` time units, given the history."""
        if not t >= 0:
            raise ConfigError(f"value.horizon: must be a non-negative number of periods; got {t!r}")
        x, t_x, T = check_summary(summary)
        with np.errstate(divide="ignore", under="ignore"):
            values = self._conditional_purchases(self._fitted(), float(t), x, t_x, T)
        return pd.Series(values, index=summary.index, name="predicted_purchases")

    def probability_alive(self, summary: pd.DataFrame) -> pd.Series:
        """P(the customer is still active at the calibration end | history)."""
        x, t_x, T = check_summary(summary)
        with np.errstate(divide="ignore", under="ignore"):
            values = expit(-self._log_odds_dead(self._fitted(), x, t_x, T))
        return pd.Series(values, index=summary.index, name="probability_alive")

    def expected_purchases_new(self, t: float | np.ndarray) -> float | np.ndarray:
        """E[X(t)]: expected repeat purchases of a new customer in (0, t] (the cumulative-purchases curve)."""
        values = self._new_customer_purchases(self._fitted(), np.asarray(t, dtype=float))
        return float(values) if np.ndim(values) == 0 else values

    @staticmethod
    def _log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def _log_odds_dead(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """log(P(dead) / P(alive)) at T: -inf for a customer who must be alive."""
        raise NotImplementedError

    @staticmethod
    def _conditional_purchases(
        params: np.ndarray, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def _new_customer_purchases(params: np.ndarray, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError
