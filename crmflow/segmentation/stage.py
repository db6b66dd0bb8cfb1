"""The segmentation stage: preprocess once, cluster per trial, profile the best segmentation."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from crmflow.config.components import ComponentSpec
from crmflow.config.goals import Objective
from crmflow.errors import ConfigError, DataError
from crmflow.plots.segments import objective_by_size, profile_heatmap, segment_scatter, segment_sizes
from crmflow.preprocessing import build_preprocessor, require_numeric
from crmflow.segmentation.caveats import segmentation_caveats
from crmflow.segmentation.cost import check_fit_memory
from crmflow.segmentation.metrics import (
    NOISE,
    SEGMENTATION_METRICS,
    segmentation_metrics,
)
from crmflow.segmentation.profiles import segment_profiles
from crmflow.segmentation.sampling import SampledSegmenter, assignment_metrics
from crmflow.segmentation.segmenter import (
    check_features,
    reads_activity,
    reads_raw_features,
    requested_segments,
    segment_names,
)
from crmflow.segmentation.settings import SegmentationSettings
from crmflow.segmentation.stability import bootstrap_stability
from crmflow.segmentation.transitions import next_period_shares, state_artifacts
from crmflow.stages.contract import RunState, Segments, Stage, StageResult, TuningResult

logger = logging.getLogger(__name__)
STABILITY = "stability"


@dataclass
class SegmentationInput:
    """The customers' raw features, their preprocessed matrix, the label (if any), the run seed, whether
    trials compute `stability` (it refits the segmenter `stability_resamples` times: only when it is the
    objective; the chosen segmentation always has it), and the seeded sample size each fit takes
    (`segmentation.settings.fit_sample`; None = every customer)."""

    raw: pd.DataFrame
    matrix: pd.DataFrame
    target: pd.Series | None
    seed: int
    trial_stability: bool = True
    fit_sample: int | None = None
    history: pd.DataFrame | None = None  # the transactions, for segmenters that read per-period activity
    cutoff: Any = None
    panels: dict = field(default_factory=dict)  # activity panels by the segmenter's panel_params

    def panel(self, estimator: Any) -> Any:
        """The activity panel of the table's customers the segmenter reads (built once per panel_params)."""
        key = tuple((name, repr(getattr(estimator, name))) for name in getattr(type(estimator), "panel_params", ()))
        if key not in self.panels:
            self.panels[key] = estimator.panel(self.history, self.cutoff).subset(self.raw.index)
        return self.panels[key]

    def fit(self, estimator: Any) -> tuple[Any, np.ndarray]:
        """A fresh clone fitted on every customer (on a sample with a fit sample), and the labels of all of them;
        a segmenter of activity labels the customers of its panel, the others (no complete period) are noise."""
        if reads_activity(estimator):
            fitted = clone(estimator).fit(self.panel(estimator))
            return fitted, _aligned(fitted.labels_, self.raw.index)
        fitted = clone(self.segmenter(estimator))
        return fitted, np.asarray(fitted.fit_predict(self.inputs(estimator), self.target))

    def inputs(self, estimator: Any) -> pd.DataFrame:
        """What the segmenter reads: the raw features for rule-based segmenters, else the matrix."""
        return self.raw if reads_raw_features(estimator) else self.matrix

    def segmenter(self, estimator: Any) -> Any:
        """The estimator, or with a fit sample the estimator fitted on a seeded sample that assigns the rest."""
        return estimator if self.fit_sample is None else SampledSegmenter(estimator, self.fit_sample, self.seed)

    def fit_labels(self, estimator: Any, rows: np.ndarray | None = None) -> np.ndarray:
        """Fit a fresh clone on all customers (or on `rows`; on a sample of them with a fit sample) and
        return the labels of all of them (or of `rows`)."""
        if reads_activity(estimator):
            customers = self.raw.index if rows is None else self.raw.index[rows]
            return _aligned(clone(estimator).fit(self.panel(estimator).subset(customers)).labels_, customers)
        X, y = self.inputs(estimator), self.target
        if rows is not None:
            X, y = X.iloc[rows], None if y is None else y.iloc[rows]
        return np.asarray(clone(self.segmenter(estimator)).fit_predict(X, y))


def _aligned(labels: pd.Series, customers: pd.Index) -> np.ndarray:
    """Labels by customer id in the order of `customers`; noise for those without one."""
    return labels.reindex(customers).fillna(NOISE).astype(int).to_numpy()


