"""The value section: customer lifetime value and P(alive) from the purchase model, checked on the holdout."""

from __future__ import annotations

import math
from typing import Any

from crmflow.report.figures import key_figures, percent, shown, table_rows
from crmflow.report.source import RunSource

FIGURES = {
    "n_customers": "customers modelled",
    "n_repeat_buyers": "repeat buyers",
    "clv_total": "total CLV",
    "clv_mean": "mean CLV per customer",
    "p_alive_mean": "mean P(alive)",
    "holdout_actual_total": "holdout purchases, actual",
    "holdout_predicted_total": "holdout purchases, predicted",
}
IMAGES = ("value_cumulative_purchases.png", "value_holdout_by_frequency.png", "value_p_alive.png")


def lead(metrics: dict[str, float]) -> str | None:
    """The expected value and the share of customers still active, in one sentence."""
    if "clv_total" not in metrics:
        return None
    text = f"The customers are worth {shown(metrics['clv_total'])} in expected lifetime value"
    if "clv_mean" in metrics:
        text += f" ({shown(metrics['clv_mean'])} each on average)"
    if "p_alive_mean" in metrics:
        text += f"; on average a customer is still active with probability {percent(metrics['p_alive_mean'])}"
    return text + "."


def holdout_check(metrics: dict[str, float]) -> str | None:
    """The model's holdout error per customer against the naive rate baseline's."""
    model, baseline = metrics.get("holdout_mae"), metrics.get("baseline_holdout_mae")
    if model is None or baseline is None or not (math.isfinite(model) and math.isfinite(baseline)):
        return None
    better = "better" if model < baseline else "no better"
    return (
        f"On the holdout period the model misses a customer's purchase count by {shown(model)} on average, "
        f"against {shown(baseline)} for the naive rate baseline: {better} than the baseline."
    )


def section(run: RunSource) -> dict[str, Any] | None:
    metrics = run.stage_metrics("value")
    by_frequency = run.csv("value/value_holdout_by_frequency.csv")
    return {
        "title": "Customer value (CLV, P(alive))",
        "lead": lead(metrics),
        "check": holdout_check(metrics),
        "figures": key_figures(metrics, FIGURES),
        "by_frequency": None if by_frequency is None else table_rows(by_frequency, first_as_text=False),
        "model": run.text("value/value_model.txt"),
        "images": run.folder_images("value", IMAGES),
    }
