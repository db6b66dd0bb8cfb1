"""The value stage: customer summaries once, a purchase model per trial scored on the holdout, CLV for the best."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace

import pandas as pd

from crmflow.caveats import error_vs_baseline, kept
from crmflow.config.components import ComponentSpec
from crmflow.config.goals import Objective
from crmflow.errors import ConfigError, DataError
from crmflow.stages.contract import FoldReport, RunState, Stage, StageResult, TuningResult
from crmflow.value.base import PurchaseModel
from crmflow.value.estimator import NO_SPEND, CustomerValue
from crmflow.value.evaluation import HOLDOUT_METRICS, baseline_purchases, holdout_metrics, repeat_transactions
from crmflow.value.gamma_gamma import frequency_spend_correlation
from crmflow.value.logged import logged_value_model
from crmflow.value.report import value_artifacts
from crmflow.value.settings import ValueSettings
from crmflow.value.summary import CALENDAR_DAY, customer_summary, days_per_unit, holdout_summary

logger = logging.getLogger(__name__)
END_KEY = "value.settings.calibration_end"
FEATURES_KEY = "value.settings.add_features"
PURCHASE_FEATURES = ("p_alive", "expected_purchases")  # joined to the customer table with add_features
SPEND_FEATURES = ("expected_spend", "clv")
DAY = pd.Timedelta(days=1)


@dataclass
class TrialSplit:
    """What tuning trials fit and score: the calibration period without its latest `validation_fraction`, and the
    purchases in that latest part (the validation window), with the baseline's metrics on it."""

    summary: pd.DataFrame
    actual: pd.Series
    horizon: float
    baseline: dict[str, float]


@dataclass
class ValueInput:
    """The calibration summary, each customer's actual holdout purchases, the split, the baseline's metrics, and
    the trials' own split inside the calibration period."""

    summary: pd.DataFrame
    actual: pd.Series
    repeats: pd.DataFrame
    end: pd.Timestamp
    horizon: float
    settings: ValueSettings
    baseline: dict[str, float]
    trial: TrialSplit


def _calibration_end(settings: ValueSettings, state: RunState) -> tuple[pd.Timestamp, str]:
    """The configured calibration end (midnight where the data lives), or the day before the features cutoff (the
    features count purchases up to the start of the cutoff day, so neither sees that day); and its key."""
    if settings.calibration_end is None:
        if state.table is None or state.table.cutoff is None:
            raise ConfigError(
                f"{END_KEY}: null means the features cutoff, but these features have none (features=rfm has one); "
                f"set {END_KEY} to a date, e.g. {END_KEY}=2020-06-30"
            )
        # the features count purchases up to the start of the cutoff day: the calibration ends the day before
        return pd.Timestamp(state.table.cutoff).normalize() - CALENDAR_DAY, "features.cutoff"
    end, zone = pd.Timestamp(str(settings.calibration_end)), state.data.transactions["timestamp"].dt.tz
    return (end.tz_localize(zone) if zone is not None and end.tz is None else end), END_KEY


def _split(settings: ValueSettings, state: RunState) -> tuple[pd.Timestamp, float]:
    """Calibration end and holdout horizon (periods), checked against the data's dates: one line naming the key."""
    times = state.data.transactions["timestamp"]
    end, key = _calibration_end(settings, state)
    if settings.merge_same_day:
        end = end.normalize()
    first, last = times.min(), times.max()
    span = f"the data spans {first.date()} to {last.date()}"
    if end < first.normalize():
        raise DataError(f"{key}: {end.date()} is before the first transaction ({span}); choose a day within the data")
    if end >= last:
        raise DataError(
            f"{key}: {end.date()} is on or after the last transaction ({span}), so no holdout follows; "
            f"choose a day before {last.date()}"
        )
    unit = days_per_unit(settings.time_unit)
    horizon = settings.horizon
    if horizon is None:
        horizon = float((last.ceil("D") - end) / DAY / unit)
    elif end + pd.Timedelta(days=horizon * unit) > last.ceil("D"):
        logger.warning(
            "value.settings.horizon: %g %s periods after %s end after the last transaction (%s): holdout purchases "
            "after the data ends count as none",
            horizon, settings.time_unit, end.date(), last.date(),
        )  # fmt: skip
    return end, float(horizon)


