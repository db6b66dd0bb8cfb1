"""A stage's study progress: on a terminal, one tqdm bar per study (trial i/N, the best so far, elapsed and ETA),
closed when the study ends; otherwise a log line every few trials (every max(1, N // 10) and the last). A failed
trial always gets its own warning line, and off a terminal a pruned trial its own line."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from typing import IO, Any

import optuna
from optuna.trial import TrialState

from crmflow.config.goals import Objective
from crmflow.environ import SWEEP_JOB_ENV
from crmflow.studies import Session

logger = logging.getLogger("crmflow.tuning")
LINES_PER_STUDY = 10  # off a terminal: about this many progress lines per study


class Progress:
    """A study callback (`study.optimize(callbacks=[...])`); `close()` ends its bar."""

    def __init__(
        self,
        stage: str,
        goals: tuple[Objective, ...],
        session: Session,
        stream: IO[str] | None = None,
        bar: bool = True,
    ) -> None:
        self.stage, self.goals, self.session = stage, goals, session
        self.every = max(1, session.target // LINES_PER_STUDY)
        stream = sys.stderr if stream is None else stream
        shared = os.environ.get(SWEEP_JOB_ENV) == "1"  # jobs of a parallel sweep share one terminal: lines, no bars
        self._bar = _bar(stage, session.target, stream) if bar and not shared and _is_terminal(stream) else None

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        done = self.session.finished(study.get_trials(deepcopy=False))
        where = f"{self.stage}: trial {done}/{self.session.target}"
        if trial.state not in (TrialState.COMPLETE, TrialState.PRUNED):
            reason = trial.user_attrs.get("error", "")
            self._above_bar(logging.WARNING, "%s %s %s", where, trial.state.name.lower(), reason)
            if self._bar is not None:  # a failed trial is done too: the bar moves on
                self._bar.update(done - self._bar.n)
        elif self._bar is not None:
            self._bar.set_postfix_str(_best(study), refresh=False)
            self._bar.update(done - self._bar.n)
        elif trial.state is TrialState.PRUNED:
            logger.info("%s %s", where, trial.user_attrs.get("pruned", "pruned"))
        elif done % self.every == 0 or done >= self.session.target:
            shown = ", ".join(f"{g.metric}={v:.4f}" for g, v in zip(self.goals, trial.values, strict=True))
            infeasible = " (infeasible)" if any(v > 0 for v in trial.constraints.values()) else ""
            logger.info("%s %s%s | %s", where, shown, infeasible, _best(study))

    def _above_bar(self, level: int, message: str, *args: Any) -> None:
        """A log line, printed above the bar (the bar is cleared, then drawn again below it)."""
        if self._bar is not None:
            self._bar.clear()
        logger.log(level, message, *args)
        if self._bar is not None:
            self._bar.refresh()

    def close(self) -> None:
        """End the bar, leaving its last state on screen."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def progress(
    stage: str, goals: tuple[Objective, ...], session: Session, stream: IO[str] | None = None, bar: bool = True
) -> Progress:
    """The progress of a stage's study on `stream` (stderr): a bar when it is a terminal and `bar`, else log lines."""
    return Progress(stage, goals, session, stream, bar)


def _is_terminal(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _bar(stage: str, total: int, stream: IO[str]) -> Any:
    from tqdm import tqdm

    size = shutil.get_terminal_size((100, 24))  # the fallback where the terminal does not tell (0 columns): tqdm
    return tqdm(total=total, desc=stage, unit="trial", file=stream, ncols=size.columns, nrows=size.lines, leave=True)


def _best(study: optuna.Study) -> str:
    """The study's best so far: the best feasible trial, or the size of the Pareto front."""
    if len(study.directions) > 1:
        return f"Pareto front: {len(study.best_trials)} trials"
    try:
        best = study.best_trial
    except ValueError:  # no feasible trial yet
        return "no trial meets the constraints yet"
    return f"best {best.value:.4f} (trial {best.number})"
