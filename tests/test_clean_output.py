"""A normal run prints crmflow's lines only: no library hints (unless --verbose), progress, the summary; and
`tracking.trials` end to end."""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import pytest
from helpers import run_cli

from crmflow.quiet import LOG_FILTERS, _Drop, quiet

HINT = "Hint: Inferred schema contains integer column(s). Integer columns in Python cannot represent missing values."
SMALL = ["data.n_customers=400", "data.days=400", "rules=none", "predictor=none", "tuning.n_trials=3"]


def hints_shown(environ: dict[str, str]) -> list[str]:
    """The warnings that reach the user after `quiet(environ)`: MLflow's hint, statsmodels', and crmflow's own."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        quiet(environ)
        warnings.warn_explicit(HINT, UserWarning, "utils.py", 1, module="mlflow.types.utils")
        warnings.warn_explicit("No frequency information was provided", UserWarning, "m.py", 2, module="statsmodels.x")
        warnings.warn_explicit("segmentation: 3 of 4 segments are tiny", UserWarning, "s.py", 3, module="crmflow.x")
        warnings.warn_explicit(HINT, UserWarning, "other.py", 4, module="otherlib")
    forget_log_filters()
    return [str(w.message)[:20] for w in caught]


def forget_log_filters() -> None:
    for name, _ in LOG_FILTERS:
        target = logging.getLogger(name)
        target.filters[:] = [f for f in target.filters if not isinstance(f, _Drop)]


def test_known_hints_are_filtered_unless_verbose_and_crmflows_own_stay() -> None:
    assert hints_shown({}) == ["segmentation: 3 of 4", HINT[:20]]
    assert hints_shown({"CRMFLOW_VERBOSE": "1"}) == [
        HINT[:20],
        "No frequency informa",
        "segmentation: 3 of 4",
        HINT[:20],
    ]


def test_mlflows_notes_are_dropped_from_its_log_unless_verbose(caplog: pytest.LogCaptureFixture) -> None:
    name = LOG_FILTERS[0][0]
    target = logging.getLogger(name)
    forget_log_filters()
    before = list(target.filters)
    try:
        assert quiet({"CRMFLOW_VERBOSE": "1"}) is False and target.filters == before
        assert quiet({}) is True and quiet({}) is True  # idempotent: one filter per pattern
        assert len(target.filters) == len(before) + 1
        with caplog.at_level(logging.INFO, logger=name):
            target.info("Validating input example against model signature")
            target.warning("something else")
        assert [r.getMessage() for r in caplog.records if r.name == name] == ["something else"]
    finally:
        target.filters[:] = before


def trial_runs(folder: Path, experiment: str = "synthetic") -> tuple[object, list]:
    """The parent run of the one run in `folder`'s store, and its nested runs."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{folder}/mlruns/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    return parent, [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]


@pytest.mark.slow
def test_the_default_run_prints_no_library_hints(tmp_path: Path) -> None:
    result = run_cli(cwd=tmp_path)  # crmflow, as it comes: synthetic data, every default stage tuned
    assert result.returncode == 0, result.stderr[-3000:]
    lines = (result.stdout + result.stderr).splitlines()
    assert not [line for line in lines if re.search("warning", line, re.IGNORECASE)]
    assert "MLflow run" in result.stdout and "stage" in result.stdout  # the summary stays
    progress = [line for line in lines if "segmentation: trial " in line]
    assert 1 <= len(progress) <= 11 and re.search(r"segmentation: trial (\d+)/\1 ", progress[-1])  # N/N: the last
    parent, kids = trial_runs(tmp_path)  # tracking.trials: runs by default, a nested run per trial
    assert len(kids) == sum(int(parent.data.metrics[f"{s}.tuning.n_trials_complete"]) for s in ("segmentation",
        "rules", "predictor"))  # fmt: skip


@pytest.mark.slow
def test_steps_log_each_trial_on_the_parent_and_no_nested_run(tmp_path: Path) -> None:
    result = run_cli(*SMALL, "tracking.trials=steps", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    parent, kids = trial_runs(tmp_path)
    assert kids == []
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    history = client.get_metric_history(parent.info.run_id, "segmentation.trial.silhouette")
    assert sorted(m.step for m in history) == [0, 1, 2]
    assert len(client.get_metric_history(parent.info.run_id, "segmentation.trial.param.n_clusters")) == 3
    tables = [a.path for a in client.list_artifacts(parent.info.run_id, "segmentation/tuning")]
    assert "segmentation/tuning/segmentation_optuna_history.csv" in tables


@pytest.mark.slow
def test_none_logs_nothing_per_trial(tmp_path: Path) -> None:
    result = run_cli(*SMALL, "tracking.trials=none", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    parent, kids = trial_runs(tmp_path)
    assert kids == [] and not [key for key in parent.data.metrics if ".trial." in key]
    assert parent.data.metrics["segmentation.tuning.n_trials_complete"] == 3


def test_an_unknown_trials_mode_is_one_line_before_any_data(tmp_path: Path) -> None:
    result = run_cli(*SMALL, "tracking.trials=step", cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("crmflow: error: tracking.trials: ") and "'none', 'runs', 'steps'" in line
    assert "did you mean 'steps'" in line and "rfm features" not in result.stdout
