"""`tuning.pruner`: fold scores reach the trial, hopeless trials stop between folds (PRUNED in Optuna, KILLED in
MLflow with the fold), the best is never pruned, and a pruner where it cannot work is one line before any data."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from helpers import compose_config
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from crmflow.compare import CompareRequest, compare
from crmflow.config.components import parse_component
from crmflow.config.tuning import TuningSettings
from crmflow.errors import ConfigError
from crmflow.forecasting.backtest import RollingOrigin, backtest
from crmflow.forecasting.baselines import SeasonalNaiveForecaster
from crmflow.forecasting.metrics import forecast_metrics
from crmflow.plan import plan_run
from crmflow.prediction.evaluation import out_of_fold
from crmflow.prediction.task import ClassificationTask
from crmflow.pruning import PRUNED_AT, FoldPruned, FoldReporter, build_pruner
from crmflow.run import run as run_crmflow
from crmflow.tracking import Tracker
from crmflow.tuning import tune

NODE = {"_target_": "sklearn.cluster.KMeans", "search_space": {"n_clusters": {"type": "int", "low": 2, "high": 9}}}
FOLD_NOISE = (0.01, -0.01, 0.02, 0.0, -0.02)  # the same for every trial: only the level tells trials apart


def settings(pruner: str, n_trials: int = 14) -> TuningSettings:
    node = {
        "n_trials": n_trials,
        "seed": 0,
        "pruner": pruner,
        "start_from_config": False,
        "objectives": {"predictor": {"metric": "score", "direction": "maximize"}},
    }
    return TuningSettings.parse(node, ["predictor"])


def evaluate(params: dict, report=None) -> dict[str, float]:
    """Five folds whose score is the level n_clusters / 10 plus a fixed per-fold wobble."""
    level = params["n_clusters"] / 10
    scores = [level + noise for noise in FOLD_NOISE]
    for fold, score in enumerate(scores):
        if report is not None:
            report(fold, {"score": score})
    return {"score": float(np.mean(scores))}


class RecordingLogger:
    """Stands in for a trial's run: the metrics logged with their steps."""

    def __init__(self) -> None:
        self.logged: list[tuple[str, float, int]] = []

    def log_metrics(self, metrics, prefix: str = "", step: int = 0) -> None:
        self.logged += [(f"{prefix}{name}", value, step) for name, value in metrics.items()]


