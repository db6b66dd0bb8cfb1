"""Hidden Markov customer states over per-period activity: `segmentation=hmm`.

`CustomerStates` fits a Gaussian HMM (hmmlearn) to an `ActivityPanel`
(`crmflow.segmentation.activity.period_activity`): X is transformed to log1p(max(X, 0)) (a period whose
returns outweigh its purchases counts as no spend) and standardised per column, with the mean and
scale learned in `fit`. States are then ORDERED by mean activity, the mean of the standardised
features of the state's Gaussian mean, highest first, and the hmmlearn model itself is permuted to
that order, so every output (paths, current states, transition matrix) uses the same numbering:
state 0 is the most active. Names: "active", then "slowing" (3 states) or "state 2" ... "state n-1"
(their 1-based rank; 4+ states), and "dormant" last.

Log-likelihood, BIC and AIC are those of the transformed data, so they compare fits of one panel.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from hmmlearn.hmm import GaussianHMM
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from crmflow.config.constraints import Interval, Options
from crmflow.config.validation import validate_parameters
from crmflow.errors import DataError
from crmflow.segmentation.activity import PERIODS, ActivityPanel, period_activity

__all__ = ["COVARIANCE_TYPES", "CustomerStates", "state_names"]

logger = logging.getLogger(__name__)

COVARIANCE_TYPES = ("diag", "full", "spherical", "tied")


def state_names(n_states: int) -> list[str]:
    """Names of the ordered states: active, [slowing | state 2 ... state n-1], dormant."""
    if n_states == 3:
        return ["active", "slowing", "dormant"]
    return ["active", *(f"state {k}" for k in range(2, n_states)), "dormant"]


def n_parameters(n_states: int, n_features: int, covariance_type: str) -> int:
    """Free parameters: start probabilities, transitions, means and covariances."""
    n, d = n_states, n_features
    covariances = {"spherical": n, "diag": n * d, "full": n * d * (d + 1) // 2, "tied": d * (d + 1) // 2}
    return (n - 1) + n * (n - 1) + n * d + covariances[covariance_type]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence hmmlearn's log messages and the warnings of its fit (KMeans, numerical)."""
    hmm_logger = logging.getLogger("hmmlearn")
    level = hmm_logger.level
    hmm_logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        hmm_logger.setLevel(level)


def _converged(model: GaussianHMM) -> bool:
    """EM stopped on `tol` (hmmlearn's own `converged` is also True after n_iter iterations)."""
    history = model.monitor_.history
    return len(history) >= 2 and history[-1] - history[-2] < model.monitor_.tol


def _permute(model: GaussianHMM, order: np.ndarray) -> None:
    """Renumber the model's states in place: new state k is old state order[k]."""
    if model.covariance_type != "tied":  # hmmlearn's setter re-validates, which a degenerate state can fail
        model._covars_ = model._covars_[order]
    model.means_ = model.means_[order]
    model.startprob_ = model.startprob_[order]
    model.transmat_ = model.transmat_[np.ix_(order, order)]


