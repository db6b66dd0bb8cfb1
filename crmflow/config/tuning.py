"""The `tuning` config node: which stages are tuned, towards what, with how many trials, where and by how many
worker processes.

Light on purpose (no Optuna import): the stage contract and the run plan read it. Its keys are checked
with the vocabulary of crmflow.config.validation, like every other key a user types, before any data is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from crmflow.config.constraints import Boolean, InstanceOf, Interval, Options, Text
from crmflow.config.goals import (
    AUTO,
    Constraint,
    Objective,
    check_select,
    parse_constraints,
    parse_objective_list,
    parse_select_node,
)
from crmflow.config.storage_url import StorageURL, storage_from_node, storage_kind
from crmflow.config.validation import validate
from crmflow.errors import ConfigError, did_you_mean
from crmflow.redact import redact

TUNING_KEYS = (
    "n_trials",
    "timeout",
    "seed",
    "storage",
    "study_name",
    "n_workers",
    "resume",
    "heartbeat_interval",
    "grace_period",
    "max_failures",
    "sampler",
    "start_from_config",
    "pruner",
    "objectives",
    "select",
    "constraints",
    "stages",
)
BUDGET_KEYS = ("n_trials", "timeout")
PRUNERS = ("none", "median", "wilcoxon")  # built by crmflow.pruning
RESUME_MODES = ("finish", "add")  # finish: a stored study reaches n_trials; add: n_trials more, whatever is stored


def _study_name_rule(values: Mapping[str, Any]) -> list[Any]:
    """A stored study is found by its name: `study_name` is required with a storage."""
    if values["storage"] is None:
        return [Text(), None]
    hint = f"; a study in tuning.storage={values['storage']} is found by its name, e.g. tuning.study_name=crm"
    return [Text(hint=hint)]


def _workers_rule(values: Mapping[str, Any]) -> Any:
    """SQLite is never shared by processes (its schema creation and locking race)."""
    if values["storage"] is not None and storage_kind(values["storage"]) == "sqlite":
        hint = "; SQLite is not shared by processes: use tuning.storage=journal:PATH for several workers on one host"
        return Interval(int, 1, 1, doc="1 with a SQLite storage", hint=hint)
    return Interval(int, 1, None)


def _grace_rule(values: Mapping[str, Any]) -> Any:
    interval = values["heartbeat_interval"]
    hint = f"; a trial is stale after missing heartbeats, so make it longer than tuning.heartbeat_interval={interval}"
    return Interval(int, interval, None, closed="neither", hint=hint)


@dataclass(frozen=True)
class Budget:
    """How many trials (and seconds) one stage's study may spend."""

    n_trials: int
    timeout: float | None

    constraints: ClassVar[dict[str, list[Any]]] = {
        "n_trials": [Interval(int, 0, None)],
        "timeout": [Interval(float, 0, None, closed="neither", doc="a number of seconds > 0"), None],
    }


def _known_keys(node: Mapping[str, Any], keys: tuple[str, ...], key: str) -> None:
    for name in sorted(set(node) - set(keys)):
        raise ConfigError(f"{key}: unknown key '{name}'{did_you_mean(name, keys)}")


def _entries(node: Mapping[str, Any], stage_names: list[str], key: str, example: str) -> dict[str, Mapping[str, Any]]:
    """`<key>.<stage>: {...}` entries, each naming a known stage and holding a mapping."""
    for stage in node:
        if stage not in stage_names:
            raise ConfigError(f"{key}: unknown stage '{stage}'{did_you_mean(stage, stage_names)}")
    validate(node, dict.fromkeys(node, [InstanceOf(Mapping, doc="a mapping", hint=f"; e.g. {example}")]), key)
    return dict(node)


