"""Multi-objective goals and constraints of a tuned stage: `tuning.objectives.<stage>` as a list of
`{metric, direction}`, `tuning.select` (which front member is refit) and `tuning.constraints.<stage>`.

Light on purpose (no Optuna import), like crmflow.config.tuning, whose `Objective` it builds; every message
names the config key, the rule, the value received and a fix, and is raised before any data is read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from crmflow.config.constraints import Options, Text
from crmflow.config.validation import validate
from crmflow.errors import ConfigError, did_you_mean

__all__ = [
    "AUTO",
    "DIRECTIONS",
    "Objective",
    "OPERATORS",
    "SELECT_RULES",
    "Constraint",
    "check_metric_names",
    "check_select",
    "parse_constraints",
    "parse_objective_list",
    "parse_select",
    "parse_select_node",
]

DIRECTIONS = ("maximize", "minimize")
AUTO = "auto"  # an objective metric that means "the stage's default for this component"
SELECT_RULES = ("first", "knee")  # any other `tuning.select` value names an objective metric
OPERATORS = (">=", "<=")
EXPRESSION = "'METRIC >= NUMBER' or 'METRIC <= NUMBER'"
ITEM_EXAMPLE = "{metric: silhouette, direction: maximize}"
ITEM_CONSTRAINTS: dict[str, list[Any]] = {"metric": [Text()], "direction": [Options(DIRECTIONS)]}
_EXPRESSION = re.compile(r"^\s*(?P<metric>[^<>=!\s]+)\s*(?P<op>=[<>]|[<>=!]=?)\s*(?P<bound>.*?)\s*$")


@dataclass(frozen=True)
class Objective:
    """The metric a stage's study optimises and its direction."""

    metric: str
    direction: str

    constraints: ClassVar[dict[str, list[Any]]] = {"metric": [str], "direction": [Options(DIRECTIONS)]}


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def parse_objective_list(entry: Sequence[Any], key: str) -> tuple[Objective, ...]:
    """The objectives of a list `tuning.objectives.<stage>: [{metric, direction}, ...]` (`key` names the list);
    direction defaults to maximize, each metric appears once and `metric: auto` only stands alone."""
    if not _is_list(entry) or not entry:
        raise ConfigError(f"{key}: expected a non-empty list of mappings such as {ITEM_EXAMPLE}; got {entry!r}")
    objectives: list[Objective] = []
    for i, item in enumerate(entry):
        item_key = f"{key}[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{item_key}: expected a mapping such as {ITEM_EXAMPLE}; got {item!r}")
        for name in sorted(set(item) - set(ITEM_CONSTRAINTS)):
            raise ConfigError(f"{item_key}: unknown key '{name}'{did_you_mean(name, ITEM_CONSTRAINTS)}")
        values = {"metric": None, "direction": "maximize", **item}
        validate(values, ITEM_CONSTRAINTS, item_key)
        metric = values["metric"]
        if metric == AUTO:
            raise ConfigError(
                f"{item_key}.metric: '{AUTO}' stands alone ({key.rpartition('[')[0] or key}: {{metric: {AUTO}}}); "
                "a list names its metrics"
            )
        earlier = [o.metric for o in objectives]
        if metric in earlier:
            raise ConfigError(
                f"{item_key}.metric: '{metric}' is already {key}[{earlier.index(metric)}]; list each once"
            )
        objectives.append(Objective(metric, values["direction"]))
    return tuple(objectives)


def parse_select(value: Any, key: str = "tuning.select") -> str:
    """`first`, `knee` or an objective metric's name (checked against the objectives by `check_select`);
    None means `first`."""
    if value is None:
        return SELECT_RULES[0]
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key}: must be 'first', 'knee' or the name of an objective metric; got {value!r}")
    return value.strip()


def parse_select_node(value: Any, stage_names: Sequence[str]) -> str | dict[str, str]:
    """`tuning.select`: one rule for every multi-objective stage, or `{<stage>: rule}` (a stage left out: first)."""
    if not isinstance(value, Mapping):
        return parse_select(value)
    for stage in value:
        if stage not in stage_names:
            raise ConfigError(f"tuning.select: unknown stage '{stage}'{did_you_mean(stage, stage_names)}")
    return {stage: parse_select(rule, f"tuning.select.{stage}") for stage, rule in value.items()}