@pytest.mark.parametrize("pruner", ["median", "wilcoxon"])
def test_hopeless_trials_are_pruned_killed_with_their_fold_and_the_best_never(pruner: str, tmp_path: Path) -> None:
    tracker = Tracker(f"sqlite:///{tmp_path}/mlflow.db", "pruning")
    spec = parse_component(NODE, "predictor")
    with tracker.parent_run("p", {}) as parent:
        result = tune("predictor", spec, evaluate, settings(pruner), tracker)
    states = result.history.set_index("number")["state"]
    assert result.n_pruned >= 1 and result.n_pruned == (states == "PRUNED").sum()
    drawn = result.history.set_index("number")["params_n_clusters"]
    assert result.best_params["n_clusters"] == drawn.max()  # the best drawn level completed: never pruned
    assert (states[drawn == drawn.max()] == "COMPLETE").all()
    client = MlflowClient(tracker.uri)
    kids = client.search_runs([tracker.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    killed = [run for run in kids if run.info.status == "KILLED"]
    assert len(killed) == result.n_pruned and {run.info.status for run in kids} <= {"KILLED", "FINISHED"}
    for run in killed:
        fold = int(run.data.metrics[PRUNED_AT])
        assert run.data.tags["crmflow.killed_reason"].startswith(f"pruned after fold {fold} (score ")
        assert "crmflow.error" not in run.data.tags  # stopped, not failed
        history = client.get_metric_history(run.info.run_id, "score_by_fold")
        assert [m.step for m in history] == list(range(fold + 1))  # the folds it ran, each logged at its step
        assert "score" not in run.data.metrics  # no mean of the folds it did not run


def test_no_pruner_runs_every_fold_of_every_trial(tmp_path: Path) -> None:
    tracker = Tracker(f"sqlite:///{tmp_path}/mlflow.db", "pruning")
    with tracker.parent_run("p", {}):
        result = tune("predictor", parse_component(NODE, "predictor"), evaluate, settings("none", 6), tracker)
    assert (result.n_complete, result.n_pruned) == (6, 0)


def test_the_reporter_hands_each_fold_to_the_trial_and_stops_when_the_pruner_says() -> None:
    study = optuna.create_study(direction="maximize", pruner=build_pruner("median"))
    for level in (0.9, 0.8, 0.85, 0.7, 0.95):  # 5 complete trials: the median pruner's start-up
        trial = study.ask()
        for fold in range(3):
            trial.report(level, fold)
        study.tell(trial, level)
    going, logger = FoldReporter(study.ask(), "roc_auc", RecordingLogger()), RecordingLogger()
    going(0, {"roc_auc": 0.88, "f1": 0.5})  # above the median of 0.85 at fold 0: goes on
    going(1, {"roc_auc": 0.6})  # the median pruner judges a trial's best fold so far (0.88): goes on
    hopeless = FoldReporter(study.ask(), "roc_auc", logger)
    with pytest.raises(FoldPruned, match=r"pruned after fold 0 \(roc_auc 0\.6 at that fold\)") as stopped:
        hopeless(0, {"roc_auc": 0.6})
    assert stopped.value.fold == 0 and stopped.value.run_status == "KILLED"
    assert logger.logged == [("roc_auc_by_fold", 0.6, 0), (PRUNED_AT, 0.0, 0)]
    assert [t.intermediate_values for t in study.trials[-2:]] == [{0: 0.88, 1: 0.6}, {0: 0.6}]


def test_cv_reports_every_fold_in_order_with_the_folds_own_metrics() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    y = pd.Series((X["a"] + rng.normal(scale=0.8, size=300) > 0).astype(int))
    task, cv = ClassificationTask(), StratifiedKFold(4, shuffle=True, random_state=0)
    reported: list[tuple[int, dict]] = []
    oof = out_of_fold(LogisticRegression(), task, X, y, cv, 1, lambda f, m: reported.append((f, dict(m))), 0.5)
    assert [fold for fold, _ in reported] == [0, 1, 2, 3]
    for (fold, metrics), test in zip(reported, oof.folds, strict=True):
        assert metrics == task.evaluate(y.to_numpy()[test], oof.predictions[test], 0.5), fold
    mean_auc = np.mean([metrics["roc_auc"] for _, metrics in reported])
    assert mean_auc == pytest.approx(oof.fold_mean(task, y.to_numpy(), 0.5)["roc_auc"])


def test_cv_stops_at_the_fold_its_report_raises() -> None:
    X = pd.DataFrame({"a": np.arange(200.0)})
    y = pd.Series(np.arange(200) % 2)
    seen: list[int] = []

    def stop_after_second(fold: int, metrics: dict) -> None:
        seen.append(fold)
        if fold == 1:
            raise FoldPruned(fold, "roc_auc", metrics["roc_auc"])

    with pytest.raises(FoldPruned):
        out_of_fold(LogisticRegression(), ClassificationTask(), X, y, StratifiedKFold(5), 1, stop_after_second, 0.5)
    assert seen == [0, 1]


def test_backtest_reports_each_fold_with_the_rows_of_the_whole_table() -> None:
    index = pd.date_range("2024-01-01", periods=60, freq="D")
    series = pd.Series(10 + np.sin(np.arange(60) / 3) * 3 + np.arange(60) * 0.1, index=index, name="sales")
    windows = RollingOrigin(horizon=7, folds=4, step=7)
    folds: dict[int, pd.DataFrame] = {}
    table = backtest(
        SeasonalNaiveForecaster(7), series, windows, 7, 0.8, on_fold=lambda f, rows: folds.setdefault(f, rows)
    )
    assert list(folds) == [0, 1, 2, 3]
    pd.testing.assert_frame_equal(pd.concat(folds.values()), table)
    mase = np.mean([forecast_metrics(rows)["mase"] for rows in folds.values()])  # equal horizons: the pooled value
    assert mase == pytest.approx(forecast_metrics(table)["mase"])


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["tuning.pruner=mediam"], "tuning.pruner: must be a str among {'median', 'none', 'wilcoxon'}"),
        (["+tuning.pruner.segmentaton=median"], "tuning.pruner: unknown stage 'segmentaton'"),
        (
            ["~tuning.pruner", "+tuning.pruner={segmentation: median}"],
            "tuning.pruner.segmentation: segmentation scores each candidate once, with no folds to stop between; "
            "pruners work on the stages that evaluate in folds: predictor (5 folds)",
        ),
        (
            ["tuning.pruner=median", "predictor=none"],
            "tuning.pruner: median has nothing to stop: no tuned stage (tuned: segmentation) evaluates in folds",
        ),
        (
            ["tuning.pruner={forecaster: wilcoxon}", "forecaster=ets"],
            "tuning.pruner.forecaster: wilcoxon needs at least 4 folds to reach p < 0.1, and forecaster scores 2",
        ),
        (
            ["tuning.pruner=wilcoxon", "predictor.settings.cv_folds=3"],
            "tuning.pruner: wilcoxon has nothing to stop",
        ),
        (
            [
                "tuning.pruner=wilcoxon",
                "tuning.objectives.predictor.metric=[roc_auc,log_loss]",
                "+tuning.objectives.predictor.direction=[maximize,minimize]",
            ],
            "tuning.pruner: predictor is tuned on 2 objectives (roc_auc, log_loss) and Optuna cannot prune a "
            "multi-objective trial; set it to none or give tuning.objectives.predictor one objective",
        ),
    ],
)
def test_a_pruner_where_it_cannot_work_is_one_line_naming_the_key(overrides: list[str], expected: str) -> None:
    base = ["rules=none", "forecaster=none", "data.n_customers=300"]
    with pytest.raises(ConfigError) as error:
        plan_run(compose_config([*base, *overrides]))
    assert str(error.value).startswith(expected), str(error.value)


