"""Stopping hopeless trials between folds: `tuning.pruner` (none, median, wilcoxon) and the fold reporter.

A stage that evaluates in folds (`Stage.tuning_folds`: the predictor's CV folds, the forecaster's backtest folds)
calls the reporter after each fold with that fold's metrics. The reporter hands the objective's value to the trial
(`trial.report(value, fold)`), logs it in the trial's MLflow run as `<metric>_by_fold` (step = fold) and, when the
pruner says so, raises `FoldPruned`: the trial ends PRUNED in Optuna and its run KILLED, with the fold.

- `median`: Optuna's MedianPruner: after 5 complete trials, a trial whose best fold score so far is worse than
  the median of earlier trials' scores at the same fold stops (from the first fold on).
- `wilcoxon`: Optuna's WilcoxonPruner, built for k-fold scores: a trial stops when a one-sided Wilcoxon
  signed-rank test of its folds so far against the best trial's says it is worse (p < 0.1); on n folds the test
  cannot go below p = 2**-n, so it first stops a trial after its 4th fold (crmflow.tuning_checks refuses it on
  a stage with fewer).

With `threshold: optimal`, a fold's threshold-dependent metrics (f1, accuracy, ...) are reported with that fold's
own F1-optimal cut-off, for pruning only; the trial's value is the usual mean over folds with the pooled one.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Protocol

import optuna

from crmflow.config.tuning import PRUNERS
from crmflow.errors import ConfigError, did_you_mean

BY_FOLD = "_by_fold"  # suffix of the metric a trial's run logs per fold
PRUNED_AT = "pruned_at_fold"  # metric of a pruned trial's run: the 0-based fold it stopped after


class FoldLogger(Protocol):
    """Where a trial's fold values are logged: its MLflow run."""

    def log_metrics(self, metrics: Mapping[str, float], prefix: str = "", step: int = 0) -> None: ...


class FoldPruned(optuna.TrialPruned):
    """The pruner stopped the trial after `fold`; its MLflow run ends KILLED (`run_status`)."""

    run_status = "KILLED"

    def __init__(self, fold: int, metric: str, value: float) -> None:
        super().__init__(f"pruned after fold {fold} ({metric} {value:.4g} at that fold)")
        self.fold = fold


def build_pruner(name: str) -> optuna.pruners.BasePruner:
    """The Optuna pruner `tuning.pruner` names (NopPruner for none)."""
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    if name == "wilcoxon":
        with warnings.catch_warnings():  # "experimental" in Optuna 5: its interface may change, crmflow's does not
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.pruners.WilcoxonPruner(p_threshold=0.1, n_startup_steps=2)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(
        f"tuning.pruner: unknown pruner '{name}'{did_you_mean(name, PRUNERS)} (valid: {', '.join(PRUNERS)})"
    )


class FoldReporter:
    """Reports a trial's fold scores of `metric` to Optuna and its run; raises FoldPruned when the pruner says so."""

    def __init__(self, trial: optuna.Trial, metric: str, tracker: FoldLogger) -> None:
        self.trial, self.metric, self.tracker = trial, metric, tracker

    def __call__(self, fold: int, metrics: Mapping[str, float]) -> None:
        value = float(metrics[self.metric])
        self.tracker.log_metrics({f"{self.metric}{BY_FOLD}": value}, step=fold)
        if not math.isfinite(value):
            return  # Optuna cannot compare it; the trial's mean decides (and fails it)
        self.trial.report(value, fold)
        if self.trial.should_prune():
            self.tracker.log_metrics({PRUNED_AT: float(fold)})
            raise FoldPruned(fold, self.metric, value)