def check_select(rule: str | Mapping[str, str], objectives_by_stage: Mapping[str, Sequence[Objective]]) -> None:
    """A metric rule names an objective of each multi-objective stage it applies to (single-objective stages
    have one best trial and ignore the rule)."""
    for stage, objectives in objectives_by_stage.items():
        if len(objectives) < 2:
            continue
        stage_rule = rule if isinstance(rule, str) else rule.get(stage, SELECT_RULES[0])
        key = "tuning.select" if isinstance(rule, str) else f"tuning.select.{stage}"
        metrics = [o.metric for o in objectives]
        if stage_rule not in (*SELECT_RULES, *metrics):
            raise ConfigError(
                f"{key}: '{stage_rule}' is neither first, knee nor an objective of {stage} "
                f"(its objectives: {', '.join(metrics)}){did_you_mean(stage_rule, (*SELECT_RULES, *metrics))}"
            )


def _number(value: float) -> str:
    text = f"{value:g}"
    return text if float(text) == value else repr(value)


@dataclass(frozen=True)
class Constraint:
    """A bound on a stage metric, e.g. `smallest_segment_share >= 0.02`; its text is the Optuna constraint key."""

    metric: str
    op: str
    bound: float

    def violation(self, value: float) -> float:
        """How far `value` breaks the bound (<= 0: feasible), as Optuna's `Trial.set_constraint` wants it;
        a NaN metric (which Optuna refuses as a constraint value) is infinitely infeasible."""
        if value is None or math.isnan(value):
            return math.inf
        return self.bound - value if self.op == ">=" else value - self.bound

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {_number(self.bound)}"


def _constraint(text: Any, key: str) -> Constraint:
    """One `METRIC >= NUMBER` (or `<=`) string."""
    found = _EXPRESSION.match(text) if isinstance(text, str) else None
    if found is None or not found["bound"]:
        raise ConfigError(f"{key}: expected {EXPRESSION}; got {text!r}")
    op, bound = found["op"], found["bound"]
    if op not in OPERATORS:
        raise ConfigError(
            f"{key}: operator '{op}' is not accepted in {text!r}; use >= or <= (e.g. '{found['metric']} >= {bound}')"
        )
    try:
        number = float(bound)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise ConfigError(f"{key}: bound {bound!r} is not a finite number in {text!r}; expected {EXPRESSION}")
    return Constraint(found["metric"], op, number)


def parse_constraints(node: Mapping[str, Any] | None, stage_names: Sequence[str]) -> dict[str, tuple[Constraint, ...]]:
    """`tuning.constraints.<stage>`: a list of `METRIC >= NUMBER` / `METRIC <= NUMBER` strings (or one string);
    a stage with none is left out."""
    parsed: dict[str, tuple[Constraint, ...]] = {}
    for stage, entry in (node or {}).items():
        if stage not in stage_names:
            raise ConfigError(f"tuning.constraints: unknown stage '{stage}'{did_you_mean(stage, stage_names)}")
        key = f"tuning.constraints.{stage}"
        items = [entry] if isinstance(entry, str) else entry if _is_list(entry) else None
        if items is None and entry is not None:
            raise ConfigError(f"{key}: expected a list of {EXPRESSION} strings; got {entry!r}")
        constraints: list[Constraint] = []
        for i, text in enumerate(items or []):
            constraint = _constraint(text, f"{key}[{i}]")
            if constraint in constraints:
                raise ConfigError(
                    f"{key}[{i}]: '{constraint}' repeats {key}[{constraints.index(constraint)}]; list each once"
                )
            constraints.append(constraint)
        if constraints:
            parsed[stage] = tuple(constraints)
    return parsed


def check_metric_names(
    stage: str,
    objectives: Sequence[Objective],
    constraints: Sequence[Constraint],
    known_metrics: Sequence[str],
    listed: bool | None = None,
) -> None:
    """Every objective and constraint metric is one the stage's component reports (`known_metrics`); `listed`
    says whether the objectives were a list (default: when there is more than one), which sets their key."""
    listed = len(objectives) > 1 if listed is None else listed
    known = ", ".join(known_metrics)
    for i, objective in enumerate(objectives):
        if objective.metric == AUTO or objective.metric in known_metrics:
            continue
        key = f"tuning.objectives.{stage}" + (f"[{i}]" if listed else "") + ".metric"
        raise ConfigError(
            f"{key}: unknown metric '{objective.metric}' for {stage}"
            f"{did_you_mean(objective.metric, known_metrics)} (known: {known})"
        )
    for i, constraint in enumerate(constraints):
        if constraint.metric not in known_metrics:
            raise ConfigError(
                f"tuning.constraints.{stage}[{i}]: unknown metric '{constraint.metric}' in '{constraint}'"
                f"{did_you_mean(constraint.metric, known_metrics)} (known: {known})"
            )
