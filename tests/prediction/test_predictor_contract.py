"""The contract every `predictor=` option passes: classifiers on the synthetic churn label, regressors on
the synthetic spend target. Options are discovered from conf/predictor, so a new YAML gets the whole
contract for free."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
import pytest
from helpers import compose_config
from threadpoolctl import threadpool_limits

from crmflow.config.components import ComponentSpec
from crmflow.paths import config_dir
from crmflow.plan import plan_run
from crmflow.prediction.stage import PredictorStage
from crmflow.prediction.task import CLASSIFICATION, REGRESSION, Task, task_of
from crmflow.run import _load
from crmflow.stages.contract import RunState

OPTIONS = sorted(p.stem for p in (config_dir() / "predictor").glob("*.yaml") if p.stem not in {"_settings", "none"})
SMALL = [
    "data.n_customers=400",
    "data.days=400",
    "rules=none",
    "segmentation=none",
    "tuning=off",
    "predictor.settings.cv_folds=3",
]
TARGET = {CLASSIFICATION.name: "features.target=churn", REGRESSION.name: "features.target=spend"}
STAGE = PredictorStage()


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """OpenMP estimators (histogram boosting) crawl when the test machine's cores are busy."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def contexts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunState]:
    """One loaded customer table per task (the data does not depend on the predictor)."""
    built = {}
    for task, target in TARGET.items():
        folder = tmp_path_factory.mktemp(task)
        built[task], _ = _load(plan_run(compose_config([*SMALL, target])), folder)
    return built


@dataclass
class Case:
    option: str
    spec: ComponentSpec
    task: Task
    ctx: RunState


@functools.cache
def component(option: str) -> tuple[ComponentSpec, Task]:
    """The option's validated spec (composed as the CLI does) and its task."""
    spec = plan_run(compose_config([*SMALL, f"predictor={option}"])).stages[0][1]
    return spec, task_of(spec)


@pytest.fixture(params=OPTIONS)
def case(request: pytest.FixtureRequest, contexts: dict[str, RunState], tmp_path: Path) -> Case:
    spec, task = component(request.param)
    ctx = contexts[task.name]
    return Case(request.param, spec, task, RunState(ctx.data, ctx.table, ctx.preprocessing, ctx.seed, tmp_path))


def test_every_task_has_algorithms() -> None:
    assert {component(option)[1].name for option in OPTIONS} == {CLASSIFICATION.name, REGRESSION.name}


class TestPredictorContract:
    def test_metric_names_and_objective_follow_the_task(self, case: Case) -> None:
        assert STAGE.metric_names(case.spec) == list(case.task.metrics)
        expected = ("roc_auc", "maximize") if case.task is CLASSIFICATION else ("rmse", "minimize")
        objective = STAGE.default_objective(case.spec)
        assert (objective.metric, objective.direction) == expected

    def test_a_drawn_candidate_scores_better_than_chance(self, case: Case) -> None:
        STAGE.check(case.spec, case.ctx)
        prepared = STAGE.prepare(case.spec, case.ctx)
        trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3)).ask()
        scores = STAGE.score(case.spec.build(case.spec.search_space.suggest(trial)), prepared, case.spec)
        assert set(scores) == set(case.task.metrics)
        assert all(math.isfinite(v) for v in scores.values())
        if case.task is CLASSIFICATION:
            assert scores["roc_auc"] > 0.7 and 0 <= scores["f1"] <= 1 and scores["log_loss"] > 0
        else:
            assert scores["r2"] > 0.1 and scores["mae"] <= scores["rmse"]

    def test_finalize_scores_the_holdout_and_logs_a_raw_row_model(self, case: Case) -> None:
        prepared = STAGE.prepare(case.spec, case.ctx)
        result = STAGE.finalize(case.spec.build(), prepared, case.spec, case.ctx, None)
        for name in case.task.metrics:
            assert math.isfinite(result.metrics[f"holdout_{name}"])
        assert result.metrics["n_holdout"] == pytest.approx(0.2 * len(case.ctx.table.y), abs=1)
        assert all(path.is_file() and path.stat().st_size > 0 for path in result.artifacts)
        names = {path.name for path in result.artifacts}
        assert {"predictor_holdout_predictions.csv", "predictor_feature_importances.csv"} <= names
        model, raw = result.model.model, prepared.X_holdout
        assert list(result.model.input_example.columns) == list(case.ctx.table.X.columns)
        predicted = model.predict(raw)
        assert len(predicted) == len(raw)
        if case.task is CLASSIFICATION:
            probability = model.predict_proba(raw)[:, 1]
            assert ((probability >= 0) & (probability <= 1)).all()
            np.testing.assert_array_equal(predicted, probability >= result.metrics["threshold"])
