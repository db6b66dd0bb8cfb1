"""The predictor stage: a pipeline from raw customer columns to a prediction.

A stratified share of the customers is held out first; k-fold CV (and tuning) runs on the rest with
preprocessing fitted inside each fold; the best candidate is refit on the rest, scored on the
holdout, and logged as one scikit-learn pipeline.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import TransformedTargetRegressor
from sklearn.model_selection import BaseCrossValidator
from sklearn.pipeline import Pipeline

from crmflow.config.components import ComponentSpec
from crmflow.config.goals import Objective
from crmflow.errors import ConfigError, DataError
from crmflow.plots.prediction import importance_bars
from crmflow.prediction.caveats import predictor_caveats
from crmflow.prediction.evaluation import OutOfFold, out_of_fold
from crmflow.prediction.importance import feature_importances
from crmflow.prediction.settings import LOG1P, PredictorSettings
from crmflow.prediction.task import REGRESSION, Task, task_of
from crmflow.preprocessing import build_preprocessor, require_numeric
from crmflow.segmentation.assign import SegmentAssigner
from crmflow.stages.contract import FoldReport, LoggedModel, RunState, Stage, StageResult, TuningResult

logger = logging.getLogger(__name__)


@dataclass
class PredictorInput:
    """The training rows (CV, tuning and refit), the held-out rows, and how to build a pipeline."""

    task: Task
    X: pd.DataFrame
    y: pd.Series
    X_holdout: pd.DataFrame
    y_holdout: pd.Series
    preprocessing: Any
    segments: SegmentAssigner | None
    cv: BaseCrossValidator
    settings: PredictorSettings
    seed: int
    cache_dir: str | None = None

    def pipeline(self, estimator: Any, cached: bool = False) -> Pipeline:
        """A fresh unfitted pipeline: [segment labels] → preprocessing → estimator.

        `cached`: the steps before the estimator do not change between trials, so cross-validation fits them
        once per fold and reuses them (scikit-learn's `Pipeline(memory=...)`, on disk, so forked workers share
        it); the refit, logged pipeline has no cache.
        """
        steps: list[tuple[str, Any]] = [("segment", self.segments)] if self.segments is not None else []
        steps += [("preprocess", build_preprocessor(self.preprocessing)), ("model", self._model(estimator))]
        return Pipeline(steps, memory=self.cache_dir if cached else None)

    def _model(self, estimator: Any) -> Any:
        """The estimator, fitted on log(1 + y) and predicting expm1 of its output with target_transform=log1p."""
        if self.settings.target_transform == LOG1P:
            return TransformedTargetRegressor(estimator, func=np.log1p, inverse_func=np.expm1, check_inverse=False)
        return estimator


@dataclass
class CrossValidated:
    """A candidate's out-of-fold predictions, its decision threshold and its fold-averaged metrics."""

    out_of_fold: OutOfFold
    threshold: float | None
    metrics: dict[str, float]


