"""The data section: what was loaded, what cleaning removed, the customer table the stages used."""

from __future__ import annotations

from typing import Any

from crmflow.report.figures import key_figures, percent, shown
from crmflow.report.source import RunSource

LOADED = {
    "data.rows_in": "rows read",
    "data.rows_out": "rows kept after cleaning",
    "data.n_transactions": "transactions",
    "data.n_transaction_customers": "customers with transactions",
    "data.n_customers": "customers in the customer file",
}
TABLE = {
    "features.n_customers": "customers in the analysis table",
    "features.n_features": "features per customer",
    "features.customers_unmatched": "customers without a customer-file match",
    "features.rows_without_target": "customers dropped for lack of a target",
}
DROPPED = "data.rows_dropped_"


def data_metrics(run: RunSource) -> dict[str, float]:
    """The data.* and features.* metrics (run_summary.json's `data` when logged)."""
    logged = (run.summary or {}).get("data")
    if logged:
        return {k: float(v) for k, v in logged.items() if v is not None}
    return {k: v for k, v in run.metrics.items() if k.startswith(("data.", "features."))}


def section(run: RunSource) -> dict[str, Any] | None:
    metrics = data_metrics(run)
    if not metrics:
        return None
    cleaning = [
        {"step": name[len(DROPPED) :].replace("_", " "), "rows": shown(value)}
        for name, value in metrics.items()
        if name.startswith(DROPPED)
    ]
    removed = sum(v for k, v in metrics.items() if k.startswith(DROPPED))
    rows_in = metrics.get("data.rows_in")
    lead = f"{shown(metrics.get('data.n_transactions'))} transactions were loaded"
    if cleaning and rows_in:
        lead += f"; cleaning removed {shown(removed)} of {shown(rows_in)} rows ({percent(removed / rows_in)})"
    lead += "."
    target = metrics.get("features.target_rate")  # a binary target's rate, or an amount's mean
    if not metrics.get("data.n_customers"):  # no customer file was read
        metrics.pop("data.n_customers", None)
    return {
        "title": "Data",
        "lead": lead,
        "figures": key_figures(metrics, LOADED),
        "table_figures": key_figures(metrics, TABLE),
        "target_rate": None if target is None or not 0 <= target <= 1 else percent(target),
        "target_mean": None if target is None or 0 <= target <= 1 else shown(target),
        "target": run.target,
        "cleaning": cleaning,
    }
