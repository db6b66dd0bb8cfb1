"""The segmentation stage: preprocess once, cluster per trial, profile the best segmentation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from crmflow.config.components import ComponentSpec
from crmflow.errors import DataError
from crmflow.plots import segment_scatter
from crmflow.preprocessing import build_preprocessor, require_numeric
from crmflow.segmentation.metrics import SEGMENTATION_METRICS, segmentation_metrics
from crmflow.segmentation.profiles import segment_profiles
from crmflow.stages.base import RunContext, Stage, StageResult


@dataclass
class SegmentationSettings:
    """`segmentation.settings`: which feature columns to cluster and the silhouette sample size."""

    columns: list[str] | None
    silhouette_sample_size: int


@dataclass
class SegmentationInput:
    raw: pd.DataFrame
    matrix: pd.DataFrame
    target: pd.Series | None
    seed: int


def _checked_matrix(matrix: pd.DataFrame) -> pd.DataFrame:
    require_numeric(matrix, "segmentation")
    all_nan = [c for c in matrix.columns if matrix[c].isna().all()]
    if all_nan:
        raise DataError(f"segmentation: columns {all_nan[:5]} are all NaN after preprocessing")
    if matrix.isna().any().any():
        raise DataError(
            "segmentation: the matrix has missing values after preprocessing; add an imputer step "
            "(e.g. preprocessing=standard)"
        )
    if matrix.shape[1] == 0 or (matrix.nunique() <= 1).all():
        raise DataError("segmentation: every feature is constant after preprocessing; nothing to segment")
    return matrix


class SegmentationStage(Stage):
    name = "segmentation"
    settings_type = SegmentationSettings

    def metric_names(self, spec: ComponentSpec) -> list[str]:
        return list(SEGMENTATION_METRICS)

    def check(self, spec: ComponentSpec, ctx: RunContext) -> None:
        if ctx.table is None:
            raise DataError("segmentation: needs a customer table; set features=rfm or give data.customers")
        missing = [c for c in self._columns(spec, ctx) if c not in ctx.table.X.columns]
        if missing:
            raise DataError(
                f"segmentation.settings.columns: {missing} are not customer features; "
                f"available: {list(ctx.table.X.columns)}"
            )
        if len(ctx.table.X) < 3:
            raise DataError(f"segmentation: needs at least 3 customers; got {len(ctx.table.X)}")

    @staticmethod
    def _columns(spec: ComponentSpec, ctx: RunContext) -> list[str]:
        return list(spec.settings.columns or ctx.table.X.columns)

    def prepare(self, spec: ComponentSpec, ctx: RunContext) -> SegmentationInput:
        columns = self._columns(spec, ctx)
        raw = ctx.table.X[columns]
        matrix = _checked_matrix(build_preprocessor(ctx.preprocessing).fit_transform(raw))
        return SegmentationInput(raw, matrix, ctx.table.y, ctx.seed)

    def _labels(self, estimator: Any, prepared: SegmentationInput) -> np.ndarray:
        n_segments = getattr(estimator, "n_clusters", getattr(estimator, "n_components", None))
        if isinstance(n_segments, int) and n_segments > len(prepared.matrix):
            raise DataError(f"segmentation: {n_segments} segments requested for {len(prepared.matrix)} customers")
        return np.asarray(estimator.fit_predict(prepared.matrix))

    def score(self, estimator: Any, prepared: SegmentationInput, spec: ComponentSpec) -> dict[str, float]:
        labels = self._labels(estimator, prepared)
        return segmentation_metrics(prepared.matrix, labels, spec.settings.silhouette_sample_size, prepared.seed)

    def finalize(self, estimator: Any, prepared: SegmentationInput, spec: ComponentSpec, ctx: RunContext) -> StageResult:
        labels = pd.Series(self._labels(estimator, prepared), index=prepared.raw.index, name="segment")
        metrics = segmentation_metrics(prepared.matrix, labels.to_numpy(), spec.settings.silhouette_sample_size, prepared.seed)
        profiles = segment_profiles(prepared.raw, labels, prepared.target)
        profile_path = ctx.artifact_dir / "segment_profiles.csv"
        profiles.to_csv(profile_path)
        labels_path = ctx.artifact_dir / "segment_labels.csv"
        labels.to_csv(labels_path)
        plot_path = segment_scatter(prepared.matrix, labels, ctx.artifact_dir / "segments_pca.png")
        ctx.outputs["segment_labels"] = labels
        ctx.outputs["segmenter"] = clone(estimator)
        ctx.outputs["segment_columns"] = list(prepared.raw.columns)
        return StageResult(metrics, [profile_path, labels_path, plot_path])
