"""The predictor stage: a pipeline from raw customer columns to a prediction, scored by stratified CV."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline

from crmflow.config.components import ComponentSpec
from crmflow.errors import DataError
from crmflow.plots import classifier_curves
from crmflow.preprocessing import build_preprocessor, require_numeric
from crmflow.segmentation.assign import SegmentAssigner
from crmflow.stages.base import LoggedModel, RunContext, Stage, StageResult

SCORERS = {
    "roc_auc": "roc_auc",
    "pr_auc": "average_precision",
    "accuracy": "accuracy",
    "precision": "precision",
    "recall": "recall",
    "f1": "f1",
}


@dataclass
class PredictorSettings:
    """`predictor.settings`: CV folds, whether segment labels are a feature, CV parallelism."""

    cv_folds: int
    segment_feature: bool
    n_jobs: int


@dataclass
class PredictorInput:
    X: pd.DataFrame
    y: pd.Series
    preprocessing: Any
    segments: SegmentAssigner | None
    cv: StratifiedKFold
    n_jobs: int

    def pipeline(self, estimator: Any) -> Pipeline:
        """A fresh unfitted pipeline: [segment labels] → preprocessing → estimator."""
        steps: list[tuple[str, Any]] = [("segment", self.segments)] if self.segments is not None else []
        steps += [("preprocess", build_preprocessor(self.preprocessing)), ("model", estimator)]
        return Pipeline(steps)


def _check_target(y: pd.Series, folds: int) -> None:
    counts = y.value_counts()
    if len(counts) != 2:
        raise DataError(f"predictor: target '{y.name}' has {len(counts)} class(es); a classifier needs 2")
    if counts.min() < folds:
        raise DataError(
            f"predictor: target '{y.name}' has only {counts.min()} rows of class {counts.idxmin()}; "
            f"predictor.settings.cv_folds={folds} needs at least that many"
        )


class PredictorStage(Stage):
    name = "predictor"
    settings_type = PredictorSettings

    def metric_names(self, spec: ComponentSpec) -> list[str]:
        return list(SCORERS)

    def check(self, spec: ComponentSpec, ctx: RunContext) -> None:
        if ctx.table is None or ctx.table.y is None:
            raise DataError(
                "predictor: the run has no target; use features=rfm (churn label) or set data.customers.target"
            )
        _check_target(ctx.table.y, spec.settings.cv_folds)

    def prepare(self, spec: ComponentSpec, ctx: RunContext) -> PredictorInput:
        table = ctx.table
        settings: PredictorSettings = spec.settings
        segments = None
        if settings.segment_feature and ctx.outputs.get("segmenter") is not None:
            segments = SegmentAssigner(
                build_preprocessor(ctx.preprocessing), ctx.outputs["segmenter"], ctx.outputs["segment_columns"]
            )
        X = table.X
        preview = X.assign(segment="segment_0") if segments is not None else X
        require_numeric(build_preprocessor(ctx.preprocessing).fit_transform(preview.head(200)), "predictor")
        cv = StratifiedKFold(settings.cv_folds, shuffle=True, random_state=ctx.seed)
        return PredictorInput(X, table.y, ctx.preprocessing, segments, cv, settings.n_jobs)

    def _cross_validate(self, estimator: Any, prepared: PredictorInput, keep: bool) -> dict[str, Any]:
        return cross_validate(
            prepared.pipeline(estimator),
            prepared.X,
            prepared.y,
            cv=prepared.cv,
            scoring=SCORERS,
            n_jobs=prepared.n_jobs,
            error_score="raise",
            return_estimator=keep,
            return_indices=keep,
        )

    def score(self, estimator: Any, prepared: PredictorInput, spec: ComponentSpec) -> dict[str, float]:
        folds = self._cross_validate(estimator, prepared, keep=False)
        return {name: float(np.mean(folds[f"test_{name}"])) for name in SCORERS}

    def finalize(self, estimator: Any, prepared: PredictorInput, spec: ComponentSpec, ctx: RunContext) -> StageResult:
        folds = self._cross_validate(estimator, prepared, keep=True)
        metrics = {name: float(np.mean(folds[f"test_{name}"])) for name in SCORERS}
        out_of_fold = np.empty(len(prepared.y))
        for fitted, test_index in zip(folds["estimator"], folds["indices"]["test"], strict=True):
            out_of_fold[test_index] = positive_scores(fitted, prepared.X.iloc[test_index])
        curves = classifier_curves(prepared.y.to_numpy(), out_of_fold, ctx.artifact_dir / "predictor_curves.png")
        predictions = prepared.y.to_frame("actual").assign(score_out_of_fold=out_of_fold)
        predictions_path = ctx.artifact_dir / "predictor_oof_predictions.csv"
        predictions.to_csv(predictions_path)
        model = prepared.pipeline(estimator).fit(prepared.X, prepared.y)
        logged = LoggedModel(model, prepared.X.head(5), name="model")
        return StageResult(metrics, [curves, predictions_path], logged)


def positive_scores(model: Any, X: pd.DataFrame) -> np.ndarray:
    """Scores for the positive class: probabilities when available, else the decision function."""
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X)[:, 1]
    return model.decision_function(X)
