"""Caveats: the plain sentences that say a stage's result is useless, with hand-checked noise bands."""

from __future__ import annotations

import json
import math

import pytest

from crmflow.caveats import auc_near_chance, auc_standard_error, dominant_share, hit_rate_metric, rate_vs_baseline
from crmflow.forecasting.caveats import forecaster_caveats
from crmflow.prediction.caveats import predictor_caveats
from crmflow.rules.stage import RulesStage
from crmflow.run import RunResult, StageSummary
from crmflow.run_summary import reproduce_command, run_summary_text
from crmflow.segmentation.caveats import segmentation_caveats
from crmflow.sequences.stage import SequencesStage
from crmflow.summary import format_summary
from crmflow.value.stage import ValueStage


def test_a_rate_below_its_baseline_loses_to_it() -> None:
    # Groceries: rules hit-rate 0.089 against the most-popular baseline's 0.253
    caveat = rate_vs_baseline("hit-rate", 0.089, 0.253, "most-popular baseline", 1000)
    assert caveat == "hit-rate 0.089 loses to the most-popular baseline's 0.253 (1000 customers)"


def test_a_small_gain_is_within_noise_and_a_large_one_is_not() -> None:
    # noise = 2 * sqrt((0.31 * 0.69 + 0.30 * 0.70) / 1000) = 2 * 0.02059 = 0.0412 > 0.01
    caveat = rate_vs_baseline("hit-rate", 0.31, 0.30, "baseline", 1000)
    assert caveat is not None and "within noise" in caveat and "±0.0412" in caveat
    # noise = 2 * sqrt((0.4 * 0.6 + 0.3 * 0.7) / 4596) = 0.0198 < 0.1
    assert rate_vs_baseline("hit-rate", 0.40, 0.30, "baseline", 4596) is None
    assert rate_vs_baseline("hit-rate", float("nan"), 0.30, "baseline", 4596) is None
    below = rate_vs_baseline("hit-rate", 0.29, 0.30, "baseline", 1000)  # below, but by less than the noise
    assert below is not None and below.startswith("hit-rate 0.29 is below the baseline's 0.3, within noise")
    assert rate_vs_baseline("hit-rate", 0.0, 0.0, "baseline", 1000) is not None  # nothing hit either way


def test_an_auc_far_below_chance_is_called_reversed() -> None:
    caveat = auc_near_chance("ROC-AUC", 0.3, 400, 0.5)  # 0.3 < 0.5 - 2 * 0.029
    assert caveat is not None and "the ranking is reversed" in caveat


def test_auc_noise_follows_hanley_and_mcneil() -> None:
    # sqrt((50 + 50 + 1) / (12 * 50 * 50)) = sqrt(101 / 30000) = 0.05802
    assert auc_standard_error(50, 50) == pytest.approx(math.sqrt(101 / 30000))
    assert auc_near_chance("ROC-AUC", 0.523, 100, 0.5) is not None  # 0.023 < 2 * 0.058
    assert auc_near_chance("ROC-AUC", 0.8, 100, 0.5) is None
    assert auc_near_chance("ROC-AUC", 0.6, 100, 0.0) is None  # no positives: nothing to say


def test_predictor_caveats_read_the_holdout_and_the_target_rate() -> None:
    near = {"holdout_roc_auc": 0.523, "n_holdout": 400.0}
    (caveat,) = predictor_caveats(near, {"features.target_rate": 0.3})
    assert caveat.startswith("the holdout ROC-AUC 0.523 is near chance")
    assert predictor_caveats({"holdout_roc_auc": 0.9, "n_holdout": 400.0}, {"features.target_rate": 0.3}) == []
    (worse,) = predictor_caveats({"holdout_r2": -0.05, "n_holdout": 200.0}, {})
    assert "no better than predicting every customer's average" in worse
    assert predictor_caveats({"holdout_r2": 0.4, "n_holdout": 200.0}, {}) == []
    (cross_validated,) = predictor_caveats({"roc_auc": 0.51, "n_train": 500.0}, {"features.target_rate": 0.3})
    assert cross_validated.startswith("the cross-validated ROC-AUC 0.51 is near chance")


def test_segmentation_caveats_name_a_dominant_segment_and_noise() -> None:
    assert dominant_share(0.87) == "one segment holds 87% of the customers: the segmentation hardly separates them"
    assert segmentation_caveats({"largest_segment_share": 0.5, "noise_share": 0.0}) == []
    assert len(segmentation_caveats({"largest_segment_share": 0.9, "noise_share": 0.6})) == 2


def test_forecaster_caveats_compare_each_error_with_seasonal_naive() -> None:
    metrics = {"mase": 1.2, "baseline_mase": 1.1, "holdout_mase": 0.7, "holdout_baseline_mase": 0.9}
    assert forecaster_caveats(metrics) == ["the backtest MASE 1.2 is no better than the seasonal-naive forecast's 1.1"]


def test_stage_caveats_find_their_metrics_whatever_k() -> None:
    assert hit_rate_metric({"precision_at_10": 0.1, "hit_rate_at_10": 0.2}) == "hit_rate_at_10"
    assert hit_rate_metric({"baseline_hit_rate_at_10": 0.2}) is None
    rules = {"hit_rate_at_10": 0.089, "baseline_hit_rate_at_10": 0.253, "n_evaluated": 1000.0}
    assert len(RulesStage().caveats(None, rules, {})) == 1
    sequences = {
        "hit_rate_at_5": 0.5,
        "baseline_hit_rate_at_5": 0.3,
        "personal_baseline_hit_rate_at_5": 0.6,
        "basket_rules_hit_rate_at_5": 0.3,
        "n_evaluated": 2000.0,
    }
    (caveat,) = SequencesStage().caveats(None, sequences, {})
    assert "own-favourites baseline" in caveat
    value = {"holdout_mae": 0.84, "baseline_holdout_mae": 0.83}
    assert ValueStage().caveats(None, value, {}) == [
        "the purchase model's holdout MAE 0.84 is no better than the naive rate baseline's 0.83"
    ]


def test_the_summary_prints_caveats_as_lines_and_the_record_keeps_them() -> None:
    stage = StageSummary("rules", "AssociationRules", {"hit_rate_at_5": 0.089}, {}, None, ["it loses"])
    result = RunResult("abc", "1", "sqlite:///mlruns/mlflow.db", "fpgrowth", [stage], {})
    assert "note: rules: it loses" in format_summary(result).splitlines()
    text = run_summary_text("abc", "fpgrowth", "x", ["rules=fpgrowth"], {"data.n": float("nan")}, [stage], {})
    record = json.loads(text)
    assert record["stages"][0]["flags"] == ["it loses"]
    assert record["data"] == {"data.n": None}
    assert record["command"] == "crmflow rules=fpgrowth"


def test_the_reproduce_command_quotes_for_the_shell_and_hides_passwords() -> None:
    command = reproduce_command(["data.transactions.sep=;", "tuning.storage=postgresql://u:secret@h/db"])
    assert command == "crmflow 'data.transactions.sep=;' 'tuning.storage=postgresql://u:***@h/db'"
