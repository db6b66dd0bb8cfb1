"""Extension without forking: nested `_target_` nodes, nested search spaces and a user's own config folder."""

from __future__ import annotations

import re
from pathlib import Path

import optuna
import pytest
import sklearn.tree
from helpers import compose_config, run_cli
from mlflow.tracking import MlflowClient
from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import SVC

from crmflow.config.components import build_node, parse_component
from crmflow.errors import ConfigError
from crmflow.plan import plan_run

BAGGED_TREE = """\
defaults:
  - _settings
  - _self_
_target_: sklearn.ensemble.BaggingClassifier
estimator:
  _target_: sklearn.tree.DecisionTreeClassifier
  max_depth: 3
  random_state: ${seed}
n_estimators: 10
random_state: ${seed}
search_space:
  estimator__max_depth: {type: int, low: 2, high: 6}
"""
SMALL = ["segmentation=none", "rules=none", "data.n_customers=300"]
README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture
def user_conf(tmp_path: Path) -> Path:
    """A user's config folder: a nested-estimator predictor, a clusterer and a recipe."""
    folder = tmp_path / "my_conf"
    (folder / "predictor").mkdir(parents=True)
    (folder / "predictor" / "bagged_tree.yaml").write_text(BAGGED_TREE)
    (folder / "segmentation").mkdir()
    (folder / "segmentation" / "my_kmeans.yaml").write_text(
        "defaults:\n  - _settings\n  - _self_\n_target_: sklearn.cluster.KMeans\nn_clusters: 3\n"
        "settings:\n  size_parameter: n_clusters\n"
    )
    (folder / "experiment").mkdir()
    (folder / "experiment" / "my_recipe.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /predictor: bagged_tree\ntuning:\n  n_trials: 3\n"
    )
    return folder


def _draws(spec: object, n: int) -> list[dict]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    return [spec.search_space.suggest(study.ask()) for _ in range(n)]


def test_nested_estimator_from_a_user_config_dir_follows_the_draws(user_conf: Path) -> None:
    plan = plan_run(compose_config([*SMALL, "predictor=bagged_tree"], config_dirs=[user_conf]))
    ((stage, spec),) = plan.stages
    assert stage.name == "predictor" and spec.short_name == "BaggingClassifier"
    assert spec.search_space.configured_point(spec.params) == {"estimator__max_depth": 3}  # trial 0: the YAML
    assert spec.build().estimator.max_depth == 3 and spec.build().n_estimators == 10
    for drawn in _draws(spec, 5):
        built = spec.build(drawn)
        assert built.estimator.max_depth == drawn["estimator__max_depth"] and 2 <= drawn["estimator__max_depth"] <= 6
        assert built.estimator.random_state == plan.seed
    assert spec.build().estimator is not spec.build().estimator, "every build gets fresh nested components"


def test_user_recipe_and_options_compose(user_conf: Path) -> None:
    cfg = compose_config([*SMALL, "segmentation=my_kmeans", "+experiment=my_recipe"], config_dirs=[user_conf])
    assert cfg.predictor._target_ == "sklearn.ensemble.BaggingClassifier" and cfg.tuning.n_trials == 3
    assert cfg.segmentation.n_clusters == 3 and cfg.segmentation.settings.size_parameter == "n_clusters"


def test_nested_target_outside_the_allow_list_is_refused_before_anything_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[dict] = []

    class Recorder:  # stands in for DecisionTreeClassifier and records being built
        __module__ = "sklearn.tree._classes"

        def __init__(self, **params: object) -> None:
            built.append(params)

    monkeypatch.setattr(sklearn.tree, "DecisionTreeClassifier", Recorder)
    node = {
        "_target_": "sklearn.ensemble.VotingClassifier",
        "estimators": [["tree", {"_target_": "sklearn.tree.DecisionTreeClassifier"}], ["x", {"_target_": "os.system"}]],
    }
    with pytest.raises(ConfigError, match=r"predictor\.estimators\[1\]\[1\]\._target_: 'os.system' is not allowed"):
        parse_component(node, "predictor")
    with pytest.raises(ConfigError, match=r"predictor\.estimator\._target_: 'os.system' is not allowed"):
        parse_component(
            {"_target_": "sklearn.ensemble.BaggingClassifier", "estimator": {"_target_": "os.system"}}, "predictor"
        )
    with pytest.raises(ConfigError, match=r"step\.estimator\._target_: 'os.system' is not allowed"):
        build_node({"_target_": "sklearn.ensemble.BaggingClassifier", "estimator": {"_target_": "os.system"}}, "step")
    assert built == []


def test_nested_parameter_names_are_checked_against_the_nested_signature() -> None:
    node = {
        "_target_": "sklearn.ensemble.BaggingClassifier",
        "estimator": {"_target_": "sklearn.tree.DecisionTreeClassifier", "max_dept": 3},
    }
    with pytest.raises(
        ConfigError, match="predictor.estimator: unknown parameter 'max_dept' for DecisionTreeClassifier"
    ):
        parse_component(node, "predictor")


def test_unknown_nested_search_space_parameter_suggests_the_closest() -> None:
    node = {
        "_target_": "sklearn.ensemble.BaggingClassifier",
        "estimator": {"_target_": "sklearn.tree.DecisionTreeClassifier"},
        "search_space": {"estimator__max_dept": {"type": "int", "low": 2, "high": 6}},
    }
    with pytest.raises(
        ConfigError,
        match=r"predictor.search_space: unknown parameter 'estimator__max_dept' for BaggingClassifier.estimator "
        r"\(DecisionTreeClassifier\); did you mean 'estimator__max_depth'",
    ):
        parse_component(node, "predictor")
    del node["estimator"]  # BaggingClassifier's default estimator is None: nothing to tune inside
    with pytest.raises(ConfigError, match="its 'estimator' is None.*set predictor.estimator to a _target_ node"):
        parse_component(node, "predictor")


