"""Recipes on the real datasets under CRMFLOW_DATA_DIR (required in CI, skipped elsewhere)."""

from __future__ import annotations

import pytest

from crmflow.run import run
from helpers import compose_config, data_file


@pytest.mark.slow
@pytest.mark.real_data
def test_telco_churn_logistic_regression_lands_in_the_published_band(tracking_overrides: list[str]) -> None:
    data_file("WA_Fn-UseC_-Telco-Customer-Churn.csv")
    result = run(compose_config(["+experiment=telco_churn", "tuning=off", "segmentation=none"] + tracking_overrides))
    assert result.metrics["data.n_customers"] == 7043
    assert result.metrics["features.target_rate"] == pytest.approx(1869 / 7043)
    assert 0.83 <= result.metrics["predictor.roc_auc"] <= 0.86