class PredictorStage(Stage):
    name = "predictor"
    settings_type = PredictorSettings

    def metric_names(self, spec: ComponentSpec) -> list[str]:
        return list(task_of(spec).metrics)

    def tuning_folds(self, spec: ComponentSpec) -> int:
        return int(spec.settings.cv_folds)

    def default_objective(self, spec: ComponentSpec) -> Objective:
        return task_of(spec).objective

    def caveats(self, spec: ComponentSpec, metrics: Mapping[str, float], data: Mapping[str, float]) -> list[str]:
        return predictor_caveats(metrics, data)

    def check_config(self, spec: ComponentSpec) -> None:
        if spec.settings.target_transform == LOG1P and task_of(spec) is not REGRESSION:
            raise ConfigError(
                f"predictor.settings.target_transform: {LOG1P} transforms a regression target; "
                f"{spec.short_name} is a classifier (set it to none)"
            )

    def check(self, spec: ComponentSpec, state: RunState) -> None:
        if state.table is None or state.table.y is None:
            raise DataError(
                "predictor: the run has no target; use features=rfm (churn or spend target) or set "
                "data.customers.target"
            )
        settings: PredictorSettings = spec.settings
        task_of(spec).check_target(state.table.y, spec.short_name, settings.cv_folds, settings.holdout_fraction)
        if settings.target_transform == LOG1P and state.table.y.min() <= -1:
            raise DataError(
                f"predictor.settings.target_transform: {LOG1P} needs target '{state.table.y.name}' > -1; "
                f"its minimum is {state.table.y.min():g}"
            )

    def prepare(self, spec: ComponentSpec, state: RunState) -> PredictorInput:
        settings: PredictorSettings = spec.settings
        task = task_of(spec)
        segments = None
        if settings.segment_feature and state.segments is not None and state.segments.segmenter is None:
            logger.info(
                "predictor: the segments come from the transaction log, not the customer features, so they cannot "
                "be refitted inside the folds and are not a feature"
            )
        elif settings.segment_feature and state.segments is not None:
            segments = SegmentAssigner(
                build_preprocessor(state.preprocessing), state.segments.segmenter, state.segments.columns
            )
        X, y = state.table.X, state.table.y
        preview = X.assign(segment="segment_0") if segments is not None else X
        require_numeric(build_preprocessor(state.preprocessing).fit_transform(preview.head(200)), "predictor")
        train, holdout = task.holdout_split(y, settings.holdout_fraction, state.seed)
        return PredictorInput(
            task,
            X.iloc[train],
            y.iloc[train],
            X.iloc[holdout],
            y.iloc[holdout],
            state.preprocessing,
            segments,
            task.splitter(settings.cv_folds, state.seed),
            settings,
            state.seed,
            str(state.artifact_dir / "predictor_pipeline_cache"),
        )

    def _cross_validate(
        self, estimator: Any, prepared: PredictorInput, report: FoldReport | None = None
    ) -> CrossValidated:
        task, y = prepared.task, prepared.y.to_numpy()
        oof = out_of_fold(
            prepared.pipeline(estimator, cached=True),
            task,
            prepared.X,
            prepared.y,
            prepared.cv,
            prepared.settings.n_jobs,
            report,
            prepared.settings.threshold,
        )
        threshold = task.decision_threshold(prepared.settings.threshold, y, oof.predictions)
        return CrossValidated(oof, threshold, oof.fold_mean(task, y, threshold))

    def score(
        self, estimator: Any, prepared: PredictorInput, spec: ComponentSpec, report: FoldReport | None = None
    ) -> dict[str, float]:
        return self._cross_validate(estimator, prepared, report).metrics

    def finalize(
        self, estimator: Any, prepared: PredictorInput, spec: ComponentSpec, state: RunState, tuned: TuningResult | None
    ) -> StageResult:
        task, folder, privacy = prepared.task, state.artifact_dir, state.privacy
        validated = self._cross_validate(estimator, prepared)
        threshold, metrics = validated.threshold, dict(validated.metrics)
        headline = next(iter(task.metrics))  # roc_auc or rmse: its spread over the folds, for the report
        metrics[f"{headline}_std"] = validated.out_of_fold.fold_std(task, prepared.y.to_numpy(), threshold, headline)
        model = task.final_model(prepared.pipeline(estimator), threshold).fit(prepared.X, prepared.y)
        sets = {"out-of-fold": (prepared.y.to_numpy(), validated.out_of_fold.predictions)}
        oof = _predictions(task, prepared.y, sets["out-of-fold"][1], threshold)
        artifacts = [privacy.to_csv(oof, folder / "predictor_oof_predictions.csv")]  # ids as tracking.privacy says
        if len(prepared.y_holdout):
            predicted = task.predict(model, prepared.X_holdout)
            sets["holdout"] = (prepared.y_holdout.to_numpy(), predicted)
            metrics.update({f"holdout_{k}": v for k, v in task.evaluate(*sets["holdout"], threshold).items()})
            holdout = _predictions(task, prepared.y_holdout, predicted, threshold)
            artifacts.append(privacy.to_csv(holdout, folder / "predictor_holdout_predictions.csv"))
        if threshold is not None:
            metrics["threshold"] = threshold
        metrics.update(n_train=float(len(prepared.y)), n_holdout=float(len(prepared.y_holdout)))
        artifacts += task.plots(sets, threshold, folder)
        artifacts += _importances(model, prepared, folder)
        example = privacy.example(prepared.X)  # with privacy on, a synthetic row, never a customer's
        return StageResult(metrics, artifacts, LoggedModel(model, example, name="model"))


def _predictions(task: Task, y: pd.Series, predicted: np.ndarray, threshold: float | None) -> pd.DataFrame:
    """The actual values beside the predictions, indexed by customer id."""
    return y.to_frame("actual").assign(**task.prediction_columns(predicted, threshold))


def _importances(model: Any, prepared: PredictorInput, folder: Path) -> list[Path]:
    """Importances on the holdout (on the training rows when there is none), as CSV and bar chart."""
    X, y = (prepared.X_holdout, prepared.y_holdout) if len(prepared.y_holdout) else (prepared.X, prepared.y)
    table = feature_importances(
        model, X, y, prepared.task.permutation_scoring, prepared.settings.permutation_repeats, prepared.seed
    )
    path = folder / "predictor_feature_importances.csv"
    table.to_csv(path, index=False)
    return [path, importance_bars(table, folder / "predictor_feature_importances.png")]
