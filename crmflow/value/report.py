"""The value stage's artifacts: the per-customer table (ids as `tracking.privacy` says), the model summary, plots."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from crmflow.plots.value import cumulative_plot, holdout_frequency_plot, p_alive_plot
from crmflow.stages.contract import RunState
from crmflow.value.estimator import CustomerValue
from crmflow.value.evaluation import cumulative_purchases, holdout_by_frequency, p_alive_matrix

if TYPE_CHECKING:
    from crmflow.value.stage import ValueInput

__all__ = ["CUSTOMER_COLUMNS", "value_artifacts"]

CUSTOMER_COLUMNS = [
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "expected_purchases",
    "p_alive",
    "expected_spend",
    "clv",
    "actual_purchases",
]


def model_text(fitted: CustomerValue, prepared: ValueInput) -> str:
    """The fitted parameters and log-likelihoods, and the calibration/holdout split, as plain text."""
    purchases, spend = fitted.purchases_, fitted.spend_
    lines = [
        f"calibration end: {prepared.end.date()}; holdout: {prepared.horizon:g} periods of "
        f"{prepared.settings.time_unit}; customers: {purchases.n_customers_}",
        f"{type(purchases).__name__}: " + ", ".join(f"{k} = {v:.6g}" for k, v in purchases.params_.items()),
        f"  log-likelihood {purchases.log_likelihood_:.4f} (penalizer {purchases.penalizer:g})",
    ]
    if spend is not None:
        lines.append(f"{type(spend).__name__}: " + ", ".join(f"{k} = {v:.6g}" for k, v in spend.params_.items()))
        lines.append(f"  log-likelihood {spend.log_likelihood_:.4f} over {spend.n_customers_} repeat buyers")
    return "\n".join(lines) + "\n"


def value_artifacts(fitted: CustomerValue, table: pd.DataFrame, prepared: ValueInput, state: RunState) -> list[Path]:
    """Write customer_value.csv, value_model.txt, value_holdout_by_frequency.csv and the three PNG plots."""
    out, unit, model = state.artifact_dir, prepared.settings.time_unit, fitted.purchases_
    shown = table[[c for c in CUSTOMER_COLUMNS if c in table]]
    artifacts = [state.privacy.to_csv(shown, out / "customer_value.csv")]  # ids as tracking.privacy says
    artifacts.append(out / "value_model.txt")
    artifacts[-1].write_text(model_text(fitted, prepared))
    by_frequency = holdout_by_frequency(table["frequency"], table["actual_purchases"], table["expected_purchases"])
    artifacts.append(out / "value_holdout_by_frequency.csv")
    by_frequency.to_csv(artifacts[-1], index=False)
    label = type(model).__name__
    title = f"{label}: holdout purchases ({prepared.horizon:g} {unit}) by calibration frequency"
    artifacts.append(holdout_frequency_plot(by_frequency, title, out / "value_holdout_by_frequency.png"))
    curve = cumulative_purchases(model, prepared.summary, prepared.repeats, prepared.end, prepared.horizon, unit)
    title = f"{label}: cumulative repeat purchases, actual vs expected"
    artifacts.append(cumulative_plot(curve, unit, title, out / "value_cumulative_purchases.png"))
    matrix = p_alive_matrix(model, prepared.summary, unit)
    title = f"{label}: P(alive) by frequency and recency (T = {matrix.columns.max():.1f} {unit})"
    artifacts.append(p_alive_plot(matrix, title, out / "value_p_alive.png"))
    return artifacts
