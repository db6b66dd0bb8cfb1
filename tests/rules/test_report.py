"""Readable rule artifacts."""

from __future__ import annotations

import pandas as pd
import pytest

from crmflow.rules.report import evaluation_table, top_rules_markdown


def test_top_rules_by_lift_as_markdown() -> None:
    table = pd.DataFrame(
        {
            "antecedents": ["bread", "beer"],
            "consequents": ["butter", "chips"],
            "support": [0.1, 0.05],
            "confidence": [0.5, 0.8],
            "lift": [1.5, 3.0],
            "support_count": [10, 5],
        }
    )
    text = top_rules_markdown(table, 1)
    assert text.splitlines()[0] == "Top 1 of 2 rules by lift"
    assert "| {beer} → {chips} | 0.0500 | 0.800 | 3.00 | 5 |" in text and "bread" not in text


def test_evaluation_beside_the_baseline() -> None:
    metrics = {"hit_rate_at_5": 0.4, "precision_at_5": 0.08, "coverage": 0.9, "baseline_hit_rate_at_5": 0.3}
    table = evaluation_table(metrics, 5).set_index("metric")
    assert table.loc["hit_rate_at_5"].tolist() == [0.4, 0.3]
    assert table.loc["precision_at_5", "most_popular_baseline"] == pytest.approx(0.06)
