"""Segment labels as a feature: a transformer that fits preprocessing + segmenter inside each fold."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.neighbors import KNeighborsClassifier

from crmflow.segmentation.segmenter import reads_raw_features
from crmflow.storable import as_storable, from_storable, skops_storable


class SegmentAssigner(TransformerMixin, BaseEstimator):
    """Add a categorical `segment` column computed by a segmenter fitted on the training rows.

    Segmenters without `predict` (e.g. DBSCAN), and fitted segmenters skops cannot store (e.g. BIRCH's
    tree of subclusters), assign new rows the segment of their nearest training customer, so the whole
    model scores raw customer rows and is logged without pickle (a segmenter parameter skops refuses is
    stored as its class and parameters: `crmflow.storable`). Rule-based segmenters (classes declaring
    `raw_features = True`) read the raw columns and the training label, not the preprocessed matrix.
    """

    def __init__(self, preprocessor: Any, segmenter: Any, columns: list[str] | None = None) -> None:
        self.preprocessor = preprocessor
        self.segmenter = segmenter
        self.columns = columns

    def _inputs(self, X: pd.DataFrame) -> pd.DataFrame:
        return X[list(self.columns)] if self.columns else X

    def _embed(self, X: pd.DataFrame, fit: bool = False) -> pd.DataFrame:
        if reads_raw_features(self.segmenter):
            return self._inputs(X)
        if fit:
            self.preprocessor_ = clone(self.preprocessor)
            return self.preprocessor_.fit_transform(self._inputs(X))
        return self.preprocessor_.transform(self._inputs(X))

    def fit(self, X: pd.DataFrame, y: Any = None) -> SegmentAssigner:
        embedded = self._embed(X, fit=True)
        segmenter = clone(self.segmenter)
        labels = segmenter.fit_predict(embedded, y)
        if hasattr(segmenter, "predict") and skops_storable(segmenter):
            self.assigner_ = segmenter
        else:
            self.assigner_ = KNeighborsClassifier(1).fit(embedded, labels)
        return self

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "segmenter": as_storable(self.segmenter)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__({**state, "segmenter": from_storable(state.get("segmenter"))})

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        labels = self.assigner_.predict(self._embed(X))
        return X.assign(segment=np.char.add("segment_", np.asarray(labels).astype(str)).astype(object))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([*(input_features if input_features is not None else []), "segment"], dtype=object)