class CustomerStates(BaseEstimator):
    """Hidden Markov customer states: fit on an ActivityPanel, then each customer's path and current state.

    Learned: `model_` (the GaussianHMM, states in the ordered numbering), `state_names_`,
    `segment_names_` (index -> name), `transmat_` and `startprob_` (ordered, labelled), `means_`
    (mean raw activity of the rows Viterbi assigns to each state; NaN for an unused state),
    `scaler_mean_`/`scaler_scale_` (of log1p(X)), `log_likelihood_`, `n_parameters_`, `bic_`, `aic_`,
    `converged_`, `labels_` (current state per customer) and `state_shares_` (customers per current state).
    """

    activity_panel = True  # the segmentation stage hands it the log's ActivityPanel, not the customer features
    objective = ("bic", "minimize")  # what tuning.objectives.segmentation: {metric: auto} means for it
    criteria = ("log_likelihood", "bic", "aic")  # metrics of every fit (`criteria_`)
    panel_params = ("period", "features")  # the parameters its panel depends on (one panel each, per run)

    _parameter_constraints: dict[str, list[Any]] = {
        "n_states": [Interval(int, 2, None)],
        "period": [Options(PERIODS)],
        "features": [list, tuple],
        "covariance_type": [Options(COVARIANCE_TYPES)],
        "n_iter": [Interval(int, 1, None)],
        "tol": [Interval(float, 0, None)],
        "random_state": [None, Interval(int, 0, 2**32 - 1)],
        "n_init": [Interval(int, 1, None)],
    }

    def __init__(
        self,
        n_states: int = 3,
        period: str = "M",
        features: Sequence[str] = ("purchases", "spend"),
        covariance_type: str = "diag",
        n_iter: int = 100,
        tol: float = 1e-3,
        random_state: int | None = None,
        n_init: int = 1,
    ) -> None:
        self.n_states = n_states
        self.period = period
        self.features = features
        self.covariance_type = covariance_type
        self.n_iter = n_iter
        self.tol = tol
        self.random_state = random_state
        self.n_init = n_init

    def panel(self, transactions: pd.DataFrame, cutoff: pd.Timestamp) -> ActivityPanel:
        """The activity panel this model reads: `period` totals of `features` before `cutoff`."""
        return period_activity(transactions, cutoff, self.period, list(self.features))

    @property
    def criteria_(self) -> dict[str, float]:
        """The fit's log-likelihood, BIC and AIC (metrics of the segmentation stage)."""
        check_is_fitted(self, "bic_")
        return {"log_likelihood": float(self.log_likelihood_), "bic": float(self.bic_), "aic": float(self.aic_)}

    def check_panel(self, panel: ActivityPanel) -> None:
        """DataError naming segmentation.n_states when the panel is too short for the states, before any fit."""
        self._check_panel(panel)

    def _check_panel(self, panel: ActivityPanel) -> None:
        n_rows, longest = panel.X.shape[0], int(np.max(panel.lengths, initial=0))
        if n_rows < self.n_states or longest < self.n_states:
            raise DataError(
                f"segmentation.n_states: {self.n_states} states need at least {self.n_states} periods; the "
                f"activity panel has {n_rows} customer-periods and its longest sequence {longest}"
            )
        if not np.all(np.isfinite(panel.X)):
            raise DataError("segmentation: the activity panel holds missing or infinite values")

    def scale(self, panel: ActivityPanel) -> np.ndarray:
        """log1p(max(X, 0)) standardised with the fitted mean and scale: what the model sees."""
        check_is_fitted(self, "scaler_mean_")
        if tuple(panel.features) != self.features_:
            raise DataError(
                f"segmentation.features: the model was fitted on {list(self.features_)}; "
                f"the panel has {list(panel.features)}"
            )
        return (np.log1p(np.maximum(panel.X, 0.0)) - self.scaler_mean_) / self.scaler_scale_

    def _fit_model(self, Z: np.ndarray, lengths: np.ndarray, seed: int) -> tuple[GaussianHMM, float]:
        model = GaussianHMM(
            n_components=self.n_states,
            covariance_type=self.covariance_type,
            n_iter=self.n_iter,
            tol=self.tol,
            random_state=seed,
        )
        model.fit(Z, lengths)
        return model, float(model.score(Z, lengths))

    def fit(self, panel: ActivityPanel) -> CustomerStates:
        """Fit `n_init` seeded HMMs (the best log-likelihood wins), order the states; returns self."""
        validate_parameters(self, "segmentation")
        self._check_panel(panel)
        logged = np.log1p(np.maximum(panel.X, 0.0))
        self.features_ = tuple(panel.features)
        self.scaler_mean_ = logged.mean(axis=0)
        spread = logged.std(axis=0)
        self.scaler_scale_ = np.where(spread > 0, spread, 1.0)
        Z, lengths = self.scale(panel), np.asarray(panel.lengths)
        seeds = np.random.SeedSequence(self.random_state).generate_state(self.n_init)
        with _quiet():
            fits = [self._fit_model(Z, lengths, int(seed)) for seed in seeds]
        finite = [fit for fit in fits if np.isfinite(fit[1])]
        if not finite:
            raise DataError("segmentation.n_states: the HMM fit gave no finite log-likelihood; try fewer states")
        self.model_, self.log_likelihood_ = max(finite, key=lambda fit: fit[1])
        self.converged_ = _converged(self.model_)
        if not self.converged_:
            logger.warning("CustomerStates: EM did not converge in %d iterations (tol %g)", self.n_iter, self.tol)
        _permute(self.model_, np.argsort(-self.model_.means_.mean(axis=1), kind="stable"))
        self._describe(panel, Z)
        return self

    def _describe(self, panel: ActivityPanel, Z: np.ndarray) -> None:
        """The labelled summaries of the fitted, ordered model."""
        names = state_names(self.n_states)
        self.state_names_ = names
        self.segment_names_ = dict(enumerate(names))
        self.transmat_ = pd.DataFrame(self.model_.transmat_, index=names, columns=names)
        self.startprob_ = pd.Series(self.model_.startprob_, index=names, name="startprob")
        self.n_parameters_ = n_parameters(self.n_states, Z.shape[1], self.covariance_type)
        self.bic_ = -2 * self.log_likelihood_ + self.n_parameters_ * np.log(Z.shape[0])
        self.aic_ = -2 * self.log_likelihood_ + 2 * self.n_parameters_
        paths = self._decode(Z, panel.lengths)
        raw = pd.DataFrame(panel.X, columns=list(panel.features))
        self.means_ = raw.groupby(paths).mean().reindex(range(self.n_states)).set_axis(names)
        self.labels_ = self._current(panel, paths)
        counts = np.bincount(self.labels_.to_numpy(), minlength=self.n_states)
        self.state_shares_ = pd.Series(counts / counts.sum(), index=names, name="share")

    def _decode(self, Z: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        with _quiet():
            return self.model_.decode(Z, np.asarray(lengths), algorithm="viterbi")[1]

    def _current(self, panel: ActivityPanel, paths: np.ndarray) -> pd.Series:
        return pd.Series(paths[panel.last_rows()], index=panel.customers, name="state")

    def predict_paths(self, panel: ActivityPanel) -> np.ndarray:
        """The ordered state of every row of the panel (each customer's Viterbi path)."""
        check_is_fitted(self, "model_")
        return self._decode(self.scale(panel), panel.lengths)

    def predict_current(self, panel: ActivityPanel) -> pd.Series:
        """Each customer's most likely current state (the last state of the Viterbi path), by customer."""
        return self._current(panel, self.predict_paths(panel))

    def fit_predict(self, panel: ActivityPanel, y: Any = None) -> pd.Series:
        """Fit, then the current state of each customer of the panel."""
        return self.fit(panel).labels_
