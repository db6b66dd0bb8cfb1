"""The Pareto front of a multi-objective study: non-dominance checked by brute force, constraints keeping a
planted infeasible optimum off the front, the select rules on hand-checked fronts, and the front plot."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import FrozenTrial, TrialState

from crmflow.config.goals import Constraint, Objective
from crmflow.pareto import front_table, non_dominated, select
from crmflow.plots.pareto import pareto_front_plot

optuna.logging.set_verbosity(optuna.logging.WARNING)

POINTS = np.array([[1, 5], [2, 4], [2, 4], [3, 1], [1, 1], [0, 6]], dtype=float)
SPREAD = (Objective("spread", "maximize"), Objective("gap", "minimize"))
SHARE = Constraint("share", ">=", 0.05)


@pytest.mark.parametrize(
    ("directions", "expected"),
    [
        (("maximize", "maximize"), [True, True, True, True, False, True]),  # equal rows keep each other
        (("maximize", "minimize"), [False, False, False, True, False, False]),  # [3, 1] beats all; ties on b count
        (("minimize", "minimize"), [False, False, False, False, True, True]),
    ],
    ids=["max-max", "max-min", "min-min"],
)
def test_non_dominated_on_a_hand_checked_set(directions: tuple[str, str], expected: list[bool]) -> None:
    assert non_dominated(POINTS, directions).tolist() == expected


def test_non_dominated_edge_cases() -> None:
    assert non_dominated(np.array([[1.0, 2.0]]), ["maximize", "minimize"]).tolist() == [True]
    assert non_dominated(np.empty((0, 2)), ["maximize", "minimize"]).tolist() == []
    assert non_dominated(np.array([[1.0], [3.0], [3.0]]), ["maximize"]).tolist() == [False, True, True]
    with pytest.raises(ValueError, match="n×3"):
        non_dominated(POINTS, ["maximize"] * 3)
    with pytest.raises(ValueError, match="directions"):
        non_dominated(POINTS, ["maximize", "maximise"])


def _values(x: float, y: float) -> tuple[float, float]:
    return x + y, (x - y) ** 2


def _study(constrained: bool, n_trials: int = 30, planted: bool = True) -> optuna.Study:
    """spread = x + y (maximize), gap = (x - y)^2 (minimize): planted trial 0 at (1, 1) is best on both.
    Constrained, it is infeasible (share = 1 - x must be >= 0.05), as is trial 1, whose share is NaN."""
    study = optuna.create_study(directions=[o.direction for o in SPREAD], sampler=optuna.samplers.RandomSampler(0))
    if planted:
        study.enqueue_trial({"x": 1.0, "y": 1.0})
        study.enqueue_trial({"x": 0.5, "y": 0.5})

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        x, y = trial.suggest_float("x", 0, 1), trial.suggest_float("y", 0, 1)
        if constrained:
            share = math.nan if trial.number == 1 else 1 - x
            trial.set_constraint(str(SHARE), SHARE.violation(share))
        return _values(x, y)

    study.optimize(objective, n_trials=n_trials)
    return study


def _brute_force_front(trials: list[FrozenTrial]) -> set[int]:
    """Feasible trials that no other feasible trial dominates, pair by pair."""
    feasible = [t for t in trials if all(v <= 0 for v in t.constraints.values())]

    def dominates(a: FrozenTrial, b: FrozenTrial) -> bool:
        better_or_equal = a.values[0] >= b.values[0] and a.values[1] <= b.values[1]
        return better_or_equal and (a.values[0] > b.values[0] or a.values[1] < b.values[1])

    return {t.number for t in feasible if not any(dominates(o, t) for o in feasible if o is not t)}


@pytest.mark.parametrize("constrained", [False, True], ids=["free", "constrained"])
def test_the_front_is_exactly_the_non_dominated_feasible_trials(constrained: bool) -> None:
    study = _study(constrained, planted=constrained)  # free: no planted optimum, so a front of several
    table = front_table(study, SPREAD)
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(table) == len(complete) == 30
    assert set(table.loc[table["on_front"], "number"]) == _brute_force_front(complete)
    values = table[["spread", "gap"]].to_numpy()
    assert non_dominated(values[table["feasible"]], ["maximize", "minimize"]).sum() == table["on_front"].sum()
    assert table["on_front"].tolist() == sorted(table["on_front"], reverse=True)  # the front first ...
    front = table[table["on_front"]]
    assert len(front) >= 2
    assert front["spread"].is_monotonic_decreasing  # ... best-first on the first objective
    assert {"number", "spread", "gap", "params_x", "params_y", "feasible", "on_front"} <= set(table.columns)


def test_without_the_constraint_the_planted_optimum_is_the_whole_front() -> None:
    table = front_table(_study(constrained=False), SPREAD)
    assert table.loc[table["on_front"], "number"].tolist() == [0]
    assert table["feasible"].all()


def test_a_constraint_keeps_the_planted_optimum_off_the_front() -> None:
    study = _study(constrained=True)
    table = front_table(study, SPREAD).set_index("number")
    assert not table.loc[0, "feasible"] and not table.loc[0, "on_front"]
    assert table.loc[0, str(SHARE)] == pytest.approx(0.05)  # the violation is logged in its own column
    assert table.loc[1, str(SHARE)] == math.inf and not table.loc[1, "on_front"]
    assert table["on_front"].sum() >= 2
    for rule in ("first", "knee", "spread", "gap"):
        chosen = select(study.best_trials, SPREAD, rule)
        assert chosen.number not in (0, 1)
        assert all(v <= 0 for v in chosen.constraints.values())


def _front(values: list[tuple[float, float]]) -> list[FrozenTrial]:
    """Hand-made trials numbered 0, 1, ... in the order given."""
    study = optuna.create_study(directions=["maximize", "minimize"])
    for a, b in values:
        study.add_trial(optuna.trial.create_trial(values=[a, b], params={}, distributions={}))
    return study.get_trials()


HAND = [(1.0, 10.0), (0.8, 2.0), (0.2, 0.0), (0.5, 1.5), (0.8, 2.0)]
AB = (Objective("a", "maximize"), Objective("b", "minimize"))


def test_select_rules_on_a_hand_checked_front() -> None:
    # scaled (1 = best): a = (a - 0.2) / 0.8, b = (10 - b) / 10; distance to (1, 1):
    # 0: (1, 0) -> 1; 1 and 4: (0.75, 0.8) -> 0.32; 2: (0, 1) -> 1; 3: (0.375, 0.85) -> 0.64
    front = _front(HAND)
    assert select(front, AB, "knee").number == 1  # 4 ties with 1: the lower number
    assert select(front, AB, "first").number == 0
    assert select(front, AB, "a").number == 0
    assert select(front, AB, "b").number == 2
    assert select(list(reversed(front)), AB, "knee").number == 1  # order given does not matter
    ties = _front([(0.5, 3.0), (0.5, 1.0), (0.5, 1.0)])
    assert select(ties, AB, "first").number == 0  # equal on a: the lowest number
    assert select(ties, AB, "b").number == 1
    assert select(ties, AB, "knee").number == 1  # a equal over the front: it counts as best for all
    assert select(front[2:3], AB, "knee").number == 2
    with pytest.raises(ValueError, match="no feasible complete trial"):
        select([], AB, "knee")
    with pytest.raises(ValueError, match="'c'"):
        select(front, AB, "c")


def test_front_table_refuses_objectives_that_are_not_the_studys() -> None:
    study = _study(constrained=False, n_trials=3)
    with pytest.raises(ValueError, match="directions"):
        front_table(study, (SPREAD[0], Objective("gap", "maximize")))


@pytest.mark.parametrize("n_objectives", [2, 3])
def test_the_front_plot_is_a_png(tmp_path: Path, n_objectives: int) -> None:
    objectives = (*SPREAD, Objective("x", "maximize"))[:n_objectives]
    study = optuna.create_study(directions=[o.direction for o in objectives])
    for x, y in [(1.0, 1.0), (0.2, 0.3), (0.9, 0.1), (0.4, 0.4)]:
        trial = optuna.trial.create_trial(
            values=[*_values(x, y), x][:n_objectives],
            params={"x": x, "y": y},
            distributions={"x": FloatDistribution(0, 1), "y": FloatDistribution(0, 1)},
            constraints={str(SHARE): SHARE.violation(1 - x)},
        )
        study.add_trial(trial)
    table = front_table(study, objectives)
    chosen = select(study.best_trials, objectives, "knee")
    path = pareto_front_plot(table, objectives, chosen.number, "segmentation: Pareto front", tmp_path / "front.png")
    assert path == tmp_path / "front.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
