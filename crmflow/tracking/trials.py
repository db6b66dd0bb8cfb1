"""What a study logs per trial, by `tracking.trials`:

- `runs`: a nested MLflow run per trial (the `Tracker` itself: params, metrics, fold metrics, status);
- `steps`: no run per trial; each trial that completes logs, on the parent run with `step` = its number, its
  objective value(s) as `<stage>.trial.<metric>` and each numeric drawn parameter as `<stage>.trial.param.<name>`
  (the table of every trial, failed ones included, is the parent's `<stage>/tuning/` history CSV);
- `none`: nothing per trial.
Failed trials are recorded in the study in every mode; only `runs` leaves runs a dead worker may leave RUNNING.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from crmflow.config.tracking import NONE, RUNS, STEPS

logger = logging.getLogger(__name__)

TRIAL_TAG = "crmflow.trial"  # the trial's number, in the tags crmflow.studies gives a trial's run


class ParentLogger(Protocol):
    """What the trial loggers need from the `Tracker`: metrics on its current run, and a copy for another process."""

    trials: str

    def log_metrics(self, metrics: Mapping[str, float], prefix: str = "", step: int = 0) -> None: ...

    def worker(self) -> Any: ...


class StepTrials:
    """Trials as steps of the parent run's metrics; the study's loop uses it as it uses a `Tracker`, and calls
    `after_trial` once Optuna has stored the trial's state, so only a trial the study holds COMPLETE is a step."""

    def __init__(self, tracker: ParentLogger, stage: str, metrics: tuple[str, ...]) -> None:
        self.tracker, self.stage, self.metrics = tracker, stage, metrics
        self._seen: dict[str, float] | None = None
        self._ended: dict[int, tuple[dict[str, Any], dict[str, float]]] = {}  # trial number -> params, metrics

    @contextmanager
    def child_run(self, name: str, params: Mapping[str, Any], tags: Mapping[str, str]) -> Iterator[None]:
        """No run: what the trial logs is kept until the study has stored the trial (`after_trial`)."""
        self._seen = {}
        try:
            yield None
            self._ended[int(tags[TRIAL_TAG])] = (dict(params), self._seen)
        finally:
            self._seen = None

    def after_trial(self, study: Any, trial: Any) -> None:
        """An Optuna study callback: the trial's objective and parameters as step `trial.number`, when the study
        holds it COMPLETE (not when the tell failed, e.g. on a lost database connection); a logging error only warns."""
        ended = self._ended.pop(trial.number, None)
        if ended is None or trial.state.name != "COMPLETE":
            return
        try:
            self._log(trial.number, *ended)
        except Exception as error:  # the trial is complete in the study: a lost step is not a lost trial
            logger.warning("%s: trial %d not logged as a step: %s", self.stage, trial.number, error)

    def _log(self, number: int, params: Mapping[str, Any], seen: Mapping[str, float]) -> None:
        row = {f"trial.{metric}": seen[metric] for metric in self.metrics if metric in seen}
        numeric = {k: v for k, v in params.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        row.update({f"trial.param.{name}": float(value) for name, value in numeric.items()})
        self.tracker.log_metrics(row, prefix=f"{self.stage}.", step=number)

    def log_metrics(self, metrics: Mapping[str, float], prefix: str = "", step: int = 0) -> None:
        """Keep the trial's own metrics (fold metrics and the like are dropped)."""
        if self._seen is not None and not prefix and not step:
            self._seen.update(metrics)

    def worker(self) -> StepTrials:
        return StepTrials(self.tracker.worker(), self.stage, self.metrics)


class NoTrials:
    """Nothing logged per trial."""

    @contextmanager
    def child_run(self, name: str, params: Mapping[str, Any], tags: Mapping[str, str]) -> Iterator[None]:
        yield None

    def log_metrics(self, metrics: Mapping[str, float], prefix: str = "", step: int = 0) -> None:
        """Dropped."""

    def worker(self) -> NoTrials:
        return self


def trial_logger(tracker: Any, stage: str, metrics: tuple[str, ...]) -> Any:
    """The logger of a stage's trials for the tracker's `trials` mode (a tracker without one: `runs`)."""
    mode = getattr(tracker, "trials", RUNS)
    if mode == STEPS:
        return StepTrials(tracker, stage, metrics)
    if mode == NONE:
        return NoTrials()
    return tracker