def _criteria(fitted: Any) -> dict[str, float]:
    """The extra metrics a segmenter's fit reports (its class lists their names in `criteria`)."""
    return dict(fitted.criteria_) if getattr(type(fitted), "criteria", ()) else {}


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


def purchase_history(state: RunState) -> pd.DataFrame | None:
    """The transactions up to the customer table's cutoff: the period the features describe."""
    transactions, cutoff = state.data.transactions, state.table.cutoff
    if transactions is None or cutoff is None or "timestamp" not in transactions:
        return transactions
    return transactions[transactions["timestamp"] <= cutoff]


class SegmentationStage(Stage):
    name = "segmentation"
    settings_type = SegmentationSettings
    provides = frozenset({"segments"})
    example_option = "kmeans"

    def metric_names(self, spec: ComponentSpec) -> list[str]:
        return [*SEGMENTATION_METRICS, *getattr(type(spec.build({})), "criteria", ())]

    def default_objective(self, spec: ComponentSpec) -> Objective:
        """The segmenter's own (`objective`, e.g. BIC for hidden Markov states), else the silhouette."""
        return Objective(*getattr(type(spec.build({})), "objective", ("silhouette", "maximize")))

    def caveats(self, spec: ComponentSpec, metrics: Mapping[str, float], data: Mapping[str, float]) -> list[str]:
        return segmentation_caveats(metrics)

    def check_config(self, spec: ComponentSpec) -> None:
        size_parameter = spec.settings.size_parameter
        n_segments = requested_segments(spec.build({}), size_parameter)  # the declared size parameter exists
        if n_segments is not None and n_segments < 2:
            raise ConfigError(
                f"{spec.key}.{size_parameter}: {n_segments} segment(s) requested; a segmentation needs at least 2"
            )
        fit_sample = spec.settings.fit_sample
        if n_segments is not None and fit_sample is not None and n_segments > fit_sample:
            raise ConfigError(
                f"{spec.key}.settings.fit_sample: {fit_sample} customers cannot make the {n_segments} segments of "
                f"{spec.key}.{size_parameter}; fit on at least {n_segments} customers"
            )

    def check(self, spec: ComponentSpec, state: RunState) -> None:
        if state.table is None:
            raise DataError("segmentation: needs a customer table; set features=rfm or give data.customers")
        coming = state.coming_columns
        missing = [c for c in self._columns(spec, state) if c not in state.table.X.columns and c not in coming]
        if missing:
            raise DataError(
                f"segmentation.settings.columns: {missing} are not customer features; "
                f"available: {list(state.table.X.columns)}"
            )
        if len(state.table.X) < 3:
            raise DataError(f"segmentation: needs at least 3 customers; got {len(state.table.X)}")
        estimator = spec.build({})
        n_segments = requested_segments(estimator, spec.settings.size_parameter)
        if n_segments is not None and n_segments > len(state.table.X):
            raise DataError(
                f"segmentation: {n_segments} segments requested for {len(state.table.X)} customers; "
                "lower the number of segments"
            )
        settings: SegmentationSettings = spec.settings
        check_fit_memory(
            spec.short_name, settings.memory, settings.memory_budget_gib, len(state.table.X), settings.fit_sample
        )
        present = [c for c in self._columns(spec, state) if c in state.table.X.columns]  # later: coming columns too
        check_features(estimator, state.table.X[present], state.table.y)
        if reads_activity(estimator):
            if settings.fit_sample is not None:
                raise ConfigError(f"{spec.key}.settings.fit_sample: {spec.short_name} fits every customer's activity")
            estimator.check_panel(estimator.panel(state.data.transactions, state.table.cutoff))

    @staticmethod
    def _columns(spec: ComponentSpec, state: RunState) -> list[str]:
        return list(spec.settings.columns or state.table.X.columns)

    def prepare(self, spec: ComponentSpec, state: RunState) -> SegmentationInput:
        columns = self._columns(spec, state)
        raw = state.table.X[columns]
        matrix = _checked_matrix(build_preprocessor(state.preprocessing).fit_transform(raw))
        trial_stability = state.trials_report(self.name, STABILITY)
        fit_sample = spec.settings.fit_sample
        fit_sample = fit_sample if fit_sample is not None and fit_sample < len(raw) else None  # None: all customers
        if fit_sample is not None:
            logger.info(
                "segmentation: each fit takes a seeded sample of %d of the %d customers and assigns the others; "
                "metrics are computed on every customer",
                fit_sample,
                len(raw),
            )
        return SegmentationInput(
            raw, matrix, state.table.y, state.seed, trial_stability, fit_sample, state.data.transactions,
            state.table.cutoff,
        )  # fmt: skip

    def _fit(self, estimator: Any, prepared: SegmentationInput, size_parameter: str | None) -> tuple[Any, np.ndarray]:
        n_segments = requested_segments(estimator, size_parameter)
        fitted = prepared.fit_sample or len(prepared.matrix)
        if n_segments is not None and n_segments > fitted:
            raise DataError(f"segmentation: {n_segments} segments requested for {fitted} customers")
        return prepared.fit(estimator)

    def _metrics(
        self, estimator: Any, prepared: SegmentationInput, labels: np.ndarray, spec: ComponentSpec, stability: bool
    ) -> dict:
        settings: SegmentationSettings = spec.settings
        metrics = segmentation_metrics(prepared.matrix, labels, settings.silhouette_sample_size, prepared.seed)
        if stability:
            metrics[STABILITY] = bootstrap_stability(
                lambda rows: prepared.fit_labels(estimator, rows), labels, settings.stability_resamples, prepared.seed
            )
        return metrics

    def score(self, estimator: Any, prepared: SegmentationInput, spec: ComponentSpec) -> dict[str, float]:
        fitted, labels = self._fit(estimator, prepared, spec.settings.size_parameter)
        noise_share = float(np.mean(labels == NOISE))
        if noise_share > spec.settings.max_noise_share:
            raise ValueError(
                f"{noise_share:.0%} of customers are noise, above segmentation.settings.max_noise_share="
                f"{spec.settings.max_noise_share}; this candidate cannot win"
            )
        return {**self._metrics(estimator, prepared, labels, spec, prepared.trial_stability), **_criteria(fitted)}

    def finalize(
        self,
        estimator: Any,
        prepared: SegmentationInput,
        spec: ComponentSpec,
        state: RunState,
        tuned: TuningResult | None,
    ) -> StageResult:
        fitted, labels = prepared.fit(estimator)
        labels = pd.Series(labels, index=prepared.raw.index, name="segment")
        try:
            metrics = self._metrics(estimator, prepared, labels.to_numpy(), spec, stability=True)
        except ValueError as error:  # e.g. one segment besides noise: a trial fails, the chosen fit stops the run
            raise DataError(f"{spec.key}: {spec.short_name}: {error}; change its parameters or the option") from None
        metrics.update({**assignment_metrics(fitted, len(labels)), **_criteria(fitted)})
        names = {NOISE: "noise", **segment_names(fitted)}
        profiled = prepared.raw.join(state.table.X[[c for c in state.coming_columns if c not in prepared.raw]])
        profiles = segment_profiles(profiled, labels, prepared.target, names, purchase_history(state))
        states = state_artifacts(fitted, state.artifact_dir)  # hidden Markov states: transitions, mean activity
        profiles = profiles.join(next_period_shares(fitted))
        artifacts = [state.artifact_dir / "segment_profiles.csv", state.artifact_dir / "segment_labels.csv", *states]
        profiles.to_csv(artifacts[0])
        state.privacy.to_csv(labels, artifacts[1])  # ids as tracking.privacy says
        artifacts.append(segment_scatter(prepared.matrix, labels, state.artifact_dir / "segments_pca.png"))
        artifacts.append(profile_heatmap(profiles, state.artifact_dir / "segment_profile_heatmap.png"))
        artifacts.append(segment_sizes(profiles, state.artifact_dir / "segment_sizes.png"))
        if tuned is not None:
            plot = objective_by_size(
                tuned.history,
                tuned.objective.metric,
                state.artifact_dir / "objective_by_size.png",
                spec.settings.size_parameter,
            )
            artifacts += [plot] if plot is not None else []
        # a segmenter of activity cannot be refitted on feature rows inside the predictor's folds: labels only
        segmenter = None if reads_activity(estimator) else clone(prepared.segmenter(estimator))
        state.segments = Segments(labels, segmenter, list(prepared.raw.columns))
        return StageResult(metrics, artifacts)
