"""What mattered: parameter importances of a study, their plots, and the reasons a study gets none."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
import pytest

from crmflow.config.components import parse_component
from crmflow.config.tuning import TuningSettings
from crmflow.plots.importance import top_two_scatter
from crmflow.tuning import tune
from crmflow.tuning_report import importance_artifacts
from crmflow.tuning_result import param_importances

NODE = {
    "_target_": "sklearn.cluster.KMeans",
    "n_clusters": 4,
    "search_space": {
        "n_clusters": {"type": "int", "low": 2, "high": 10},
        "tol": {"type": "float", "low": 1e-6, "high": 1.0, "log": True},
        "algorithm": {"type": "categorical", "choices": ["lloyd", "elkan"]},
    },
}


class QuietLogger:
    """A TrialLogger that records nothing."""

    @contextmanager
    def child_run(self, name: str, params: Any, tags: Any) -> Iterator[None]:
        yield

    def log_metrics(self, metrics: Any, prefix: str = "") -> None:
        pass

    def worker(self) -> QuietLogger:
        return self


def study_of(n_trials: int, objective: Any) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=n_trials)
    return study


def only_x(trial: optuna.Trial) -> float:
    """x alone sets the value; y is drawn and ignored."""
    x = trial.suggest_float("x", 0.0, 1.0)
    trial.suggest_float("y", 0.0, 1.0)
    return x


def test_the_parameter_that_sets_the_objective_is_the_most_important() -> None:
    importances, skipped = param_importances("segmentation", study_of(30, only_x))
    assert skipped is None
    assert list(importances["parameter"]) == ["x", "y"]
    assert importances["importance"].iloc[0] > 0.9 and importances["importance"].sum() == pytest.approx(1.0)


def test_same_study_same_importances() -> None:
    first, _ = param_importances("segmentation", study_of(20, only_x))
    second, _ = param_importances("segmentation", study_of(20, only_x))
    assert first.equals(second)


@pytest.mark.parametrize(
    ("n_trials", "objective", "reason"),
    [
        (3, only_x, "3 complete trials (at least 4 needed)"),
        (6, lambda trial: trial.suggest_float("x", 0.0, 1.0), "1 tuned parameter (x; at least 2 needed)"),
    ],
)
def test_small_studies_are_skipped_with_one_info_line(
    n_trials: int, objective: Any, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="crmflow.tuning_result"):
        importances, skipped = param_importances("rules", study_of(n_trials, objective))
    assert importances is None and skipped == reason
    assert [r.getMessage() for r in caplog.records] == [f"rules: parameter importances skipped: {reason}"]


def test_a_tuned_stage_gets_importances_and_their_plots(tmp_path: Path) -> None:
    settings = TuningSettings.parse(
        {"n_trials": 12, "seed": 0, "objectives": {"segmentation": {"metric": "score"}}}, ["segmentation"]
    )
    spec = parse_component(NODE, "segmentation")
    tuned = tune("segmentation", spec, lambda p: {"score": -abs(p["n_clusters"] - 6)}, settings, QuietLogger())
    assert tuned.importances_skipped is None
    assert tuned.importances["parameter"].iloc[0] == "n_clusters"
    files = importance_artifacts("segmentation", tuned, tmp_path)
    assert [f.name for f in files] == [
        "segmentation_param_importances.csv",
        "segmentation_param_importances.png",
        "segmentation_top_two_params.png",
    ]
    assert all(f.stat().st_size > 0 for f in files)
    categorical = top_two_scatter(tuned.history, "algorithm", "tol", "score", "maximize", tmp_path / "cat.png")
    assert categorical.stat().st_size > 0  # categories at positions, tol on a log axis


def test_a_short_study_logs_no_importance_files(tmp_path: Path) -> None:
    settings = TuningSettings.parse(
        {"n_trials": 2, "seed": 0, "objectives": {"segmentation": {"metric": "score"}}}, ["segmentation"]
    )
    spec = parse_component(NODE, "segmentation")
    tuned = tune("segmentation", spec, lambda p: {"score": float(p["n_clusters"])}, settings, QuietLogger())
    assert tuned.importances is None and tuned.importances_skipped == "2 complete trials (at least 4 needed)"
    assert importance_artifacts("segmentation", tuned, tmp_path) == []
