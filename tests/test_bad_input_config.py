"""The catalogue of bad configuration: each case is one CLI call that must stop before any run with exit 2 and
one `crmflow: error:` line naming the key and what would fix it. A new case is one entry in CASES."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import run_cli

SMALL = ["data.n_customers=300", "rules=none", "tuning.n_trials=1"]


def _broken_user_yaml(folder: Path) -> list[str]:
    (folder / "conf" / "segmentation").mkdir(parents=True)
    (folder / "conf" / "segmentation" / "broken.yaml").write_text("_target_: sklearn.cluster.KMeans\nn_clusters: [3\n")
    return [f"--config-dir={folder / 'conf'}", "segmentation=broken"]


def _folder(folder: Path) -> Path:
    (folder / "store.db").mkdir()
    return folder / "store.db"


def _folder_as_sqlite_file(folder: Path) -> list[str]:
    return [f"tracking.uri=sqlite:///{_folder(folder)}"]


@dataclass(frozen=True)
class Case:
    id: str
    args: list[str] | Callable[[Path], list[str]]
    expected: str


CASES = [
    Case("max_failures not a number", ["tuning.max_failures=abc"], "tuning.max_failures: must be an int"),
    Case("tuning seed not a number", ["tuning.seed=abc"], "tuning.seed: must be an int; got 'abc'"),
    Case("run seed not a number", ["seed=abc"], "seed: must be an int in the range [0, inf); got 'abc'"),
    Case("empty experiment name", ["tracking.experiment="], "tracking.experiment: must be a non-empty str; got ''"),
    Case("timeout not a number", ["tuning.timeout=abc"], "tuning.timeout: must be a number of seconds"),
    Case(
        "one segment",
        ["segmentation.n_clusters=1", "tuning=off"],
        "segmentation.n_clusters: 1 segment(s) requested; a segmentation needs at least 2",
    ),
    Case(
        "stability resamples not a number",
        ["segmentation.settings.stability_resamples=abc"],
        "segmentation.settings.stability_resamples: must be an int",
    ),
    Case(
        "unwritable Optuna storage",
        ["tuning.storage=sqlite:////proc/crmflow/optuna.db", "tuning.study_name=s"],
        "tuning.storage: cannot connect to sqlite:////proc/crmflow/optuna.db",
    ),
    Case("a folder as the SQLite tracking file", _folder_as_sqlite_file, "is a folder; give the SQLite file inside it"),
    Case(
        "a folder as the SQLite Optuna storage",
        lambda folder: [f"tuning.storage=sqlite:///{_folder(folder)}", "tuning.study_name=s"],
        "store.db' is a folder; give a file inside it, e.g. journal:",
    ),
    Case(
        "an unreachable tracking server",
        ["tracking.uri=http://127.0.0.1:9"],
        "tracking.uri: cannot reach the MLflow tracking server at http://127.0.0.1:9",
    ),
    Case(
        "an unwritable tracking store",
        ["tracking.uri=sqlite:////proc/crmflow/mlflow.db"],
        "tracking.uri: cannot create the SQLite store '/proc/crmflow/mlflow.db'",
    ),
    Case(
        "a node where the estimator wants a value",
        ["+segmentation.init={_target_:sklearn.svm.SVC}"],
        "segmentation.init: The 'init' parameter of KMeans must be",
    ),
    Case(
        "an invalid categorical choice",
        ["+segmentation.search_space.algorithm={type:categorical,choices:[lloyd,bogus]}"],
        "segmentation.search_space.algorithm: 'bogus' is not a valid algorithm",
    ),
    Case(
        "a regressor on a class label",
        ["predictor=ridge", "segmentation=none"],
        "predictor: Ridge is a regressor, but the target 'churn' is a 0/1 class label",
    ),
    Case(
        "another algorithm's parameter",
        ["segmentation=gmm", "segmentation.n_clusters=6"],
        "segmentation.n_clusters: GaussianMixture has no parameter 'n_clusters'",
    ),
    Case(
        "a misspelt sampler parameter",
        ["tuning.sampler={_target_:optuna.samplers.TPESampler,seeds:1}"],
        "tuning.sampler.seeds: TPESampler has no parameter 'seeds'; did you mean 'seed'?",
    ),
    Case("a misspelt group key", ["tuning.samplr.seed=1"], "tuning.samplr: unknown key; did you mean 'sampler'?"),
    Case("a YAML syntax error in a user config", _broken_user_yaml, "broken.yaml: YAML syntax error at line"),
    Case(
        "an unknown metric in a list objective",
        ["tuning.objectives.segmentation.metric=[silhouette,stabilty]"],
        "tuning.objectives.segmentation[1].metric: unknown metric 'stabilty' for segmentation; did you mean",
    ),
    Case(
        "an unknown direction in a list objective",
        [
            "tuning.objectives.segmentation.metric=[silhouette,stability]",
            "tuning.objectives.segmentation.direction=[up,down]",
        ],
        "tuning.objectives.segmentation[0].direction: must be a str among {'maximize', 'minimize'}; got 'up'",
    ),
    Case(
        "a list where the config has a mapping",
        ["tuning.objectives.segmentation=[{metric: silhouette},{metric: stability}]"],
        "tuning.objectives.segmentation: an override cannot put a list where the config has a mapping",
    ),
    Case(
        "a constraint on an unknown metric",
        ["tuning.constraints.segmentation=['smallest_share >= 0.02']"],
        "tuning.constraints.segmentation[0]: unknown metric 'smallest_share'",
    ),
    Case(
        "a pruner on a stage with no folds",
        ["tuning.pruner={segmentation: median}"],
        "tuning.pruner.segmentation: segmentation scores each candidate once, with no folds to stop between",
    ),
    Case(
        "a pruner with a multi-objective study",
        [
            "tuning.pruner=median",
            "tuning.objectives.predictor.metric=[roc_auc,f1]",
            "+tuning.objectives.predictor.direction=maximize",
        ],
        "tuning.pruner: predictor is tuned on 2 objectives (roc_auc, f1) and Optuna cannot prune",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_config_is_one_line_before_any_run(case: Case, tmp_path: Path) -> None:
    args = case.args(tmp_path) if callable(case.args) else case.args
    flags = [a for a in args if a.startswith("-")]  # Hydra reads its flags before the overrides
    result = run_cli(*flags, *SMALL, *[a for a in args if not a.startswith("-")], cwd=tmp_path)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("crmflow: error: "), result.stderr[-2000:]
    assert case.expected in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "mlruns").exists(), "no run may start on bad input"
