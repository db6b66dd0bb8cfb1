"""The forecast section: the forecast with its interval, and the backtest against the seasonal-naive baseline."""

from __future__ import annotations

import math
from typing import Any

from crmflow.report.figures import key_figures, percent, shown, table_rows
from crmflow.report.source import RunSource

ERRORS = ("mae", "rmse", "mase", "smape", "coverage")  # coverage: share of actuals inside the interval
SEGMENT_COLUMNS = ("segment", "total", "mase", "baseline_mase", "holdout_mase", "holdout_baseline_mase", "error")
PARTS = {"": "backtest folds", "holdout_": "held-out folds"}
FIGURES = {"n_periods": "periods of history", "segments_mase": "mean MASE over segments",
           "segments_baseline_mase": "its seasonal-naive MASE", "segments_failed": "segments that failed"}  # fmt: skip


def backtest_rows(metrics: dict[str, float]) -> list[list[str]]:
    """One row per error measure and part: the model's value and the baseline's."""
    rows = []
    for prefix, part in PARTS.items():
        for name in ERRORS:
            model, baseline = metrics.get(f"{prefix}{name}"), metrics.get(f"{prefix}baseline_{name}")
            if model is not None:
                rows.append([f"{name.upper()} ({part})", shown(model), shown(baseline)])
    return rows


def lead(metrics: dict[str, float]) -> str | None:
    """The held-out (else backtest) MASE against seasonal-naive's in words."""
    for prefix, part in (("holdout_", "held-out periods"), ("", "backtest periods")):
        model, baseline = metrics.get(f"{prefix}mase"), metrics.get(f"{prefix}baseline_mase")
        if (
            model is not None
            and baseline is not None
            and math.isfinite(model)
            and math.isfinite(baseline)
            and baseline > 0
        ):
            change = 1 - model / baseline
            verdict = f"{percent(change)} lower error" if change > 0 else f"{percent(-change)} higher error"
            return (
                f"On the {part} the forecast's scaled error (MASE) is {shown(model)} against {shown(baseline)} "
                f"for the seasonal-naive baseline (same value one season earlier): {verdict}."
            )
    return None


def outlook(forecast: Any) -> str | None:
    """The forecast's total over its horizon with the interval of the sum of its bounds."""
    if forecast is None or forecast.empty or "forecast" not in forecast:
        return None
    first, last = forecast.iloc[0, 0], forecast.iloc[-1, 0]
    text = f"Forecast for {len(forecast)} periods ({first} to {last}): {shown(forecast['forecast'].sum())} in total"
    if {"lower", "upper"} <= set(forecast):
        text += (
            f" (per period between {shown(forecast['lower'].mean())} and {shown(forecast['upper'].mean())} on average)"
        )
    return text + "."


def segment_table(segments: Any) -> Any:
    """The per-segment backtest's headline columns (the error column only when a segment failed)."""
    kept = [c for c in SEGMENT_COLUMNS if c in segments and (c != "error" or segments[c].notna().any())]
    return segments[kept].astype({"segment": str}) if "segment" in kept else segments[kept]


def section(run: RunSource) -> dict[str, Any] | None:
    metrics = run.stage_metrics("forecaster")
    segments = run.csv("forecaster/forecast_segments.csv")
    per_segment = tuple(p.rpartition("/")[2] for p in run.matching("forecaster", "forecast_segment_", ".png"))
    return {
        "title": "Forecast",
        "lead": lead(metrics),
        "outlook": outlook(run.csv("forecaster/forecast.csv")),
        "backtest": {"header": ["error", "forecast", "seasonal-naive"], "rows": backtest_rows(metrics)},
        "figures": key_figures(metrics, FIGURES),
        "segments": None if segments is None else table_rows(segment_table(segments)),
        "images": run.folder_images("forecaster", ("forecast.png", *per_segment)),
    }