def _check_history(summary: pd.DataFrame, repeats: pd.DataFrame, end: pd.Timestamp, spec: ComponentSpec) -> None:
    """Repeat purchases to fit on, and for a spend model positive repeat spend; one line naming the key or column."""
    if not (summary["frequency"] > 0).any():
        raise DataError(
            f"value: no customer made a repeat purchase by the calibration end {end.date()}, so there is nothing to "
            f"fit; set {END_KEY} later"
        )
    spend = spec.build().spend
    if spend == NO_SPEND:
        return
    calibration = repeats[repeats["timestamp"] <= end]
    bad = calibration[calibration["amount"] <= 0]
    if len(bad):
        raise DataError(
            f"value.spend: {spend} needs positive spend, but column 'amount' is <= 0 in {len(bad)} repeat "
            f"transaction(s) by the calibration end (e.g. on {bad['timestamp'].iloc[0].date()}); "
            "drop them (data.transactions.cleaning.zero_amounts=drop drops free lines) or set value.spend=none"
        )


class ValueStage(Stage):
    """Customer value: a purchase model (and a spend model) fitted on the calibration period, scored on the
    holdout after it beside the naive rate baseline; the refit best gives each customer's P(alive) and CLV."""

    name = "value"
    needs_transactions = True
    settings_type = ValueSettings

    def metric_names(self, spec: ComponentSpec) -> list[str]:
        """What a trial reports: the holdout errors (model and baseline), the log-likelihood, the parameters."""
        params = spec.build().purchases.param_names
        return [*HOLDOUT_METRICS, *(f"baseline_{m}" for m in HOLDOUT_METRICS), "log_likelihood", *params]

    def default_objective(self, spec: ComponentSpec) -> Objective:
        return Objective("holdout_mae", "minimize")

    def caveats(self, spec: ComponentSpec, metrics: Mapping[str, float], data: Mapping[str, float]) -> list[str]:
        mae, baseline = metrics.get("holdout_mae", float("nan")), metrics.get("baseline_holdout_mae", float("nan"))
        return kept(error_vs_baseline("the purchase model's holdout MAE", mae, baseline, "naive rate baseline"))

    def check_config(self, spec: ComponentSpec) -> None:
        if spec.settings.add_features and spec.settings.calibration_end is not None:
            raise ConfigError(
                f"{FEATURES_KEY}: true needs {END_KEY}: null, so the value columns describe the customers as of "
                f"the features cutoff like the other features (got {spec.settings.calibration_end}); "
                f"set {END_KEY}=null or {FEATURES_KEY}=false"
            )
        if not isinstance(spec.build(), CustomerValue):
            raise ConfigError(
                f"value._target_: {spec.short_name} is not crmflow.value.estimator.CustomerValue; name the purchase "
                "model under value.purchases._target_ (see conf/value/bg_nbd.yaml)"
            )

    def check(self, spec: ComponentSpec, state: RunState) -> None:
        """The split, the summaries and the repeat history, before the run starts (cheap: nothing is fitted); with
        add_features, the columns later stages may ask for."""
        self.prepare(spec, state)
        if spec.settings.add_features:
            state.coming_columns.update(dict.fromkeys(_feature_columns(spec.build()), FEATURES_KEY))

    def prepare(self, spec: ComponentSpec, state: RunState) -> ValueInput:
        if state.data.transactions is None:
            raise DataError(
                "value: needs transactions (customer_id, timestamp, amount); the data has only a customer table; "
                "set data.transactions or value=none"
            )
        settings: ValueSettings = spec.settings
        end, horizon = _split(settings, state)
        transactions, unit, merge = state.data.transactions, settings.time_unit, settings.merge_same_day
        summary = customer_summary(transactions, end, time_unit=unit, merge_same_day=merge)
        repeats = repeat_transactions(transactions, end, merge)
        _check_history(summary, repeats, end, spec)
        actual, baseline = _scored_period(transactions, summary, end, horizon, settings)
        trial = _trial_split(transactions, end, settings)
        return ValueInput(summary, actual, repeats, end, horizon, settings, baseline, trial)

    def score(
        self, estimator: CustomerValue, prepared: ValueInput, spec: ComponentSpec, report: FoldReport | None = None
    ) -> dict[str, float]:
        """One trial: the purchase model alone (the spend model does not change the purchases), fitted on the
        calibration period without its validation window and scored on that window (`holdout_*` of the trial)."""
        return _purchase_metrics(estimator.fit_purchases(prepared.trial.summary), prepared.trial)

    def finalize(
        self, estimator: CustomerValue, prepared: ValueInput, spec: ComponentSpec, state: RunState,
        tuned: TuningResult | None,
    ) -> StageResult:  # fmt: skip
        """Fit the purchase and spend models on the calibration summary; metrics, customer table and plots."""
        settings, summary = prepared.settings, prepared.summary
        fitted = estimator.fit(summary)
        table = fitted.customer_table(
            summary, prepared.horizon, settings.clv_months, settings.discount_rate, settings.margin, settings.time_unit
        )
        table["actual_purchases"] = prepared.actual
        metrics = {**_purchase_metrics(fitted.purchases_, prepared), **_summary_metrics(table, prepared)}
        if fitted.spend_ is not None:
            metrics.update({f"spend.{k}": v for k, v in fitted.spend_.params_.items()})
            metrics["spend.log_likelihood"] = fitted.spend_.log_likelihood_
            metrics["spend.n_customers"] = float(fitted.spend_.n_customers_)
            metrics["spend.frequency_spend_correlation"] = frequency_spend_correlation(summary)
        artifacts = value_artifacts(fitted, table, prepared, state)
        if settings.add_features:
            _add_features(state, table[_feature_columns(estimator)])
        return StageResult(metrics, artifacts, logged_value_model(fitted, prepared, state))


