"""The small interface every tunable stage implements, and what stages hand each other."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from crmflow.config.components import ComponentSpec
from crmflow.data.base import CRMData
from crmflow.features.table import CustomerTable
from crmflow.tuning import Objective


@dataclass
class RunContext:
    """What earlier steps produced: the data, the customer table, and stage outputs.

    `outputs` holds e.g. "segment_labels" (Series by customer_id), "segmenter", and
    "<stage>.tuning" (the stage's TuningResult, set before its `finalize` when it was tuned).
    """

    data: CRMData
    table: CustomerTable | None
    preprocessing: Mapping[str, Any]
    seed: int
    artifact_dir: Path
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class LoggedModel:
    """A fitted model to log, with an input example of raw rows.

    flavor "sklearn": a scikit-learn estimator (skops format); "pyfunc": an `mlflow.pyfunc.PythonModel`
    (e.g. a fitted forecaster) whose `pip_requirements` are listed by the stage.
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

    `score` must not mutate `prepared`: trials share it.
    """

    name: ClassVar[str]
    settings_type: ClassVar[type | None] = None

    @abstractmethod
    def metric_names(self, spec: ComponentSpec) -> list[str]:
        """The metrics `score` returns, so a tuning objective can be checked before any data is read."""

    def default_objective(self, spec: ComponentSpec) -> Objective:
        """What `tuning.objectives.<stage>: {metric: auto}` means for this component."""
        return Objective(self.metric_names(spec)[0], "maximize")

    def check(self, spec: ComponentSpec, ctx: RunContext) -> None:  # noqa: B027 - optional hook
        """Cheap checks that the data has what this stage needs, before anything is fitted."""

    @abstractmethod
    def prepare(self, spec: ComponentSpec, ctx: RunContext) -> Any:
        """Validate the inputs this stage needs (DataError naming the stage) and precompute them."""

    @abstractmethod
    def score(self, estimator: Any, prepared: Any, spec: ComponentSpec) -> dict[str, float]:
        """Fit and evaluate one candidate; the tuning objective is one of the returned metrics."""

    @abstractmethod
    def finalize(self, estimator: Any, prepared: Any, spec: ComponentSpec, ctx: RunContext) -> StageResult:
        """Fit the chosen candidate, write artifacts under ctx.artifact_dir, publish outputs to ctx."""