@dataclass
class TuningSettings:
    """The parsed `tuning` config node."""

    n_trials: int
    timeout: float | None
    seed: int
    storage: str | None
    study_name: str | None
    max_failures: int | None  # None: a stage's own number of trials
    sampler: Mapping[str, Any] | None
    objectives: dict[str, Objective] = field(default_factory=dict)  # each tuned stage's (first) objective
    goals: dict[str, tuple[Objective, ...]] = field(default_factory=dict)  # stages with a list of 2+ objectives
    select: str | dict[str, str] = "first"  # which member of a Pareto front is refit (`tuning.select`)
    bounds: dict[str, tuple[Constraint, ...]] = field(default_factory=dict)  # `tuning.constraints.<stage>`
    start_from_config: bool = True
    budgets: dict[str, Budget] = field(default_factory=dict)
    n_workers: int = 1  # worker processes per tuned stage's study
    resume: str = "finish"  # what n_trials means for a stored study: its total (finish) or this run's (add)
    heartbeat_interval: int = 60  # PostgreSQL/MySQL studies: seconds between a running trial's heartbeats
    grace_period: int = 120  # ... and seconds without one before the trial is failed and retried
    pruners: dict[str, str] = field(default_factory=dict)  # stage -> pruner named for it (`tuning.pruner.<stage>`)
    pruner: str = "none"  # every other fold-reporting stage's pruner

    constraints: ClassVar[dict[str, list[Any]]] = {
        **Budget.constraints,
        "seed": [int],
        "storage": [StorageURL(), None],
        "study_name": [_study_name_rule],
        "n_workers": [_workers_rule],
        "resume": [Options(RESUME_MODES)],
        "heartbeat_interval": [Interval(int, 1, None)],
        "grace_period": [_grace_rule],
        "max_failures": [Interval(int, 0, None), None],
        "sampler": [Mapping, None],
        "start_from_config": [Boolean()],
        "pruner": [Options(PRUNERS, hint="; or one per stage, e.g. {predictor: wilcoxon}"), Mapping],
        "objectives": [Mapping, None],
        "select": [str, Mapping, None],
        "constraints": [Mapping, None],
        "stages": [Mapping, None],
    }

    @classmethod
    def parse(cls, node: Mapping[str, Any], stage_names: list[str]) -> TuningSettings:
        _known_keys(node, TUNING_KEYS, "tuning")
        values = {"n_trials": 0, "timeout": None, "seed": 0, "storage": None, "study_name": None, "sampler": None}
        values.update(start_from_config=True, objectives=None, stages=None, n_workers=1, resume="finish")
        values.update(heartbeat_interval=60, grace_period=120, max_failures=None, pruner="none", select=None)
        values.update(constraints=None)
        values.update(node)
        if isinstance(values["storage"], Mapping):  # a `_target_` node: its string, the one spelling used
            values["storage"] = storage_from_node(values["storage"])
        shown = {**values, "storage": redact(values["storage"])} if isinstance(values["storage"], str) else values
        validate(shown, cls.constraints, "tuning")  # a password in the storage URL never reaches a message
        default = Budget(values["n_trials"], values["timeout"])
        objectives, goals = _objectives(values["objectives"] or {}, stage_names)
        select = parse_select_node(values["select"], stage_names)
        check_select(select, goals)
        return cls(
            n_trials=default.n_trials,
            timeout=default.timeout,
            seed=values["seed"],
            storage=values["storage"],
            study_name=values["study_name"],
            max_failures=values["max_failures"],
            sampler=values["sampler"],
            objectives=objectives,
            goals=goals,
            select=select,
            bounds=parse_constraints(_given(values["constraints"]), stage_names),
            start_from_config=values["start_from_config"],
            budgets=_budgets(values["stages"] or {}, stage_names, default),
            n_workers=values["n_workers"],
            resume=values["resume"],
            heartbeat_interval=values["heartbeat_interval"],
            grace_period=values["grace_period"],
            pruners=_pruners(values["pruner"], stage_names),
            pruner=values["pruner"] if isinstance(values["pruner"], str) else "none",
        )

    def budget(self, stage: str) -> Budget:
        """`tuning.stages.<stage>` when given, else the run-wide `tuning.n_trials` and `tuning.timeout`."""
        return self.budgets.get(stage, Budget(self.n_trials, self.timeout))

    def failure_limit(self, stage: str) -> int:
        """Failed trials a stage's study may have before it stops: `max_failures`, else its number of trials."""
        return self.budget(stage).n_trials if self.max_failures is None else self.max_failures

    def goals_of(self, stage: str) -> tuple[Objective, ...]:
        """Every objective of `stage`'s study, in order (one for a single-objective study)."""
        return self.goals.get(stage, (self.objectives[stage],))

    def select_of(self, stage: str) -> str:
        """The rule picking the refit member of `stage`'s Pareto front: first, knee or an objective metric."""
        return self.select if isinstance(self.select, str) else self.select.get(stage, "first")

    def trial_metrics(self, stage: str) -> frozenset[str]:
        """The metrics `stage`'s trials are judged on: its objectives and the metrics its constraints bound."""
        return frozenset(goal.metric for goal in self.goals_of(stage)) | {c.metric for c in self.bounds.get(stage, ())}

    def pruner_of(self, stage: str) -> str:
        """The pruner of `stage`'s study: `tuning.pruner.<stage>` when given as a mapping, else `tuning.pruner`."""
        return self.pruners.get(stage, self.pruner)

    def wants(self, stage: str) -> bool:
        """Whether the stage has an objective and trials to spend (its search space decides the rest)."""
        return stage in self.objectives and self.budget(stage).n_trials > 0