def test_nested_lists_of_nodes_are_built_and_tuned_by_step_name() -> None:
    node = {
        "_target_": "sklearn.pipeline.Pipeline",
        "steps": [
            ["scale", {"_target_": "sklearn.preprocessing.StandardScaler"}],
            ["model", {"_target_": "sklearn.linear_model.LogisticRegression", "C": 2.0}],
        ],
        "search_space": {"model__C": {"type": "float", "low": 0.1, "high": 10.0}},
    }
    spec = parse_component(node, "predictor")
    assert spec.search_space.configured_point(spec.params) == {"model__C": 2.0}
    assert spec.build({"model__C": 0.5}).named_steps["model"].C == 0.5
    assert spec.build().named_steps["model"].C == 2.0


def test_svm_option_is_calibrated_svc_whose_c_follows_the_draws() -> None:
    ((_, spec),) = plan_run(compose_config(["predictor=svm", "segmentation=none", "rules=none"])).stages
    assert spec.search_space.names == ["estimator__C", "estimator__kernel", "estimator__class_weight"]
    built = spec.build()
    assert isinstance(built, CalibratedClassifierCV) and isinstance(built.estimator, SVC)
    assert (built.method, built.cv, built.ensemble) == ("sigmoid", 3, False)
    assert spec.search_space.configured_point(spec.params) == {
        "estimator__C": 1.0,
        "estimator__kernel": "rbf",
        "estimator__class_weight": None,
    }
    for drawn in _draws(spec, 4):
        svc = spec.build(drawn).estimator
        assert (svc.C, svc.kernel, svc.class_weight) == (
            drawn["estimator__C"],
            drawn["estimator__kernel"],
            drawn["estimator__class_weight"],
        )


def test_readme_user_config_dir_plans(tmp_path: Path) -> None:
    """The README's `my_conf/` files compose, as options and as a recipe, and pass plan-time checks."""
    for block in re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.DOTALL):
        found = re.search(r"^# (my_conf/\S+\.yaml)", block, flags=re.MULTILINE)
        if found:
            (tmp_path / found.group(1)).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / found.group(1)).write_text(block)
    folder = tmp_path / "my_conf"
    assert {p.relative_to(folder).as_posix() for p in folder.rglob("*.yaml")} == {
        "segmentation/spectral.yaml",
        "predictor/bagged_tree.yaml",
        "experiment/my_recipe.yaml",
    }
    plan = plan_run(compose_config(["+experiment=my_recipe"], config_dirs=[folder]))
    specs = {stage.name: spec for stage, spec in plan.stages}
    assert specs["segmentation"].short_name == "SpectralClustering" and "rules" not in specs
    assert specs["predictor"].build({"estimator__max_depth": 7}).estimator.max_depth == 7
    assert plan.tuning.n_trials == 10


def test_help_lists_options_and_recipes_of_a_user_config_dir(user_conf: Path, tmp_path: Path) -> None:
    (user_conf / "predictor" / "my_forest.yaml").write_text(
        "defaults:\n  - _settings\n  - _self_\n_target_: sklearn.ensemble.RandomForestClassifier\n"
    )
    (user_conf / "campaigns").mkdir()
    (user_conf / "campaigns" / "spring.yaml").write_text("discount: 0.1\n")
    for flags in (
        ["--config-dir", str(user_conf)],
        [f"--config-dir={user_conf}"],
        [f"hydra.searchpath=[file://{user_conf}]"],
    ):
        result = run_cli(*flags, "--help", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        lines = {line.split(":")[0].strip(): line for line in result.stdout.splitlines() if ":" in line}
        assert "my_kmeans" in lines["segmentation"] and "kmeans (default)" in lines["segmentation"]
        assert "my_forest" in lines["predictor"] and "bagged_tree" in lines["predictor"]
        assert "spring" in lines["campaigns"]
        assert "my_recipe" in result.stdout and "online_retail" in result.stdout


@pytest.mark.slow
def test_cli_tunes_a_nested_estimator_from_a_user_config_dir(user_conf: Path, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    result = run_cli(
        "--config-dir",
        str(user_conf),
        "predictor=bagged_tree",
        "segmentation=none",
        "rules=none",
        "tuning.n_trials=2",
        "data.n_customers=300",
        f"tracking.uri={uri}",
        "tracking.experiment=extension",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("extension")
    (parent,) = client.search_runs([experiment.experiment_id], "tags.mlflow.parentRunId IS NULL")
    assert parent.info.status == "FINISHED"
    assert 2 <= int(parent.data.params["predictor.best.estimator__max_depth"]) <= 6
    assert parent.data.params["predictor._target_"] == "sklearn.ensemble.BaggingClassifier"


@pytest.mark.parametrize(
    "target",
    ["sklearn.utils._testing.check_output", "statsmodels.iolib.smpickle.load_pickle", "sklearn.cluster.k_means"],
)
def test_a_function_or_a_re_exported_name_is_not_a_target(target: str) -> None:
    """Only classes defined in an allowed package: a re-exported `subprocess.check_output` is refused unbuilt."""
    with pytest.raises(ConfigError, match=f"data._target_: '{target}' is not allowed; a target must be a class"):
        build_node({"_target_": target, "args": ["id"]}, "data")
