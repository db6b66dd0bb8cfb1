"""Two goals and constraints in a real run: a multi-objective segmentation study logs a front of non-dominated
trials (tagged), the declared rule picks the refit member, and a constraint keeps an infeasible optimum from
winning, in one study or two goals."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import pandas as pd
import pytest
from helpers import compose_config
from mlflow.tracking import MlflowClient

from crmflow.config.components import parse_component
from crmflow.config.goals import Objective
from crmflow.config.tuning import TuningSettings
from crmflow.errors import ConfigError
from crmflow.pareto import non_dominated
from crmflow.plan import plan_run
from crmflow.run import run
from crmflow.storage import check_direction, check_storage
from crmflow.tuning import tune

SMALL = ["data.n_customers=600", "rules=none", "predictor=none", "segmentation.settings.stability_resamples=2"]
GRID = [  # every n_clusters from 2 to 7 once, so the planted optimum is certainly drawn
    "tuning.n_trials=6",
    "tuning.start_from_config=false",
    "segmentation.search_space.n_clusters.high=7",
    "tuning.sampler={_target_: optuna.samplers.BruteForceSampler, seed: 0}",
]
TWO_GOALS = ["tuning.objectives.segmentation.metric=[silhouette,stability]"]


def _front(client: MlflowClient, run_id: str, folder: Path) -> pd.DataFrame:
    path = client.download_artifacts(run_id, "segmentation/tuning/segmentation_pareto_front.csv", str(folder))
    return pd.read_csv(path)


def _children(client: MlflowClient, experiment_id: str, run_id: str) -> dict[int, object]:
    kids = client.search_runs([experiment_id], f"tags.mlflow.parentRunId = '{run_id}'")
    return {int(kid.data.tags["crmflow.trial"]): kid for kid in kids}


@pytest.mark.slow
def test_a_two_goal_study_logs_a_front_of_non_dominated_trials_and_refits_the_selected(
    tracking_overrides: list[str], tmp_path: Path
) -> None:
    result = run(compose_config([*SMALL, *GRID, *TWO_GOALS, "tuning.select=knee", *tracking_overrides]))
    client = MlflowClient(result.tracking_uri)
    front = _front(client, result.run_id, tmp_path)
    assert len(front) == 6 and front["feasible"].all()
    values = front[["silhouette", "stability"]].to_numpy()
    assert (front["on_front"].to_numpy() == non_dominated(values, ["maximize", "maximize"])).all()
    for _, member in front[front["on_front"]].iterrows():  # no trial is at least as good on both and better on one
        others = front.drop(member.name)
        dominated_by = (others["silhouette"] >= member["silhouette"]) & (others["stability"] >= member["stability"])
        strictly = (others["silhouette"] > member["silhouette"]) | (others["stability"] > member["stability"])
        assert not (dominated_by & strictly).any()
    kids = _children(client, result.experiment_id, result.run_id)
    tagged = {n for n, kid in kids.items() if kid.data.tags.get("crmflow.pareto_front") == "true"}
    assert tagged == set(front.loc[front["on_front"], "number"])
    (selected,) = [n for n, kid in kids.items() if kid.data.tags.get("crmflow.selected") == "true"]
    assert front.loc[front["selected"], "number"].tolist() == [selected]
    parent = client.get_run(result.run_id).data
    assert parent.tags["segmentation.best_run_id"] == kids[selected].info.run_id
    assert parent.params["segmentation.best.n_clusters"] == str(kids[selected].data.params["n_clusters"])
    assert parent.metrics["segmentation.best_value"] == pytest.approx(kids[selected].data.metrics["silhouette"])
    artifacts = {a.path for a in client.list_artifacts(result.run_id, "segmentation/tuning")}
    assert "segmentation/tuning/segmentation_pareto_front.png" in artifacts


@pytest.mark.slow
def test_a_constraint_keeps_the_planted_infeasible_optimum_from_winning(tracking_overrides: list[str]) -> None:
    free = run(compose_config([*SMALL, *GRID, *tracking_overrides]))
    optimum = free.stages[0].best_params["n_clusters"]
    assert optimum < 7  # the planted optimum: few segments score best on silhouette here
    bound = f"tuning.constraints.segmentation=['n_segments >= {optimum + 1}']"
    bounded = run(compose_config([*SMALL, *GRID, bound, *tracking_overrides]))
    assert bounded.stages[0].best_params["n_clusters"] > optimum
    both = run(compose_config([*SMALL, *GRID, *TWO_GOALS, bound, *tracking_overrides]))
    client = MlflowClient(both.tracking_uri)
    front = _front(client, both.run_id, Path(both.tracking_uri.removeprefix("sqlite:///")).parent)
    infeasible = front.loc[front["params_n_clusters"] <= optimum]
    assert not infeasible["feasible"].any() and not infeasible["on_front"].any()
    assert both.stages[0].best_params["n_clusters"] > optimum


@pytest.mark.slow
def test_no_trial_meeting_the_constraints_is_one_line_naming_them(tracking_overrides: list[str]) -> None:
    config = compose_config(
        [*SMALL, *GRID, "tuning.constraints.segmentation=['n_segments >= 50']", *tracking_overrides]
    )
    with pytest.raises(ConfigError, match=r"^tuning.constraints.segmentation: no complete trial of segmentation="):
        run(config)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            ["tuning.objectives.segmentation.metric=[silhouette,stabilty]"],
            "tuning.objectives.segmentation[1].metric: unknown metric 'stabilty' for segmentation; did you mean",
        ),
        (
            [*TWO_GOALS, "tuning.objectives.segmentation.direction=[maximize,upward]"],
            "tuning.objectives.segmentation[1].direction: must be a str among {'maximize', 'minimize'}",
        ),
        (
            [*TWO_GOALS, "tuning.objectives.segmentation.direction=[maximize]"],
            "tuning.objectives.segmentation.direction: expected one direction for all 2 metrics or a list of 2",
        ),
        (
            ["tuning.constraints.segmentation=['smallest_share >= 0.02']"],
            "tuning.constraints.segmentation[0]: unknown metric 'smallest_share' in 'smallest_share >= 0.02'",
        ),
        (
            ["tuning.constraints.segmentation=['noise_share < 0.3']"],
            "tuning.constraints.segmentation[0]: operator '<' is not accepted",
        ),
        (
            [*TWO_GOALS, "tuning.select=stabilty"],
            "tuning.select: 'stabilty' is neither first, knee nor an objective of segmentation",
        ),
        (
            ["predictor=logistic_regression", "tuning.objectives.predictor.metric=[roc_auc,log_loss]"],
            "tuning.objectives.predictor.direction: missing for the 2 metrics ['roc_auc', 'log_loss']",
        ),
        (
            ["tuning.select={segmentation: knee}"],
            "tuning.select.segmentation: segmentation has one objective, so its best trial is the winner",
        ),
        (
            ["tuning=off", "+tuning.constraints.segmentation=['noise_share <= 0.3']"],
            "tuning.constraints.segmentation: segmentation is not tuned in this run",
        ),
    ],
)
def test_bad_goals_are_one_line_naming_the_key(overrides: list[str], expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        plan_run(compose_config([*SMALL, *overrides]))
    assert str(error.value).startswith(expected), str(error.value)


def test_two_goals_for_rules_plan_as_one_up_one_down() -> None:
    overrides = [
        "rules=fpgrowth",
        "tuning.objectives.rules.metric=[hit_rate_at_5,n_rules]",
        "tuning.objectives.rules.direction=[maximize,minimize]",
        "tuning.select={rules: n_rules}",
    ]
    tuning = plan_run(compose_config([*SMALL[:1], "predictor=none", *overrides])).tuning
    assert tuning.goals_of("rules") == (Objective("hit_rate_at_5", "maximize"), Objective("n_rules", "minimize"))
    assert (tuning.select_of("rules"), tuning.select_of("segmentation")) == ("n_rules", "first")


def test_a_stored_study_with_other_directions_needs_another_name() -> None:
    goals = (Objective("hit_rate_at_5", "maximize"), Objective("n_rules", "minimize"))
    check_direction("crm.rules", ["maximize", "minimize"], goals, "rules")
    with pytest.raises(
        ConfigError, match=r"is to maximize, but tuning.objectives.rules asks to maximize hit_rate_at_5"
    ):
        check_direction("crm.rules", ["maximize"], goals, "rules")


@pytest.mark.parametrize(
    "overrides",
    [
        ["tuning.objectives.segmentation.metric=[silhouette,stability]", "tuning.select=knee"],
        [
            "tuning.objectives.rules.metric=[hit_rate_at_5,n_rules]",
            "tuning.objectives.rules.direction=[maximize,minimize]",
            "tuning.select={rules: n_rules}",
            "rules=fpgrowth",
        ],
        [
            "segmentation=dbscan",
            "tuning.constraints.segmentation=['noise_share <= 0.3','smallest_segment_share >= 0.02']",
        ],
        ["tuning.pruner={predictor: wilcoxon}", "predictor=logistic_regression"],
        [
            "~tuning.objectives.segmentation",
            "+tuning.objectives.segmentation=[{metric: silhouette},{metric: stability}]",
        ],
    ],
)
def test_the_readme_commands_plan(overrides: list[str]) -> None:
    tuning = plan_run(compose_config([*SMALL[:1], *overrides])).tuning
    assert tuning.goals or tuning.bounds or tuning.pruners


def test_a_stored_study_keeps_its_constraints_and_objective_metrics(tmp_path: Path) -> None:
    node = {"_target_": "sklearn.cluster.KMeans", "search_space": {"n_clusters": {"type": "int", "low": 2, "high": 5}}}
    spec = parse_component(node, "segmentation")

    def settings(*constraints: str) -> TuningSettings:
        tuning = {"n_trials": 2, "storage": f"journal:{tmp_path}/optuna.journal", "study_name": "crm"}
        tuning["objectives"] = {"segmentation": {"metric": "score", "direction": "maximize"}}
        tuning["constraints"] = {"segmentation": list(constraints)}
        return TuningSettings.parse(tuning, ["segmentation"])

    def evaluate(params: dict) -> dict[str, float]:
        return {"score": -abs(params["n_clusters"] - 3), "size": float(params["n_clusters"])}

    tune("segmentation", spec, evaluate, settings(), RecordingTrials())
    expected = r"has constraints \[\], but tuning.constraints.segmentation asks for \[size >= 4\]"
    with pytest.raises(ConfigError, match=expected):  # its unconstrained trials would count as feasible
        tune("segmentation", spec, evaluate, settings("size >= 4"), RecordingTrials())
    with pytest.raises(ConfigError, match=expected):  # ... and the check before any data says so too
        check_storage(settings("size >= 4"))


class RecordingTrials:
    """A tracker stand-in: no store, each trial run a no-op."""

    def child_run(self, name, params, tags):
        return nullcontext()

    def log_metrics(self, metrics, prefix: str = "", step: int = 0) -> None:
        pass

    def worker(self):
        return self