def _objectives(
    node: Mapping[str, Any], stage_names: list[str]
) -> tuple[dict[str, Objective], dict[str, tuple[Objective, ...]]]:
    """`tuning.objectives.<stage>: {metric, direction}` or a list of them: each stage's first objective, and the
    whole list of the stages given two or more; `{metric: auto}` is resolved by the plan."""
    objectives, goals = {}, {}
    for stage, entry in node.items():
        key = f"tuning.objectives.{stage}"
        if stage not in stage_names:
            raise ConfigError(f"tuning.objectives: unknown stage '{stage}'{did_you_mean(stage, stage_names)}")
        if isinstance(entry, (str, bytes)) or not isinstance(entry, Sequence | Mapping):
            raise ConfigError(
                f"{key}: expected a mapping such as {{metric: silhouette, direction: maximize}} or a list of them; "
                f"got {entry!r}"
            )
        listed = _objective(entry, key) if isinstance(entry, Mapping) else parse_objective_list(entry, key)
        if isinstance(listed, Objective):
            objectives[stage] = listed
            continue
        objectives[stage] = listed[0]
        if len(listed) > 1:
            goals[stage] = listed
    return objectives, goals


def _objective(entry: Mapping[str, Any], key: str) -> Objective | tuple[Objective, ...]:
    """One `{metric, direction}` mapping (direction: maximize unless given); `{metric: [a, b], direction: ...}`
    (one direction for all, or one each) is the list spelling that merges over a mapping in Hydra overrides."""
    _known_keys(entry, tuple(Objective.constraints), key)
    metrics, directions = entry.get("metric"), entry.get("direction")
    if isinstance(metrics, Sequence) and not isinstance(metrics, str):
        if directions is None:  # e.g. over {metric: auto}: roc_auc and log_loss do not share a direction
            raise ConfigError(
                f"{key}.direction: missing for the {len(metrics)} metrics {list(metrics)}; give one for all or a "
                f"list, e.g. +{key}.direction=[{','.join(['maximize'] * len(metrics))}] (each maximize or minimize)"
            )
        if isinstance(directions, str):
            directions = [directions] * len(metrics)
        if not isinstance(directions, Sequence) or len(directions) != len(metrics):
            raise ConfigError(
                f"{key}.direction: expected one direction for all {len(metrics)} metrics or a list of "
                f"{len(metrics)}; got {directions!r}"
            )
        items = [{"metric": m, "direction": d} for m, d in zip(metrics, directions, strict=True)]
        return parse_objective_list(items, key)
    values = {"metric": None, "direction": "maximize", **entry}
    validate(values, Objective.constraints, key)
    metric = values["metric"]
    return Objective(AUTO, AUTO) if metric == AUTO else Objective(metric, values["direction"])


def _pruners(node: Any, stage_names: list[str]) -> dict[str, str]:
    """`tuning.pruner: {<stage>: median|wilcoxon|none}`; a plain string is the run-wide pruner (no entries)."""
    if isinstance(node, str):
        return {}
    for stage in node:
        if stage not in stage_names:
            raise ConfigError(f"tuning.pruner: unknown stage '{stage}'{did_you_mean(stage, stage_names)}")
    validate(node, dict.fromkeys(node, [Options(PRUNERS)]), "tuning.pruner")
    return dict(node)


def _budgets(node: Mapping[str, Any], stage_names: list[str], default: Budget) -> dict[str, Budget]:
    """`tuning.stages.<stage>: {n_trials, timeout}`, each key left out or null falling back to the run-wide value
    (so an entry of nulls sets nothing, whether or not its stage is configured)."""
    budgets = {}
    given = {stage: entry for stage, entry in node.items() if not _all_null(entry)}
    for stage, entry in _entries(given, stage_names, "tuning.stages", "{n_trials: 20, timeout: 600}").items():
        key = f"tuning.stages.{stage}"
        _known_keys(entry, BUDGET_KEYS, key)
        values = {"n_trials": default.n_trials, "timeout": default.timeout}
        values.update({name: value for name, value in entry.items() if value is not None})
        validate(values, Budget.constraints, key)
        budgets[stage] = Budget(values["n_trials"], values["timeout"])
    return budgets


def _given(node: Mapping[str, Any] | None) -> dict[str, Any]:
    """The entries that set something: the defaults' empty lists stand for stages a run may not have."""
    return {stage: entry for stage, entry in (node or {}).items() if entry is not None and entry != []}


def _all_null(entry: Any) -> bool:
    return isinstance(entry, Mapping) and all(value is None for value in entry.values())
