"""The forecaster stage: aggregate once, backtest per trial, refit the best and forecast ahead."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from crmflow.config.components import ComponentSpec
from crmflow.config.goals import Objective
from crmflow.errors import ConfigError, DataError
from crmflow.forecasting.backtest import RollingOrigin, backtest
from crmflow.forecasting.base import Forecaster
from crmflow.forecasting.baselines import SeasonalNaiveForecaster
from crmflow.forecasting.caveats import forecaster_caveats
from crmflow.forecasting.metrics import FORECAST_METRICS, forecast_metrics
from crmflow.forecasting.segment_plots import SegmentPlots
from crmflow.forecasting.series import aggregate, series_name
from crmflow.forecasting.settings import ForecasterSettings
from crmflow.plots.forecasts import forecast_plot
from crmflow.stages.contract import FoldReport, LoggedModel, RunState, Stage, StageResult, TuningResult

logger = logging.getLogger(__name__)
UNASSIGNED = "unassigned"  # customers without a segment label (e.g. first seen after the feature cutoff)


@dataclass
class ForecastInput:
    """The series to forecast, per-segment series (or None), and the baseline's backtest."""

    series: pd.Series
    segments: pd.DataFrame | None
    settings: ForecasterSettings
    baseline: pd.DataFrame


def _total_series(state: RunState, settings: ForecasterSettings) -> pd.Series:
    table = aggregate(
        state.data.transactions,
        settings.frequency,
        settings.value,
        complete_periods_only=settings.complete_periods_only,
    )
    return table["total"].rename(series_name(settings.frequency, settings.value))


def _segment_table(state: RunState, settings: ForecasterSettings) -> pd.DataFrame:
    labels = state.segments.labels
    transactions = state.data.transactions
    groups = transactions["customer_id"].map(labels.astype(str)).fillna(UNASSIGNED)
    return aggregate(transactions, settings.frequency, settings.value, groups, settings.complete_periods_only)


def _baseline(settings: ForecasterSettings) -> SeasonalNaiveForecaster:
    return SeasonalNaiveForecaster(seasonal_period=settings.seasonal_period)


def _checked(estimator: Forecaster, series: pd.Series, settings: ForecasterSettings) -> None:
    for candidate in (estimator, _baseline(settings)):
        settings.windows.check_length(series, candidate, settings.seasonal_period)
        candidate.check_series(series)


