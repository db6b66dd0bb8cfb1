"""Rule-based RFM segments: R, F and M scores 1..bins from quantiles, named by a configurable map."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import check_is_fitted

from crmflow.config.constraints import Interval, ListOf
from crmflow.config.validation import validate_parameters
from crmflow.errors import ConfigError, DataError

SCORES = ("r", "f", "m")
OTHER = "other"


def midrank_percentile(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Share of `reference` below each value, counting ties as half: equal values get equal scores."""
    below = np.searchsorted(reference, values, side="left")
    at_or_below = np.searchsorted(reference, values, side="right")
    return (below + at_or_below) / (2 * len(reference))


class RFMQuantileSegmenter(ClusterMixin, BaseEstimator):
    """Score recency (recent = high), frequency and monetary 1..`bins` by quantile; the first matching rule
    names the segment.

    `segments` is an ordered list of `{name, r: [low, high], f: [low, high], m: [low, high]}`; a score
    range left out matches any score. Customers no rule matches form the segment "other".
    Reads the raw (unpreprocessed) features, because scores are quantiles of the business values.
    """

    raw_features = True
    _parameter_constraints = {
        "segments": [ListOf(Mapping)],  # each rule's keys and score ranges are checked by `_rules`
        "bins": [Interval(int, 2, None)],
        "recency": [str],
        "frequency": [str],
        "monetary": [str],
    }

    def __init__(
        self,
        segments: Sequence[Mapping[str, Any]] = (),
        bins: int = 5,
        recency: str = "recency",
        frequency: str = "frequency",
        monetary: str = "monetary",
    ) -> None:
        self.segments = segments
        self.bins = bins
        self.recency = recency
        self.frequency = frequency
        self.monetary = monetary

    def _rules(self) -> list[tuple[str, dict[str, tuple[int, int]]]]:
        validate_parameters(self, "segmentation")
        if not self.segments:
            raise ConfigError("segmentation.segments: expected a list of {name, r, f, m} rules; got none")
        rules = []
        for i, rule in enumerate(self.segments):
            unknown = set(rule) - {"name", *SCORES}
            if "name" not in rule or unknown:
                raise ConfigError(f"segmentation.segments[{i}]: expected keys name, r, f, m; got {sorted(rule)}")
            ranges = {}
            for score in SCORES:
                low, high = rule.get(score, (1, self.bins))
                if not 1 <= low <= high <= self.bins:
                    raise ConfigError(
                        f"segmentation.segments[{i}].{score}: expected [low, high] with 1 <= low <= high <= "
                        f"{self.bins}; got {[low, high]}"
                    )
                ranges[score] = (int(low), int(high))
            rules.append((str(rule["name"]), ranges))
        return rules

    def _columns(self, X: pd.DataFrame) -> dict[str, str]:
        columns = {"r": self.recency, "f": self.frequency, "m": self.monetary}
        missing = [c for c in columns.values() if c not in X.columns]
        if missing:
            raise DataError(
                f"segmentation: rfm_quantiles needs the columns {missing} (features=rfm makes them); "
                f"available: {list(X.columns)}"
            )
        return columns

    def check_features(self, X: pd.DataFrame, y: Any = None) -> None:
        """The rules and the R/F/M columns, checked before anything is fitted."""
        self._rules()
        self._columns(X)

    def fit(self, X: pd.DataFrame, y: Any = None) -> RFMQuantileSegmenter:
        rules = self._rules()
        columns = self._columns(X)
        self.reference_ = {s: np.sort(X[c].to_numpy(dtype="float64")) for s, c in columns.items()}
        names = [name for name, _ in rules]
        self.segment_names_ = dict(enumerate([*dict.fromkeys(names), OTHER]))
        self.labels_ = self.predict(X)
        return self

    def fit_predict(self, X: pd.DataFrame, y: Any = None, **kwargs: Any) -> np.ndarray:
        return self.fit(X, y).labels_

    def scores(self, X: pd.DataFrame) -> pd.DataFrame:
        """The R, F, M scores (1..bins) of each row."""
        check_is_fitted(self, "reference_")
        columns = self._columns(X)
        scores = {}
        for score, column in columns.items():
            pct = midrank_percentile(self.reference_[score], X[column].to_numpy(dtype="float64"))
            pct = 1 - pct if score == "r" else pct  # a small recency (a recent purchase) scores high
            scores[score] = np.clip(np.ceil(pct * self.bins), 1, self.bins).astype(int)
        return pd.DataFrame(scores, index=X.index)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        scores = self.scores(X)
        index_of = {name: i for i, name in self.segment_names_.items()}
        labels = np.full(len(X), index_of[OTHER])
        unmatched = np.ones(len(X), dtype=bool)
        for name, ranges in self._rules():
            match = unmatched.copy()
            for score, (low, high) in ranges.items():
                match &= scores[score].between(low, high).to_numpy()
            labels[match] = index_of[name]
            unmatched &= ~match
        return labels
