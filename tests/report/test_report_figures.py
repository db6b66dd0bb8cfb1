"""Numbers in words: hand-checked sentences, shares and the customers flagged per 1,000."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from crmflow.report.figures import flagged_per_thousand, item_list, key_figures, percent, rule_sentence, shown, times
from crmflow.report.sections.predictor import auc_band, cv_spread, drivers
from crmflow.report.sections.sequences import markdown_rows, sentence
from crmflow.report.sections.tuning import search_space


def test_rule_sentence_names_the_items_and_the_lift() -> None:
    assert rule_sentence("cheese, tortillas", "salsa", 6.808) == (
        "Customers who buy cheese and tortillas also buy salsa: 6.8× more often than average."
    )
    assert (
        rule_sentence("a, b, c", "d, e", 8.0)
        == "Customers who buy a, b and c also buy d and e: 8.0× more often than average."
    )


def test_rule_sentence_keeps_an_item_whose_name_holds_a_comma() -> None:
    assert rule_sentence(["TRAY, BREAKFAST IN BED"], ["TEA CUP"], 3.0) == (
        "Customers who buy TRAY, BREAKFAST IN BED also buy TEA CUP: 3.0× more often than average."
    )


def test_the_rules_table_logs_exact_item_lists() -> None:
    from crmflow.rules.report import readable

    table = pd.DataFrame(
        {"antecedents": [frozenset({"TRAY, BREAKFAST IN BED", "CUP"})], "consequents": [frozenset({"TEA"})]}
    )
    shown = readable(table, item_lists=True)
    assert shown.loc[0, "antecedents"] == "CUP, TRAY, BREAKFAST IN BED"  # ambiguous as text
    assert shown.loc[0, "antecedent_items"] == '["CUP", "TRAY, BREAKFAST IN BED"]'
    assert list(readable(table).columns) == ["antecedents", "consequents"]


def test_item_list() -> None:
    assert item_list([]) == "" and item_list(["x"]) == "x" and item_list(["x", " y "]) == "x and y"


def test_flagged_per_thousand_from_a_tiny_holdout() -> None:
    # scores >= 0.5: 0.9 (churned), 0.7 (stayed), 0.6 (churned) -> 3 of 5 flagged, 2 of them truly churned
    table = pd.DataFrame({"actual": [1, 0, 1, 1, 0], "probability": [0.9, 0.7, 0.4, 0.6, 0.1]})
    found = flagged_per_thousand(table, 0.5)
    assert found["per_thousand"] == pytest.approx(600.0)
    assert found["precision"] == pytest.approx(2 / 3)
    assert found["true_per_thousand"] == pytest.approx(400.0)
    assert flagged_per_thousand(table, 0.95)["per_thousand"] == 0.0 and math.isnan(
        flagged_per_thousand(table, 0.95)["precision"]
    )
    assert flagged_per_thousand(table, 0.7)["per_thousand"] == pytest.approx(400.0)  # the threshold itself is flagged


def test_shown_numbers() -> None:
    assert shown(20343.0) == "20,343" and shown(0.21027) == "0.21" and shown(0.3973) == "0.397"
    assert shown(float("nan")) == "–" and shown(None) == "–" and shown(69358.25) == "69,358"
    assert percent(0.2536) == "25.4%" and times(8.04) == "8.0×" and times(0.035) == "0.035×"


def test_key_figures_show_shares_and_rates_as_percentages() -> None:
    figures = key_figures(
        {"largest_segment_share": 0.366, "n_segments": 4.0},
        {"n_segments": "segments", "largest_segment_share": "largest", "absent": "x"},
    )
    assert figures == [{"label": "segments", "value": "4"}, {"label": "largest", "value": "36.6%"}]


def test_auc_band_by_hand() -> None:
    # A = 0.5, 10 and 10: Q1 = Q2 = 1/3; variance = (0.25 + 9/12 + 9/12) / 100 = 0.0175; 1.96 * sqrt = 0.2593
    assert auc_band(0.5, 10, 10) == pytest.approx(1.96 * math.sqrt(0.0175))


def test_the_cv_spread_is_shown_only_when_logged() -> None:
    assert cv_spread({"roc_auc": 0.88, "roc_auc_std": 0.0123}, "roc_auc") == "± 0.0123 (std over the folds)"
    assert cv_spread({"roc_auc": 0.88}, "roc_auc") is None


def test_drivers_by_absolute_importance_with_the_sign_of_a_coefficient() -> None:
    table = pd.DataFrame(
        {"feature": ["a_b", "c", "d"], "importance": [0.2, -0.9, 0.5], "kind": ["coefficient (x)"] * 3}
    )
    found = drivers(table, top=2)
    assert [(d["feature"], d["way"]) for d in found] == [("c", "lowers"), ("d", "raises")]


def test_sequential_rules_from_the_markdown_table() -> None:
    text = "| antecedent | next basket | support | confidence | lift |\n|---|---|---|---|---|\n| {milk} -> {eggs} | {bread} | 0.02 | 0.905 | 1.80 |\n"
    rows = markdown_rows(text)
    assert rows == [
        {
            "antecedent": "{milk} -> {eggs}",
            "next basket": "{bread}",
            "support": "0.02",
            "confidence": "0.905",
            "lift": "1.80",
        }
    ]
    assert sentence(rows[0]) == "Customers who bought milk then eggs buy bread next in 90.5% of cases (lift 1.80)."
    assert markdown_rows("No sequential rule reached the minimum support and confidence.\n") == []


def test_search_space_from_the_logged_params() -> None:
    params = {
        "predictor.search_space.C.type": "float",
        "predictor.search_space.C.low": "0.001",
        "predictor.search_space.C.high": "100.0",
        "predictor.search_space.C.log": "True",
        "predictor.search_space.class_weight.choices": "[None, 'balanced']",
        "predictor.search_space.class_weight.type": "categorical",
        "rules.search_space.k.type": "int",
    }
    assert search_space(params, "predictor") == [
        {"parameter": "C", "tried": "float from 0.001 to 100.0 (log scale)"},
        {"parameter": "class_weight", "tried": "one of [None, 'balanced']"},
    ]


def test_forecast_lead_and_backtest_rows() -> None:
    from crmflow.report.sections.forecaster import backtest_rows, lead

    metrics = {"mase": 0.8, "baseline_mase": 1.0, "holdout_mase": 0.6, "holdout_baseline_mase": 0.75}
    assert lead(metrics).endswith(
        "0.6 against 0.75 for the seasonal-naive baseline (same value one season earlier): 20.0% lower error."
    )
    assert lead({"mase": 1.2, "baseline_mase": 1.0}).endswith("20.0% higher error.")
    assert backtest_rows(metrics) == [["MASE (backtest folds)", "0.8", "1"], ["MASE (held-out folds)", "0.6", "0.75"]]


def test_value_sentences() -> None:
    from crmflow.report.sections.value import holdout_check, lead

    metrics = {
        "clv_total": 69358.25,
        "clv_mean": 89.96,
        "p_alive_mean": 0.985,
        "holdout_mae": 0.79,
        "baseline_holdout_mae": 0.77,
    }
    assert lead(metrics) == (
        "The customers are worth 69,358 in expected lifetime value (90 each on average); on average a customer is "
        "still active with probability 98.5%."
    )
    assert holdout_check(metrics).endswith("against 0.77 for the naive rate baseline: no better than the baseline.")


def test_a_wide_png_is_told_by_its_header(tmp_path) -> None:
    import struct

    from crmflow.report.source import PNG_SIGNATURE, is_wide

    def png(width: int, height: int):
        path = tmp_path / f"{width}x{height}.png"
        path.write_bytes(PNG_SIGNATURE + b"\x00\x00\x00\rIHDR" + struct.pack(">II", width, height))
        return path

    assert is_wide(png(990, 352)) and not is_wide(png(800, 600)) and not is_wide(None)
    (tmp_path / "x.svg").write_text("<svg/>")
    assert not is_wide(tmp_path / "x.svg")
