"""Segment labels feed the churn model; the logged model (segmenter refitted inside it) loads and predicts."""

from __future__ import annotations

import pytest
from helpers import compose_config

from crmflow.model_loading import load_model
from crmflow.run import run

FAST_PREDICTOR = [
    "rules=none",
    "tuning=off",
    "data.n_customers=600",
    "predictor.settings.cv_folds=2",
    "predictor.settings.holdout_fraction=0",
    "predictor.settings.permutation_repeats=1",
]


@pytest.mark.slow
@pytest.mark.parametrize(
    "option",
    ["dbscan", "birch"],  # no predict; a BIRCH tree skops cannot store: both assign by nearest customer (skops)
)
def test_churn_model_with_segment_feature_is_logged_and_loads(
    option: str, tracking_overrides: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")  # no crmflow model needs pickle
    result = run(compose_config([f"segmentation={option}", *FAST_PREDICTOR, *tracking_overrides]))
    model = load_model(result.model_uri, result.tracking_uri)
    predictions = model.predict(model.input_example)
    assert len(predictions) == len(model.input_example)
    assert set(predictions) <= {0, 1}
