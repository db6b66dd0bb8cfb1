"""Each recipe and dataset in its own MLflow experiment by default; run names that tell a sweep's runs apart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf, open_dict

from crmflow.config.experiments import register_experiments
from crmflow.hydra_callbacks import SweepCallback, sweep_experiment
from crmflow.paths import config_dir
from crmflow.plan import plan_run
from crmflow.run import RunInfo, run_name


def with_hydra(overrides: list[str]) -> DictConfig:
    """The config as the launching process of a sweep sees it: with its `hydra` node (choices, overrides)."""
    register_experiments()
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=True)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ([], "synthetic"),
        (["data=csv"], "csv"),
        (["data=baskets"], "baskets"),
        (["+experiment=online_retail"], "online_retail"),
        (["+experiment=telco_churn"], "telco_churn"),
        (["tracking.experiment=mine"], "mine"),
        (["+experiment=online_retail", "tracking.experiment=mine"], "mine"),
        (["tracking=server"], "synthetic"),
    ],
)
def test_the_experiment_defaults_to_the_recipe_or_the_data(compose, overrides: list[str], expected: str) -> None:
    assert OmegaConf.select(compose(overrides), "tracking.experiment") == expected


def test_the_recipe_name_wins_over_the_data_name_where_hydra_tells_it() -> None:
    cfg = with_hydra(["+experiment=online_retail_value"])
    assert cfg.data.name == "online_retail"  # the recipe reads the online_retail data
    assert OmegaConf.select(cfg, "tracking.experiment") == "online_retail_value"
    assert OmegaConf.select(with_hydra([]), "tracking.experiment") == "synthetic"


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        (["segmentation=kmeans,gmm", "tuning.n_trials=2"], "synthetic"),
        (["data.n_customers=300,400"], "synthetic"),
        (["data=synthetic,csv"], None),
        (["+experiment=online_retail,telco_churn"], None),
        (["tracking.experiment=a,b"], None),
        (["data.name=a,b"], None),
    ],
)
def test_a_sweep_shares_one_experiment_unless_it_varies_the_recipe_or_data(task: list[str], expected: str) -> None:
    cfg = with_hydra([])
    with open_dict(cfg):
        cfg.hydra.overrides.task = task
    assert sweep_experiment(cfg) == expected


def test_run_names_show_the_choices_what_the_command_line_sets_and_a_short_id(compose) -> None:
    plan = plan_run(compose(["tuning.n_trials=2"]))
    choices = {"segmentation": "kmeans", "rules": "fpgrowth", "predictor": "logistic_regression"}
    info = RunInfo(
        choices={**choices, "experiment": "online_retail", "preprocessing": "log_standard", "tracking": "local"},
        overrides=["segmentation.n_clusters=4", "tuning.n_trials=2", "preprocessing=log_standard", "seed=3"],
    )
    first, second = run_name(plan, info), run_name(plan, info)
    pattern = r"online_retail · kmeans · fpgrowth · logistic_regression · n_clusters=4 · log_standard · seed=3 · "
    assert re.fullmatch(pattern + "[0-9a-f]{6}", first), first
    assert first != second and first[:-6] == second[:-6]
    assert re.fullmatch(r"KMeans · AssociationRules · LogisticRegression · [0-9a-f]{6}", run_name(plan, RunInfo()))


@pytest.mark.parametrize(("task", "made"), [(["segmentation=kmeans,gmm"], ["synthetic"]), (["data=synthetic,csv"], [])])
def test_sweep_start_makes_the_shared_experiment_only(tmp_path: Path, task: list[str], made: list[str]) -> None:
    cfg = with_hydra([f"tracking.uri=sqlite:///{tmp_path}/mlruns/mlflow.db"])
    with open_dict(cfg):
        cfg.hydra.overrides.task = task
        cfg.hydra.sweep.dir = str(tmp_path / "multirun")
    SweepCallback().on_multirun_start(cfg)
    names = [e.name for e in MlflowClient(cfg.tracking.uri).search_experiments()]
    assert sorted(names) == sorted(["Default", *made])  # the store exists either way