def _feature_columns(estimator: CustomerValue) -> list[str]:
    """The customer-table columns add_features joins: P(alive) and expected purchases, and spend and CLV."""
    return [*PURCHASE_FEATURES, *(SPEND_FEATURES if estimator.has_spend else ())]


def _add_features(state: RunState, values: pd.DataFrame) -> None:
    """Join the value columns to the customer table (customers with no purchase by the cutoff get none: missing)."""
    table = state.table
    clashing = [c for c in values.columns if c in table.X.columns]
    if clashing:
        raise DataError(f"{FEATURES_KEY}: the customer table already has column(s) {clashing}; rename them")
    state.table = replace(table, X=table.X.join(values.set_axis(values.index.astype(str))))
    logger.info("value: %s joined to the customer table for later stages", ", ".join(values.columns))


def _scored_period(
    transactions: pd.DataFrame, summary: pd.DataFrame, end: pd.Timestamp, horizon: float, settings: ValueSettings
) -> tuple[pd.Series, dict[str, float]]:
    """Each summarised customer's actual purchases in the `horizon` periods after `end`, and the baseline's metrics."""
    unit, merge = settings.time_unit, settings.merge_same_day
    after = holdout_summary(transactions, end, horizon, time_unit=unit, merge_same_day=merge)
    actual = after["frequency_holdout"].reindex(summary.index).rename("actual_purchases")
    return actual, holdout_metrics(baseline_purchases(summary, horizon), actual, prefix="baseline_")


def _trial_split(transactions: pd.DataFrame, end: pd.Timestamp, settings: ValueSettings) -> TrialSplit:
    """The trials' calibration (up to `validation_fraction` of the period before `end`) and validation window."""
    start = transactions["timestamp"].min().normalize()
    inner_end = (end - (end - start) * settings.validation_fraction).normalize()
    unit, merge = settings.time_unit, settings.merge_same_day
    horizon = float((end - inner_end) / DAY / days_per_unit(unit))
    summary = customer_summary(transactions, inner_end, time_unit=unit, merge_same_day=merge)
    if inner_end <= start or not (summary["frequency"] > 0).any():
        raise DataError(
            f"value.settings.validation_fraction: the calibration period before {inner_end.date()} (the trials' "
            f"validation window starts there) has no repeat purchase to fit; lower the fraction or set {END_KEY} later"
        )
    actual, baseline = _scored_period(transactions, summary, inner_end, horizon, settings)
    return TrialSplit(summary, actual, horizon, baseline)


def _purchase_metrics(model: PurchaseModel, prepared: ValueInput | TrialSplit) -> dict[str, float]:
    """Holdout errors of the fitted purchase model and of the baseline, its log-likelihood and parameters."""
    predicted = model.predict_purchases(prepared.horizon, prepared.summary)
    metrics = {**holdout_metrics(predicted, prepared.actual), **prepared.baseline}
    return {**metrics, "log_likelihood": model.log_likelihood_, **model.params_}


def _summary_metrics(table: pd.DataFrame, prepared: ValueInput) -> dict[str, float]:
    """Sizes and totals of the per-customer table."""
    metrics = {
        "n_customers": float(len(table)),
        "n_repeat_buyers": float((table["frequency"] > 0).sum()),
        "horizon": prepared.horizon,
        "holdout_actual_total": float(table["actual_purchases"].sum()),
        "holdout_predicted_total": float(table["expected_purchases"].sum()),
        "p_alive_mean": float(table["p_alive"].mean()),
    }
    if "clv" in table:
        metrics.update(clv_total=float(table["clv"].sum()), clv_mean=float(table["clv"].mean()))
    return metrics
