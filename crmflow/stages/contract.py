"""The stage contract: what a stage declares, what it is handed, and what it hands on.

The lightest module of the runner on purpose: no MLflow, no Optuna. A stage is a config group
(`conf/<name>/`) whose class is listed under `stages:` in `conf/config.yaml`; the runner knows no
stage by name. What flows between stages is a typed field of `RunState`, and a stage declares the
fields it needs (`requires`) and fills (`provides`), so the whole chain is checked before any data
is read.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from crmflow.config.components import ComponentSpec
from crmflow.config.goals import Objective
from crmflow.data.base import CRMData
from crmflow.features.table import CustomerTable
from crmflow.privacy import Privacy

if TYPE_CHECKING:
    import pandas as pd

    from crmflow.rules.baskets import Baskets
    from crmflow.segmentation.segmenter import Segmenter

# Called by a stage that evaluates in folds after each one, with the fold's 0-based index and metrics; it may raise
# to stop the trial there (crmflow.pruning.FoldReporter, when `tuning.pruner` is set).
FoldReport = Callable[[int, Mapping[str, float]], None]

# What a stage can hand to later stages: the RunState field and how a message names it.
HANDOFFS: dict[str, str] = {"segments": "segment labels"}


@dataclass
class Segments:
    """The segmentation stage's hand-off: labels by customer id, and the unfitted segmenter with the
    feature columns it reads, so a predictor can refit it inside each CV fold."""

    labels: pd.Series
    segmenter: Segmenter | None  # None: the labels come from the log (states), not refittable on feature rows
    columns: list[str]


@dataclass
class RunState:
    """What the run has so far: the data and customer table (loaded once) and each stage's hand-off."""

    data: CRMData
    table: CustomerTable | None
    preprocessing: Mapping[str, Any]
    seed: int
    artifact_dir: Path
    baskets: Baskets | None = None  # built once from the transactions by the first stage that needs them
    segments: Segments | None = None  # from the segmentation stage
    model_uris: dict[str, str] = field(default_factory=dict)  # stage name -> logged model URI
    trial_metrics: Mapping[str, frozenset[str]] = field(default_factory=dict)  # tuned stage -> goals, constraints
    # customer-table columns a stage adds in `finalize` (column -> the config key asking for it), registered by its
    # `check` so later stages' checks accept them (e.g. value.settings.add_features: p_alive, clv)
    coming_columns: dict[str, str] = field(default_factory=dict)
    privacy: Privacy = field(default_factory=Privacy)  # how artifacts show customer ids (tracking.privacy)

    def trials_report(self, stage: str, metric: str) -> bool:
        """Whether `stage`'s tuning trials must compute `metric` (an objective or a constraint of theirs); a stage
        may leave a costly metric to `finalize` otherwise."""
        return metric in self.trial_metrics.get(stage, ())


@dataclass
class TuningResult:
    """What a stage's study found: the best parameters and its trial history."""

    objective: Objective
    best_params: dict[str, Any]
    best_value: float
    n_complete: int
    n_failed: int
    history: pd.DataFrame
    best_run_id: str | None = None  # the best trial's MLflow run
    importances: pd.DataFrame | None = None  # (parameter, importance), most important first
    importances_skipped: str | None = None  # why there are none
    n_pruned: int = 0  # trials a pruner stopped between folds
    front: pd.DataFrame | None = None  # a multi-objective study's trials, `on_front`, `selected` (crmflow.pareto)
    goals: tuple[Objective, ...] = ()  # a multi-objective study's objectives, `objective` first


@dataclass
class LoggedModel:
    """A fitted model to log, with an input example (raw rows, or with privacy on a synthetic row: `Privacy.example`).

    flavor "sklearn": a scikit-learn estimator (skops format); "pyfunc": a model saved as plain data that one of
    crmflow's loader modules reads, never pickled (`crmflow.tracking.models.JsonPyfunc`, e.g. a fitted forecaster),
    whose `pip_requirements` are listed by the stage.
    """

    model: Any
    input_example: Any
    name: str
    flavor: str = "sklearn"
    pip_requirements: list[str] = field(default_factory=list)


@dataclass
class StageResult:
    """The refit best component's metrics, artifact files and optional model."""

    metrics: dict[str, float]
    artifacts: list[Path] = field(default_factory=list)
    model: LoggedModel | None = None


class Stage(ABC):
    """A stage prepares its inputs once per run, scores one candidate per trial, and finalizes the best.

    `name` is the stage's config group. `provides` lists the `RunState` hand-offs its `finalize`
    fills; `example_option` is suggested when a later stage needs one of them and this stage is off. A stage that
    `needs_transactions` is left out (with a line) of a run whose data has none, unless the command line chose it.
    `score` must not mutate `prepared`: trials share it. A stage that evaluates a candidate in folds says how
    many (`tuning_folds`) and calls `score`'s `report` after each one, so `tuning.pruner` can stop hopeless trials.
    """

    name: ClassVar[str]
    settings_type: ClassVar[type | None] = None
    provides: ClassVar[frozenset[str]] = frozenset()
    example_option: ClassVar[str | None] = None
    needs_transactions: ClassVar[bool] = False

    def requires(self, spec: ComponentSpec) -> dict[str, str]:
        """The hand-offs this configuration needs from earlier stages, each with the config key asking for it."""
        return {}

    @abstractmethod
    def metric_names(self, spec: ComponentSpec) -> list[str]:
        """The metrics `score` returns, so a tuning objective can be checked before any data is read."""

    def default_objective(self, spec: ComponentSpec) -> Objective:
        """What `tuning.objectives.<stage>: {metric: auto}` means for this component."""
        return Objective(self.metric_names(spec)[0], "maximize")

    def tuning_folds(self, spec: ComponentSpec) -> int:
        """The folds a trial's score is built from, each reported as it is done; 0: one evaluation, so nothing
        for a pruner to stop between."""
        return 0

    def check_config(self, spec: ComponentSpec) -> None:  # noqa: B027 - an optional hook
        """Checks of the component and its settings that need no data; the plan runs them before loading."""

    def check(self, spec: ComponentSpec, state: RunState) -> None:  # noqa: B027 - an optional hook
        """Cheap checks that the data has what this stage needs, before anything is fitted."""

    def caveats(self, spec: ComponentSpec, metrics: Mapping[str, float], data: Mapping[str, float]) -> list[str]:
        """Plain sentences saying when the final metrics make the result useless (no better than a baseline beyond
        noise, ...); `data` holds the run's `data.*` and `features.*` metrics. Printed and reported, never raised."""
        return []

    @abstractmethod
    def prepare(self, spec: ComponentSpec, state: RunState) -> Any:
        """Validate the inputs this stage needs (DataError naming the stage) and precompute them."""

    @abstractmethod
    def score(
        self, estimator: Any, prepared: Any, spec: ComponentSpec, report: FoldReport | None = None
    ) -> dict[str, float]:
        """Fit and evaluate one candidate; the tuning objective is one of the returned metrics. `report` is given
        only to a stage with `tuning_folds`, when a pruner is on."""

    @abstractmethod
    def finalize(
        self, estimator: Any, prepared: Any, spec: ComponentSpec, state: RunState, tuned: TuningResult | None
    ) -> StageResult:
        """Fit the chosen candidate, write artifacts under state.artifact_dir, fill this stage's hand-offs.

        `tuned` is this stage's study result, or None when the stage was not tuned.
        """