def test_a_run_wide_pruner_applies_where_it_can_work_and_leaves_the_rest_alone() -> None:
    overrides = ["rules=none", "forecaster=ets", "data.n_customers=300", "tuning.pruner=wilcoxon"]
    tuning = plan_run(compose_config(overrides)).tuning
    assert tuning.pruners == {"predictor": "wilcoxon"}  # not segmentation (no folds), not forecaster (2 folds)
    assert [tuning.pruner_of(s) for s in ("segmentation", "predictor", "forecaster")] == ["none", "wilcoxon", "none"]
    median = plan_run(compose_config([*overrides[:-1], "tuning.pruner=median"])).tuning
    assert median.pruners == {"predictor": "median", "forecaster": "median"}


def test_a_pruner_per_stage_applies_to_that_stage_only() -> None:
    tuning = TuningSettings.parse({"pruner": {"predictor": "wilcoxon"}}, ["segmentation", "predictor", "forecaster"])
    assert [tuning.pruner_of(s) for s in ("predictor", "forecaster")] == ["wilcoxon", "none"]
    assert isinstance(build_pruner("wilcoxon"), optuna.pruners.WilcoxonPruner)
    assert isinstance(build_pruner("none"), optuna.pruners.NopPruner)


@pytest.mark.slow
def test_a_pruned_run_counts_its_pruned_trials_for_compare(tracking_overrides: list[str]) -> None:
    overrides = [
        "data.n_customers=400",
        "rules=none",
        "predictor=decision_tree",
        "tuning.stages.segmentation.n_trials=2",
    ]
    pruning = ["tuning.stages.predictor.n_trials=10", "tuning.pruner=wilcoxon"]  # segmentation tuned, not pruned
    result = run_crmflow(compose_config([*overrides, *pruning, *tracking_overrides]))
    client = MlflowClient(result.tracking_uri)
    metrics = client.get_run(result.run_id).data.metrics
    kids = client.search_runs([result.experiment_id], f"tags.mlflow.parentRunId = '{result.run_id}'")
    killed = sum(run.info.status == "KILLED" for run in kids)
    assert metrics["predictor.tuning.n_trials_pruned"] == killed >= 1
    assert metrics["predictor.tuning.n_trials_complete"] + killed == 10
    assert (metrics["segmentation.tuning.n_trials_complete"], metrics["segmentation.tuning.n_trials_pruned"]) == (2, 0)
    assert client.get_run(result.run_id).data.tags["predictor.best_run_id"] in {
        run.info.run_id for run in kids if run.info.status == "FINISHED"
    }
    table = compare(CompareRequest.parse([f"tracking_uri={result.tracking_uri}", "experiment=test", "format=csv"]))
    row = pd.read_csv(io.StringIO(table)).iloc[0]
    assert (row["complete"], row["pruned"]) == (12 - killed, killed)  # summed over the tuned stages
