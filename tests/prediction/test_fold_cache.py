"""Cross-validation fits the steps before the estimator once per fold and reuses them in later trials; the
logged pipeline carries no cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import compose_config

from crmflow.plan import plan_run
from crmflow.run import _load
from crmflow.segmentation.assign import SegmentAssigner

SMALL = [
    "data.n_customers=300",
    "data.days=400",
    "rules=none",
    "segmentation=kmeans",
    "segmentation.settings.stability_resamples=0",
    "tuning=off",
    "predictor.settings.cv_folds=3",
    "predictor.settings.permutation_repeats=1",
]


def test_segment_step_is_fitted_once_per_fold_across_trials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = plan_run(compose_config(SMALL))
    state, _ = _load(plan, tmp_path)
    (segmentation, kmeans), (predictor, logistic) = plan.stages
    segmentation.finalize(kmeans.build({}), segmentation.prepare(kmeans, state), kmeans, state, None)
    prepared = predictor.prepare(logistic, state)
    fits = []
    fit = SegmentAssigner.fit
    monkeypatch.setattr(SegmentAssigner, "fit", lambda self, X, y=None: fits.append(len(X)) or fit(self, X, y))

    first = predictor.score(logistic.build({"C": 0.1}), prepared, logistic)
    second = predictor.score(logistic.build({"C": 10.0}), prepared, logistic)
    assert len(fits) == 3  # three folds, fitted in the first trial only
    assert first != second  # the estimator is not cached: another C gives other scores

    result = predictor.finalize(logistic.build({"C": 10.0}), prepared, logistic, state, None)
    assert len(fits) == 4  # the refit on all training rows
    assert result.model.model.estimator.memory is None  # the logged pipeline points at no scratch folder
    assert result.metrics["roc_auc"] == pytest.approx(second["roc_auc"])
