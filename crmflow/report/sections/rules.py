"""The rules section: the strongest rules in words and the hit-rate against the most-popular baseline."""

from __future__ import annotations

import json
from typing import Any

from crmflow.caveats import hit_rate_metric
from crmflow.report.figures import key_figures, percent, rule_sentence, table_rows, times
from crmflow.report.source import RunSource

TOP = 10
FIGURES = {"n_rules": "rules found", "n_itemsets": "frequent item sets", "n_evaluated": "customers evaluated"}


def top_rules(rules: Any, top: int = TOP) -> list[dict[str, str]]:
    """The `top` rules by lift as sentences with their support and confidence."""
    best = rules.sort_values("lift", ascending=False, kind="stable").head(top)
    return [
        {
            "sentence": rule_sentence(*_items(row), float(row.lift)),
            "confidence": percent(row.confidence),
            "support": percent(row.support),
        }
        for row in best.itertuples()
    ]


def _items(row: Any) -> tuple[str | list[str], str | list[str]]:
    """A rule's two sides: the exact item lists when the table has them (an item name may hold a comma)."""
    listed = getattr(row, "antecedent_items", None), getattr(row, "consequent_items", None)
    if all(isinstance(side, str) for side in listed):
        return json.loads(listed[0]), json.loads(listed[1])
    return str(row.antecedents), str(row.consequents)


def hit_rate_lead(metrics: dict[str, float]) -> str | None:
    """The rules' hit-rate against the popularity baseline in one sentence."""
    name = hit_rate_metric(metrics)
    if name is None or f"baseline_{name}" not in metrics:
        return None
    k, rate, baseline = name.rpartition("_")[2], metrics[name], metrics[f"baseline_{name}"]
    ratio = f" ({times(rate / baseline)} the baseline)" if baseline > 0 else ""
    return (
        f"Recommending {k} items from the rules hits at least one item of the customer's next basket for "
        f"{percent(rate)} of customers, against {percent(baseline)} when recommending the {k} most popular "
        f"items{ratio}."
    )


def section(run: RunSource) -> dict[str, Any] | None:
    metrics = run.stage_metrics("rules")
    rules = run.csv("rules/rules.csv")
    evaluation = run.csv("rules/evaluation_vs_baseline.csv")
    return {
        "title": "Association rules",
        "lead": hit_rate_lead(metrics),
        "figures": key_figures(metrics, FIGURES),
        "rules": [] if rules is None or rules.empty else top_rules(rules),
        "evaluation": None if evaluation is None else table_rows(evaluation),
        "images": run.folder_images("rules", ("rules_scatter.png",)),
    }