def _evaluate(
    estimator: Forecaster,
    series: pd.Series,
    baseline: pd.DataFrame,
    settings: ForecasterSettings,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Backtest every fold: metrics of the tuning folds, and `holdout_*` of the held-out latest folds."""
    table = backtest(estimator, series, settings.windows, settings.seasonal_period, settings.interval)
    table = table.join(baseline[["baseline", "baseline_lower", "baseline_upper"]])
    table.insert(1, "part", np.where(table["fold"] < settings.tuning_folds, "tuning", "holdout"))
    metrics = _metrics(table[table["part"] == "tuning"])
    if settings.holdout_folds:
        metrics.update({f"holdout_{k}": v for k, v in _metrics(table[table["part"] == "holdout"]).items()})
    return table, metrics


def _tuning_score(
    estimator: Forecaster,
    series: pd.Series,
    baseline: pd.DataFrame,
    settings: ForecasterSettings,
    report: FoldReport | None = None,
) -> dict[str, float]:
    """A trial: the tuning folds only (the held-out latest folds are neither fitted nor scored); `report` gets
    each fold's metrics as soon as it is forecast."""
    cut = len(series) - settings.holdout_folds * settings.step
    windows = RollingOrigin(settings.horizon, settings.tuning_folds, settings.step)
    columns = ["baseline", "baseline_lower", "baseline_upper"]
    on_fold = None if report is None else lambda fold, rows: report(fold, _metrics(rows.join(baseline[columns])))
    table = backtest(
        estimator, series.iloc[:cut], windows, settings.seasonal_period, settings.interval, on_fold=on_fold
    )
    return _metrics(table.join(baseline[columns]))


def _metrics(table: pd.DataFrame) -> dict[str, float]:
    """The forecast's metrics and the seasonal-naive baseline's (`baseline_*`) over the table's rows."""
    return {**forecast_metrics(table), **{f"baseline_{k}": v for k, v in forecast_metrics(table, "baseline").items()}}


class ForecasterStage(Stage):
    name = "forecaster"
    needs_transactions = True
    settings_type = ForecasterSettings

    def requires(self, spec: ComponentSpec) -> dict[str, str]:
        return {"segments": "forecaster.settings.per_segment"} if spec.settings.per_segment else {}

    def metric_names(self, spec: ComponentSpec) -> list[str]:
        """The objectives a study may use: the tuning folds' metrics (never the held-out folds')."""
        return [*FORECAST_METRICS, *(f"baseline_{m}" for m in FORECAST_METRICS)]

    def default_objective(self, spec: ComponentSpec) -> Objective:
        return Objective("mase", "minimize")

    def tuning_folds(self, spec: ComponentSpec) -> int:
        return int(spec.settings.tuning_folds)  # the backtest origins before the held-out ones

    def caveats(self, spec: ComponentSpec, metrics: Mapping[str, float], data: Mapping[str, float]) -> list[str]:
        return forecaster_caveats(metrics)

    def check_config(self, spec: ComponentSpec) -> None:
        estimator = spec.build({})
        if not isinstance(estimator, Forecaster):
            raise ConfigError(
                f"forecaster._target_: {type(estimator).__name__} is not a crmflow forecaster "
                "(expected a subclass of crmflow.forecasting.base.Forecaster)"
            )

    def check(self, spec: ComponentSpec, state: RunState) -> None:
        if state.data.transactions is None:
            raise DataError(
                "forecaster: needs transactions (customer_id, timestamp, amount); the data has only a customer "
                "table; set data.transactions or forecaster=none"
            )
        settings: ForecasterSettings = spec.settings
        _checked(spec.build({}), _total_series(state, settings), settings)

    def prepare(self, spec: ComponentSpec, state: RunState) -> ForecastInput:
        settings: ForecasterSettings = spec.settings
        series = _total_series(state, settings)
        _checked(spec.build({}), series, settings)
        segments = _segment_table(state, settings) if settings.per_segment else None
        baseline = backtest(
            _baseline(settings), series, settings.windows, settings.seasonal_period, settings.interval, name="baseline"
        )
        return ForecastInput(series, segments, settings, baseline)

    def score(
        self, estimator: Any, prepared: ForecastInput, spec: ComponentSpec, report: FoldReport | None = None
    ) -> dict[str, float]:
        return _tuning_score(estimator, prepared.series, prepared.baseline, prepared.settings, report)

    def finalize(
        self, estimator: Any, prepared: ForecastInput, spec: ComponentSpec, state: RunState, tuned: TuningResult | None
    ) -> StageResult:
        settings, series, out = prepared.settings, prepared.series, state.artifact_dir
        table, metrics = _evaluate(estimator, series, prepared.baseline, settings)
        fitted = clone(estimator).fit(series)
        forecast = fitted.predict(settings.horizon, settings.interval)
        metrics["n_periods"] = float(len(series))
        artifacts = [out / "forecast_backtest.csv", out / "forecast.csv", out / "forecast_model.txt"]
        table.to_csv(artifacts[0], index=False)
        forecast.to_frame().rename_axis("timestamp").to_csv(artifacts[1])
        notes = "\n".join(fitted.fit_warnings_) or "none"
        artifacts[2].write_text(f"{fitted.summary()}\n\nstatsmodels warnings while fitting: {notes}\n")
        shown = "holdout_" if settings.holdout_folds else ""
        title = (
            f"{series.name}: {spec.short_name} vs seasonal naive ({shown.rstrip('_') or 'backtest'} MASE "
            f"{metrics[shown + 'mase']:.3f} vs {metrics[shown + 'baseline_mase']:.3f})"
        )
        artifacts.append(forecast_plot(series, table, forecast, title, out / "forecast.png"))
        if prepared.segments is not None:
            plots = SegmentPlots(estimator, settings, out)  # forecast_segment_<segment>.png
            segment_rows = per_segment(estimator, prepared.segments, settings, plots)
            artifacts += [*plots.paths, out / "forecast_segments.csv"]
            segment_rows.to_csv(artifacts[-1], index=False)
            # means over the segments where MASE is defined (not for a segment with no sales in a training window)
            metrics["segments_mase"] = float(segment_rows["mase"].mean())
            metrics["segments_baseline_mase"] = float(segment_rows["baseline_mase"].mean())
            metrics["segments_failed"] = float(segment_rows["error"].notna().sum())
            if settings.holdout_folds:
                metrics["segments_holdout_mase"] = float(segment_rows["holdout_mase"].mean())
                metrics["segments_holdout_baseline_mase"] = float(segment_rows["holdout_baseline_mase"].mean())
        return StageResult(metrics, artifacts, _logged_model(fitted, settings, series))


def per_segment(
    estimator: Forecaster, segments: pd.DataFrame, settings: ForecasterSettings, plot: SegmentPlots | None = None
) -> pd.DataFrame:
    """Backtest metrics of the model and the baseline for every segment's own series, one row each (and its
    forecast plot, with `plot`).

    A segment whose series this model cannot fit (too short, a zero period for a multiplicative
    model) gets its reason in the `error` column instead of metrics.
    """
    rows = []
    for segment in segments.columns:
        series = segments[segment].rename(f"segment {segment}")
        row: dict[str, Any] = {"segment": segment, "total": float(series.sum()), "error": None}
        try:
            _checked(estimator, series, settings)
            baseline = backtest(
                _baseline(settings),
                series,
                settings.windows,
                settings.seasonal_period,
                settings.interval,
                name="baseline",
            )
            table, scores = _evaluate(estimator, series, baseline, settings)
            row.update(scores)
            if plot is not None:
                plot(segment, series, table, scores)
        except DataError as error:
            logger.warning("forecaster: segment %s skipped: %s", segment, error)
            failed = ("mase", "baseline_mase", "holdout_mase", "holdout_baseline_mase")
            row.update(dict.fromkeys(failed, np.nan), error=str(error))
        rows.append(row)
    return pd.DataFrame(rows)


def _logged_model(fitted: Forecaster, settings: ForecasterSettings, series: pd.Series) -> LoggedModel:
    """The refit forecaster as an MLflow pyfunc model stored as JSON (its parameters, learned state and the
    aggregated training `series`; no pickle); input rows hold the `horizon` to forecast."""
    import scipy
    import sklearn
    import statsmodels

    from crmflow.forecasting.pyfunc import ForecasterModel

    requirements = [
        f"statsmodels=={statsmodels.__version__}",
        f"scikit-learn=={sklearn.__version__}",
        f"scipy=={scipy.__version__}",
        "pandas",
        "numpy",
    ]
    example = pd.DataFrame({"horizon": [settings.horizon]})
    model = ForecasterModel(fitted, settings.interval, series)
    return LoggedModel(model, example, "forecast_model", "pyfunc", requirements)
