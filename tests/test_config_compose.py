"""Every option of every config group, and every experiment recipe, composes and instantiates."""

from __future__ import annotations

import pytest
from helpers import compose_config

from crmflow.config.experiments import experiment_files
from crmflow.errors import ConfigError
from crmflow.paths import config_dir
from crmflow.plan import plan_run

GROUP_OPTIONS = sorted(
    (group.name, path.stem)
    for group in config_dir().iterdir()
    if group.is_dir()
    for path in group.glob("*.yaml")
    if not path.stem.startswith("_")
)


def test_every_group_has_options() -> None:
    groups = {group for group, _ in GROUP_OPTIONS}
    assert {
        "data",
        "features",
        "preprocessing",
        "segmentation",
        "rules",
        "predictor",
        "forecaster",
        "tuning",
        "tracking",
    } <= groups


# Options that need a value the user must give (the plan refuses them without it, before any data is read).
REQUIRED = {"data=baskets": ["data.path=baskets.txt"]}


@pytest.mark.parametrize(("group", "option"), GROUP_OPTIONS, ids=[f"{g}={o}" for g, o in GROUP_OPTIONS])
def test_option_composes_and_instantiates(group: str, option: str) -> None:
    plan = plan_run(compose_config([f"{group}={option}", *REQUIRED.get(f"{group}={option}", [])]))
    for _, spec in plan.stages:
        estimator = spec.build()
        assert type(estimator).__name__ == spec.short_name
        if spec.search_space:
            assert set(spec.search_space.names) <= set(estimator.get_params())
    stage_names = [stage.name for stage, _ in plan.stages]
    if option == "none" and group in {"segmentation", "rules", "predictor"}:
        assert group not in stage_names


def test_a_required_value_left_out_is_refused_by_the_plan() -> None:
    with pytest.raises(ConfigError, match=r"^data.path: The 'path' parameter of BasketSource must be"):
        plan_run(compose_config(["data=baskets"]))


@pytest.mark.parametrize("path", experiment_files(), ids=lambda p: p.stem)
def test_experiment_composes(path) -> None:
    plan = plan_run(compose_config([f"+experiment={path.stem}"]))
    assert plan.stages or plan.features is not None
