"""The forecaster contract: `fit(series)` on a regular time series, `predict(horizon)` with intervals."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from threadpoolctl import threadpool_limits

from crmflow.config.constraints import Interval
from crmflow.config.validation import validate, validate_parameters
from crmflow.errors import DataError

logger = logging.getLogger(__name__)

PREDICT_CONSTRAINTS = {"horizon": [Interval(int, 1, None)], "level": [Interval(float, 0, 1, closed="neither")]}


@dataclass
class Forecast:
    """Point forecasts with a prediction interval, indexed by the future periods."""

    mean: pd.Series
    lower: pd.Series
    upper: pd.Series
    level: float

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"forecast": self.mean, "lower": self.lower, "upper": self.upper})


def future_index(index: pd.DatetimeIndex, horizon: int) -> pd.DatetimeIndex:
    """The `horizon` periods after the end of a regular index."""
    return pd.date_range(index[-1] + index.freq, periods=horizon, freq=index.freq)


def describe(series: pd.Series) -> str:
    """E.g. "the weekly revenue series", for error messages."""
    return f"the {series.name} series" if series.name else "the series"


@contextmanager
def quiet_single_threaded(owner: str) -> Iterator[list[str]]:
    """Run a fit or forecast with one BLAS thread, collecting its warnings instead of printing them.

    statsmodels' state-space filters multiply many tiny matrices: with several BLAS threads on a busy
    machine they run 10-50x slower. The block's warnings (e.g. ConvergenceWarning) are logged at
    debug level and returned in the yielded list; nothing outside the block is affected.
    """
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(limits=1):
        warnings.simplefilter("always")
        yield notes
    notes.extend(f"{w.category.__name__}: {w.message}" for w in caught)
    for note in notes:
        logger.debug("%s: %s", owner, note)


class Forecaster(BaseEstimator):
    """Base of crmflow's forecasters; subclasses implement `_fit` and `_forecast`.

    `fit` checks the series (regular DatetimeIndex, finite values, long enough, positive when the
    model is multiplicative) and learns; `predict(horizon, level)` returns a `Forecast`.
    Subclasses declare their parameters' rules in `_parameter_constraints` (crmflow.config.validation).
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {}

    def __str__(self) -> str:
        """The repr on one line, for error messages."""
        return " ".join(repr(self).split())

    def min_train_size(self) -> int:
        """The fewest observations this configuration can be fitted on."""
        return 2

    def requires_positive(self) -> bool:
        """Whether the model is multiplicative and so needs strictly positive values."""
        return False

    def check_params(self) -> None:
        """Raise ConfigError naming `forecaster.<parameter>` for an invalid parameter (called before any fit)."""
        validate_parameters(self, "forecaster")

    def check_series(self, series: pd.Series) -> None:
        """DataError when this configuration cannot be fitted on `series`."""
        self.check_params()
        if not isinstance(series, pd.Series) or not isinstance(series.index, pd.DatetimeIndex):
            raise DataError("forecaster: expected a pandas Series with a DatetimeIndex")
        if series.index.freq is None:
            raise DataError(f"forecaster: {describe(series)} has no regular frequency (index.freq is None)")
        values = series.to_numpy(dtype="float64")
        if not np.isfinite(values).all():
            raise DataError(f"forecaster: {describe(series)} has {int((~np.isfinite(values)).sum())} missing values")
        needed = self.min_train_size()
        if len(series) < needed:
            raise DataError(f"forecaster: {describe(series)} has {len(series)} periods; {self} needs at least {needed}")
        if self.requires_positive() and (values <= 0).any():
            first = series.index[np.argmax(values <= 0)]
            raise DataError(
                f"forecaster: {self} is multiplicative and needs strictly positive values; "
                f"{describe(series)} has {int((values <= 0).sum())} value(s) <= 0 (first at {first:%Y-%m-%d}); "
                "use additive components (e.g. forecaster.seasonal=add), or a coarser frequency without empty periods"
            )

    def fit(self, series: pd.Series) -> Forecaster:
        self.check_series(series)
        self.index_ = series.index
        with quiet_single_threaded(type(self).__name__) as notes:
            self._fit(series.astype("float64"))
        self.fit_warnings_ = notes
        return self

    def predict(self, horizon: int, level: float = 0.95) -> Forecast:
        """Forecast the `horizon` periods after the training series, with a `level` prediction interval."""
        if not hasattr(self, "index_"):
            raise ValueError(f"{type(self).__name__} is not fitted yet; call fit(series) first")
        owner = f"{type(self).__name__}.predict"
        validate({"horizon": horizon, "level": level}, PREDICT_CONSTRAINTS, "", owner=owner)
        with quiet_single_threaded(type(self).__name__):
            mean, lower, upper = self._forecast(int(horizon), float(level))
        index = future_index(self.index_, int(horizon))
        mean, lower, upper = (pd.Series(np.asarray(v, dtype="float64"), index=index) for v in (mean, lower, upper))
        return Forecast(mean, lower, upper, float(level))

    def summary(self) -> str:
        """A text description of the fitted model, logged next to it."""
        return repr(self)

    def _fit(self, series: pd.Series) -> None:
        raise NotImplementedError

    def _forecast(self, horizon: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError
