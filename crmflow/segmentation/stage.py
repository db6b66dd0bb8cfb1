"""The segmentation stage: preprocess once, cluster per trial, profile the best segmentation."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from crmflow.config.components import ComponentSpec
from crmflow.errors import DataError
from crmflow.plots import segment_scatter
from crmflow.preprocessing import build_preprocessor, require_numeric
from crmflow.segmentation.metrics import (
    NOISE,
    SEGMENTATION_METRICS,
    segmentation_metrics,
)
from crmflow.segmentation.plots import objective_by_size, profile_heatmap
from crmflow.segmentation.profiles import segment_profiles
from crmflow.segmentation.stability import bootstrap_stability
from crmflow.stages.base import RunContext, Stage, StageResult

logger = logging.getLogger(__name__)


@dataclass
class SegmentationSettings:
    """`segmentation.settings`: feature columns to cluster, silhouette sample size, stability resamples."""

    columns: list[str] | None
    silhouette_sample_size: int
    stability_resamples: int
    max_noise_share: float


@dataclass
class SegmentationInput:
    """The customers' raw features, their preprocessed matrix, the label (if any) and the run seed."""

    raw: pd.DataFrame
    matrix: pd.DataFrame
    target: pd.Series | None
    seed: int

    def inputs(self, estimator: Any) -> pd.DataFrame:
        """What the segmenter reads: the raw features for rule-based segmenters, else the matrix."""
        return self.raw if getattr(estimator, "raw_features", False) else self.matrix

    def fit_labels(self, estimator: Any, rows: np.ndarray | None = None) -> np.ndarray:
        """Fit a fresh clone on all customers (or on `rows`) and return their labels."""
        X, y = self.inputs(estimator), self.target
        if rows is not None:
            X, y = X.iloc[rows], None if y is None else y.iloc[rows]
        return np.asarray(clone(estimator).fit_predict(X, y))


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
    constant = matrix.columns[matrix.nunique() <= 1].tolist()
    if matrix.shape[1] == 0 or len(constant) == matrix.shape[1]:
        raise DataError("segmentation: every feature is constant after preprocessing; nothing to segment")
    if constant:
        logger.warning(
            "segmentation: columns %s are constant after preprocessing and do not shape the segments", constant[:5]
        )
    return matrix


def purchase_history(ctx: RunContext) -> pd.DataFrame | None:
    """The transactions up to the customer table's cutoff: the period the features describe."""
    transactions, cutoff = ctx.data.transactions, ctx.table.cutoff
    if transactions is None or cutoff is None or "timestamp" not in transactions:
        return transactions
    return transactions[transactions["timestamp"] <= cutoff]


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
        estimator = spec.build({})
        n_segments = getattr(estimator, "n_clusters", getattr(estimator, "n_components", None))
        if isinstance(n_segments, int) and n_segments > len(ctx.table.X):
            raise DataError(
                f"segmentation: {n_segments} segments requested for {len(ctx.table.X)} customers; "
                "lower the number of segments"
            )
        check_features = getattr(estimator, "check_features", None)
        if check_features is not None:
            check_features(ctx.table.X[self._columns(spec, ctx)], ctx.table.y)

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
        return prepared.fit_labels(estimator)

    def _metrics(self, estimator: Any, prepared: SegmentationInput, labels: np.ndarray, spec: ComponentSpec) -> dict:
        settings: SegmentationSettings = spec.settings
        metrics = segmentation_metrics(prepared.matrix, labels, settings.silhouette_sample_size, prepared.seed)
        metrics["stability"] = bootstrap_stability(
            lambda rows: prepared.fit_labels(estimator, rows), labels, settings.stability_resamples, prepared.seed
        )
        return metrics

    def score(self, estimator: Any, prepared: SegmentationInput, spec: ComponentSpec) -> dict[str, float]:
        labels = self._labels(estimator, prepared)
        noise_share = float(np.mean(labels == NOISE))
        if noise_share > spec.settings.max_noise_share:
            raise ValueError(
                f"{noise_share:.0%} of customers are noise, above segmentation.settings.max_noise_share="
                f"{spec.settings.max_noise_share}; this candidate cannot win"
            )
        return self._metrics(estimator, prepared, labels, spec)

    def finalize(
        self, estimator: Any, prepared: SegmentationInput, spec: ComponentSpec, ctx: RunContext
    ) -> StageResult:
        fitted = clone(estimator)
        labels = fitted.fit_predict(prepared.inputs(estimator), prepared.target)
        labels = pd.Series(np.asarray(labels), index=prepared.raw.index, name="segment")
        metrics = self._metrics(estimator, prepared, labels.to_numpy(), spec)
        names = {NOISE: "noise", **getattr(fitted, "segment_names_", {})}
        profiles = segment_profiles(prepared.raw, labels, prepared.target, names, purchase_history(ctx))
        artifacts = [ctx.artifact_dir / "segment_profiles.csv", ctx.artifact_dir / "segment_labels.csv"]
        profiles.to_csv(artifacts[0])
        labels.to_csv(artifacts[1])
        artifacts.append(segment_scatter(prepared.matrix, labels, ctx.artifact_dir / "segments_pca.png"))
        artifacts.append(profile_heatmap(profiles, ctx.artifact_dir / "segment_profile_heatmap.png"))
        tuned = ctx.outputs.get(f"{self.name}.tuning")
        if tuned is not None:
            plot = objective_by_size(tuned.history, tuned.objective.metric, ctx.artifact_dir / "objective_by_size.png")
            artifacts += [plot] if plot is not None else []
        ctx.outputs["segment_labels"] = labels
        ctx.outputs["segmenter"] = clone(estimator)
        ctx.outputs["segment_columns"] = list(prepared.raw.columns)
        return StageResult(metrics, artifacts)
