"""`best_params.yaml`: a tuned run's winners as a recipe that reruns it once, with the same metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import run_cli
from mlflow.tracking import MlflowClient

from crmflow.best_recipe import HEADER, best_recipe, kept_override_keys, recipe_text

CHOICES = {"data": "synthetic", "segmentation": "kmeans", "predictor": "svm", "tuning": "default", "tracking": "local"}
CONFIG = {"data": {"n_customers": 300, "days": 540}, "seed": 7, "tuning": {"n_trials": 3}}


def test_recipe_overrides_choices_sets_tuning_off_and_nests_parameters() -> None:
    overrides = ["data.n_customers=300", "seed=7", "segmentation=kmeans", "tuning.n_trials=3", "tracking.uri=x"]
    recipe = best_recipe(
        CHOICES,
        kept_override_keys(overrides, set(), CONFIG),
        CONFIG,
        {"segmentation": {"n_clusters": 5}, "predictor": {"estimator__C": 0.5, "class_weight": None}},
    )
    assert recipe["defaults"] == [
        {"override /data": "synthetic"},
        {"override /segmentation": "kmeans"},
        {"override /predictor": "svm"},
        {"override /tuning": "off"},
    ]
    assert recipe["data"] == {"n_customers": 300}  # a plain override kept; tuning.* and tracking.* are not
    assert recipe["seed"] == 7 and "tuning" not in recipe and "tracking" not in recipe
    assert recipe["segmentation"] == {"n_clusters": 5}
    assert recipe["predictor"] == {"estimator": {"C": 0.5}, "class_weight": None}


def test_search_space_overrides_are_left_out() -> None:
    kept = kept_override_keys(["segmentation.search_space.n_clusters.high=6", "data.days=540"], set(), CONFIG)
    recipe = best_recipe({}, kept, CONFIG, {})
    assert recipe == {"defaults": [{"override /tuning": "off"}], "data": {"days": 540}}


def test_secrets_are_left_out() -> None:
    config = {"data": {"password": "hunter2", "url": "postgresql://me:hunter2@db/crm", "table": "tx"}}
    overrides = ["data.password=hunter2", "data.url=postgresql://me:hunter2@db/crm", "data.table=tx"]
    assert kept_override_keys(overrides, set(), config) == {"data.table"}


def test_recipe_text_is_a_global_package_yaml() -> None:
    text = recipe_text(best_recipe({"segmentation": "kmeans"}, set(), {}, {"segmentation": {"n_clusters": 3}}), "abc")
    assert text.startswith(HEADER) and "MLflow run abc" in text
    assert yaml.safe_load(text)["defaults"][-1] == {"override /tuning": "off"}  # 'off' quoted, not a boolean


@pytest.mark.slow
def test_rerun_from_best_params_reproduces_the_tuned_run(tmp_path: Path) -> None:
    store = [f"tracking.uri=sqlite:///{tmp_path}/mlruns/mlflow.db", "tracking.experiment=test"]
    tuned_args = ["data.n_customers=300", "rules=none", "predictor=none", "segmentation=kmeans", "tuning.n_trials=3"]
    first = run_cli(*tuned_args, "tuning.start_from_config=false", *store, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    [experiment] = [e for e in client.search_experiments() if e.name == "test"]
    [tuned] = client.search_runs([experiment.experiment_id], "tags.crmflow.version != ''")
    kids = client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{tuned.info.run_id}'")
    best_kid = tuned.data.tags["segmentation.best_run_id"]
    assert best_kid in {k.info.run_id for k in kids}
    assert client.get_run(best_kid).data.metrics["silhouette"] == tuned.data.metrics["segmentation.best_value"]

    recipe_path = Path(client.download_artifacts(tuned.info.run_id, "best_params.yaml", str(tmp_path)))
    recipe = yaml.safe_load(recipe_path.read_text())
    assert recipe["segmentation"]["n_clusters"] == int(tuned.data.params["segmentation.best.n_clusters"])
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    recipe_path.rename(tmp_path / "conf" / "experiment" / "best.yaml")
    again = run_cli("--config-dir", str(tmp_path / "conf"), "+experiment=best", *store, cwd=tmp_path)
    assert again.returncode == 0, again.stderr

    runs = client.search_runs([experiment.experiment_id], "tags.crmflow.version != ''", order_by=["start_time DESC"])
    rerun = runs[0]
    assert rerun.info.run_id != tuned.info.run_id
    assert not client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{rerun.info.run_id}'")
    assert "segmentation.tuning.n_trials_complete" not in rerun.data.metrics  # no trials ran
    skipped = {"segmentation.seconds", "segmentation.best_value"}
    expected = {k: v for k, v in tuned.data.metrics.items() if k.startswith("segmentation.") and k not in skipped}
    expected = {k: v for k, v in expected.items() if not k.startswith("segmentation.tuning.")}
    got = {k: v for k, v in rerun.data.metrics.items() if k.startswith("segmentation.") and k != "segmentation.seconds"}
    assert got == expected and expected
