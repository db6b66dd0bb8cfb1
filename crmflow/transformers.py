"""Preprocessing steps scikit-learn lacks, as scikit-learn transformers a YAML `_target_` can name.

- `OutlierClipper`: clip each column to bounds learned on fit (IQR fences or quantiles).
- `Log1p`: log(1 + x) per column, for heavily skewed amounts such as RFM monetary and frequency.

Both keep NaN as NaN (impute before or after, as the step list says) and keep column names
under `set_output(transform="pandas")`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from crmflow.config.constraints import Boolean, Interval, Options
from crmflow.config.validation import validate_parameters
from crmflow.errors import DataError

__all__ = ["Log1p", "OutlierClipper"]


def _below_upper(params: Mapping[str, Any]) -> Interval:
    """`lower_quantile` must stay below `upper_quantile`."""
    upper = params["upper_quantile"]
    return Interval(float, 0, upper, closed="left", doc=f"a float in the range [0, upper_quantile) = [0, {upper:g})")


def _column_names(estimator: BaseEstimator, n_columns: int) -> list[str]:
    names = getattr(estimator, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else [f"x{i}" for i in range(n_columns)]


def _as_float_matrix(estimator: BaseEstimator, X: Any, reset: bool) -> np.ndarray:
    """Validate X as a float matrix that may hold NaN; records names and width when `reset`."""
    return validate_data(estimator, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=reset)


def _allow_nan(tags: Any) -> Any:
    tags.input_tags.allow_nan = True
    return tags


def _iqr_bounds(clipper: OutlierClipper, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q1, q3 = pd.DataFrame(matrix).quantile([0.25, 0.75]).to_numpy()
    spread = clipper.factor * (q3 - q1)
    return q1 - spread, q3 + spread


def _quantile_bounds(clipper: OutlierClipper, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lower, upper = pd.DataFrame(matrix).quantile([clipper.lower_quantile, clipper.upper_quantile]).to_numpy()
    return lower, upper


BOUNDS: dict[str, Callable[[OutlierClipper, np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    "iqr": _iqr_bounds,
    "quantile": _quantile_bounds,
}


class OutlierClipper(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Clip each column to bounds learned on fit; NaN stays NaN.

    `method="iqr"`: [Q1 - factor·IQR, Q3 + factor·IQR] (Tukey's fences);
    `method="quantile"`: [lower_quantile, upper_quantile] quantiles (winsorising).
    Quantiles skip NaN and interpolate linearly; an all-NaN column is left unbounded.
    """

    _parameter_constraints = {
        "method": [Options(BOUNDS)],
        "factor": [Interval(float, 0, None)],
        "lower_quantile": [_below_upper],
        "upper_quantile": [Interval(float, 0, 1)],
    }

    def __init__(
        self, method: str = "iqr", factor: float = 1.5, lower_quantile: float = 0.01, upper_quantile: float = 0.99
    ) -> None:
        self.method = method
        self.factor = factor
        self.lower_quantile = lower_quantile
        self.upper_quantile = upper_quantile

    def fit(self, X: Any, y: Any = None) -> OutlierClipper:
        """Learn per-column `lower_` and `upper_` bounds."""
        validate_parameters(self, "")  # a pipeline step: its config key is the caller's to add
        matrix = _as_float_matrix(self, X, reset=True)
        lower, upper = BOUNDS[self.method](self, matrix)
        self.lower_ = np.where(np.isnan(lower), -np.inf, lower)
        self.upper_ = np.where(np.isnan(upper), np.inf, upper)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Clip every column to its learned bounds."""
        check_is_fitted(self, ["lower_", "upper_"])
        return np.clip(_as_float_matrix(self, X, reset=False), self.lower_, self.upper_)

    def __sklearn_tags__(self) -> Any:
        return _allow_nan(super().__sklearn_tags__())


class Log1p(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """log(1 + x) of each column; NaN stays NaN.

    Values <= -1 (where log1p is -inf or undefined) are a DataError naming the column, unless
    `shift_negative`: then each column whose minimum is negative is shifted by that learned minimum
    (`shift_`) so it maps to 0, and later values below the learned minimum are floored at it.
    """

    _parameter_constraints = {"shift_negative": [Boolean()]}

    def __init__(self, shift_negative: bool = False) -> None:
        self.shift_negative = shift_negative

    def fit(self, X: Any, y: Any = None) -> Log1p:
        """Learn the per-column `shift_` (all zeros unless `shift_negative`)."""
        validate_parameters(self, "")  # a pipeline step: its config key is the caller's to add
        matrix = _as_float_matrix(self, X, reset=True)
        minimum = pd.DataFrame(matrix).min().to_numpy()
        negative = np.nan_to_num(minimum, nan=0.0) < 0
        self.shift_ = np.where(negative & bool(self.shift_negative), -minimum, 0.0)
        self._check_domain(matrix + self.shift_)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """log1p of each (shifted) column."""
        check_is_fitted(self, "shift_")
        shifted = _as_float_matrix(self, X, reset=False) + self.shift_
        if self.shift_negative:
            shifted = np.maximum(shifted, 0.0)
        self._check_domain(shifted)
        return np.log1p(shifted)

    def _check_domain(self, matrix: np.ndarray) -> None:
        bad = np.flatnonzero((matrix <= -1).any(axis=0))
        if bad.size:
            column = _column_names(self, matrix.shape[1])[bad[0]]
            raise DataError(
                f"Log1p: column '{column}' has values <= -1 (minimum {np.nanmin(matrix[:, bad[0]]):g}), "
                "where log1p is undefined; set shift_negative: true or clip the column first"
            )

    def __sklearn_tags__(self) -> Any:
        tags = _allow_nan(super().__sklearn_tags__())
        tags.input_tags.positive_only = not self.shift_negative  # the domain is (-1, inf); close enough
        return tags
