"""The Pareto front of a multi-objective study: which trials are non-dominated, the table logged as CSV, and the
one member refit by the `tuning.select` rule.

Feasibility is Optuna's: a trial is feasible when every value it gave `Trial.set_constraint` is <= 0, and
`Study.best_trials` holds only feasible trials once any trial has a constraint, so an infeasible trial never
reaches the front and never is selected.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from crmflow.config.goals import DIRECTIONS, Objective

__all__ = ["front_table", "non_dominated", "select"]


def _losses(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Values turned so that smaller is better in every column."""
    values = np.asarray(values, dtype="float64")
    if values.ndim != 2 or values.shape[1] != len(directions):
        raise ValueError(f"expected an n×{len(directions)} array of objective values; got shape {values.shape}")
    unknown = [d for d in directions if d not in DIRECTIONS]
    if unknown:
        raise ValueError(f"directions must be among {DIRECTIONS}; got {unknown}")
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    return values * signs


def non_dominated(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """A bool per row of `values` (n trials × k objectives): no other row is at least as good on every objective
    and better on one. Equal rows do not dominate each other, so ties are all kept."""
    losses = _losses(values, directions)
    at_least = (losses[:, None, :] <= losses[None, :, :]).all(axis=2)  # [j, i]: row j at least as good as row i
    better = (losses[:, None, :] < losses[None, :, :]).any(axis=2)
    return ~(at_least & better).any(axis=0)


def _check(study: optuna.Study, objectives: Sequence[Objective]) -> None:
    directions = [d.name.lower() for d in study.directions]
    if directions != [o.direction for o in objectives]:
        raise ValueError(f"the study's directions {directions} are not the objectives' {list(objectives)}")


def front_table(study: optuna.Study, objectives: Sequence[Objective]) -> pd.DataFrame:
    """One row per complete trial: `number`, one column per objective metric, `params_<name>`, one column per
    constraint (its violation), `feasible` and `on_front`; the front first, each part best-first on the first
    objective."""
    _check(study, objectives)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    front = {trial.number for trial in study.best_trials}
    metrics = [o.metric for o in objectives]
    rows = []
    for trial in complete:
        row: dict[str, object] = {"number": trial.number, **dict(zip(metrics, trial.values))}
        row.update({f"params_{name}": value for name, value in trial.params.items()})
        row.update(trial.constraints)
        row["feasible"] = all(value <= 0 for value in trial.constraints.values())
        row["on_front"] = trial.number in front
        rows.append(row)
    columns = ["number", *metrics]
    table = pd.DataFrame(rows, columns=None if rows else [*columns, "feasible", "on_front"])
    if table.empty:
        return table
    ascending = objectives[0].direction == "minimize"
    table = table.sort_values(["on_front", metrics[0], "number"], ascending=[False, ascending, True], kind="stable")
    return table.reset_index(drop=True)


def _best_on(front: Sequence[FrozenTrial], index: int, direction: str) -> FrozenTrial:
    sign = -1.0 if direction == "maximize" else 1.0
    return min(front, key=lambda trial: (sign * trial.values[index], trial.number))


def select(front: Sequence[FrozenTrial], objectives: Sequence[Objective], rule: str) -> FrozenTrial:
    """The front member to refit.

    `first`: the best on the first objective; `<metric>`: the best on that objective; `knee`: with each
    objective min–max scaled over the front to [0, 1] (1 the best), the member closest (Euclidean) to the ideal
    point where every objective is 1. Ties go to the lowest trial number.
    """
    if not front:
        raise ValueError("no feasible complete trial on the Pareto front to select from")
    metrics = [o.metric for o in objectives]
    if rule == "first":
        return _best_on(front, 0, objectives[0].direction)
    if rule in metrics:
        index = metrics.index(rule)
        return _best_on(front, index, objectives[index].direction)
    if rule != "knee":
        raise ValueError(f"select rule must be 'first', 'knee' or one of {metrics}; got {rule!r}")
    ordered = sorted(front, key=lambda trial: trial.number)
    scores = -_losses(np.array([trial.values for trial in ordered]), [o.direction for o in objectives])
    low, high = scores.min(axis=0), scores.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    scaled = np.where(high > low, (scores - low) / span, 1.0)  # an objective equal over the front: all best
    distance = np.sqrt(((1.0 - scaled) ** 2).sum(axis=1))
    return ordered[int(np.argmin(distance))]  # argmin: the first, i.e. lowest-numbered, of equal distances
