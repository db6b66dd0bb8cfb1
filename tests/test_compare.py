"""`crmflow compare`: a 4-job sweep ranked from the store, in three formats; bad input is one line and exit 2."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from helpers import main_error_line, sweep_parents

from crmflow.cli import main
from crmflow.compare import CompareRequest, direction, main_metric
from crmflow.hydra_callbacks import sweep_id

SWEEP = (
    "--multirun",
    "segmentation=kmeans,gmm",
    "predictor=logistic_regression,random_forest",
    "tuning.n_trials=2",
    "data.n_customers=300",
    "data.days=400",
    "rules=none",
)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list]:
    """One 4-job multirun into a fresh store (sweep id `multirun`, from helpers' hydra.sweep.dir); its parent runs."""
    return sweep_parents(tmp_path_factory.mktemp("compare"), SWEEP, 4)


def compare(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    main(["compare", *args])
    return capsys.readouterr().out


def expected_order(parents: list, metric: str, lower_is_better: bool) -> list[str]:
    ranked = sorted(parents, key=lambda r: r.data.metrics[metric], reverse=not lower_is_better)
    return [r.info.run_id for r in ranked]


@pytest.mark.slow
def test_the_table_ranks_the_latest_sweep_by_the_last_stage_metric(sweep: tuple[str, list]) -> None:
    uri, parents = sweep
    result = subprocess.run(
        [sys.executable, "-m", "crmflow", "compare", f"tracking_uri={uri}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    title, header, *rows = result.stdout.strip().splitlines()
    assert title == "sweep 'multirun': 4 runs by predictor.roc_auc (higher is better; * = best)"
    assert header.split()[:5] == ["best", "segmentation", "predictor", "predictor.roc_auc", "segmentation.silhouette"]
    assert header.split()[5:] == ["complete", "failed", "pruned", "wall_seconds", "status", "run_id"]
    assert len(rows) == 4
    assert [row.split()[-1] for row in rows] == expected_order(parents, "predictor.roc_auc", lower_is_better=False)
    assert rows[0].startswith("*") and not any(row.startswith("*") for row in rows[1:])
    assert all(row.split()[-6:-3] == ["4", "0", "0"] for row in rows)  # 2 trials for each of 2 tuned stages


@pytest.mark.slow
def test_csv_parses_and_a_lower_is_better_metric_sorts_ascending(
    sweep: tuple[str, list], capsys: pytest.CaptureFixture[str]
) -> None:
    uri, parents = sweep
    out = compare(capsys, f"tracking_uri={uri}", "sweep=multirun", "metric=predictor.log_loss", "format=csv")
    frame = pd.read_csv(io.StringIO(out))
    assert len(frame) == 4
    assert list(frame["run_id"]) == expected_order(parents, "predictor.log_loss", lower_is_better=True)
    assert list(frame["best"].fillna("")) == ["*", "", "", ""]
    assert frame["predictor.log_loss"].is_monotonic_increasing
    assert set(frame["status"]) == {"FINISHED"} and (frame["wall_seconds"] > 0).all()
    assert {"segmentation", "predictor", "predictor.roc_auc", "segmentation.silhouette"} <= set(frame.columns)


@pytest.mark.slow
def test_markdown_has_a_header_and_top_limits_the_rows(
    sweep: tuple[str, list], capsys: pytest.CaptureFixture[str]
) -> None:
    uri, parents = sweep
    lines = compare(capsys, f"tracking_uri={uri}", "experiment=synthetic", "format=markdown", "top=2").splitlines()
    assert lines[0].startswith("| best | segmentation | predictor | predictor.roc_auc |")
    assert set(lines[1].replace(" ", "")) == {"|", "-"}
    assert len(lines) == 4 and lines[2].startswith("| * |")
    assert lines[2].split("|")[-2].strip() == expected_order(parents, "predictor.roc_auc", lower_is_better=False)[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["sweep=multi"], "compare.sweep: unknown sweep 'multi' in sqlite:///"),
        (["sweep=multi"], "did you mean 'multirun'? (sweeps, newest first: multirun)"),
        (["metric=predictor.roc"], "compare.metric: unknown metric 'predictor.roc'; did you mean 'predictor.roc_auc'"),
        (["metric=predictor.roc"], "(metrics: predictor.accuracy, "),
        (
            ["experiment=synth"],
            "compare.experiment: unknown experiment 'synth'; did you mean 'synthetic'? (experiments: ",
        ),
    ],
)
def test_unknown_sweep_metric_or_experiment_lists_what_exists(
    args: list[str], expected: str, sweep: tuple[str, list], capsys: pytest.CaptureFixture[str]
) -> None:
    uri, _ = sweep
    with pytest.raises(SystemExit) as stopped:
        main(["compare", f"tracking_uri={uri}", *args])
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("crmflow: error: compare.") and expected in lines[0], lines


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "compare.tracking_uri: no tracking store at 'mlruns/mlflow.db' (no SQLite store here; run a sweep first)"),
        (["sweep"], "compare: expected key=value arguments; got 'sweep'"),
        (["metirc=x"], "compare: unknown argument 'metirc'; did you mean 'metric'?"),
        (["top=0"], "compare.top: must be an int in the range [1, inf); got '0'"),
        (["format=pdf"], "compare.format: unknown format 'pdf' (valid: table, csv, markdown, html)"),
    ],
)
def test_no_store_or_bad_arguments_are_one_line_and_exit_2(
    args: list[str],
    expected: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    line = main_error_line(capsys, "compare", *args)
    assert line.startswith(f"crmflow: error: {expected}"), line
    assert not (tmp_path / "mlruns").exists(), "compare never creates a store"


def test_a_missing_store_names_the_sqlite_files_nearby(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "mlflow.db").touch()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        main(["compare"])
    expected = "no tracking store at 'mlruns/mlflow.db' (SQLite files: sqlite:///old/mlflow.db)"
    assert capsys.readouterr().err.strip() == f"crmflow: error: compare.tracking_uri: {expected}"


def fake_run(params: dict[str, str], metrics: dict[str, float]) -> SimpleNamespace:
    return SimpleNamespace(data=SimpleNamespace(params=params, metrics=metrics, tags={}))


def test_the_logged_objective_direction_wins_over_the_name() -> None:
    logged = fake_run({"tuning.objectives.rules.metric": "mae", "tuning.objectives.rules.direction": "maximize"}, {})
    assert direction([logged], "rules.mae") == "maximize"
    assert direction([fake_run({}, {})], "forecaster.mase") == "minimize"
    assert direction([fake_run({}, {})], "predictor.holdout_log_loss") == "minimize"
    assert direction([fake_run({}, {})], "segmentation.davies_bouldin") == "minimize"
    assert direction([fake_run({}, {})], "predictor.r2") == "maximize"


def test_the_main_metric_is_the_objective_else_the_stage_default() -> None:
    tuned = fake_run({"tuning.objectives.segmentation.metric": "stability"}, {"segmentation.stability": 0.9})
    assert main_metric(tuned, "segmentation") == "segmentation.stability"
    auto = fake_run({"tuning.objectives.predictor.metric": "auto"}, {"predictor.r2": 0.5, "predictor.rmse": 1.0})
    assert main_metric(auto, "predictor") == "predictor.r2"
    assert main_metric(fake_run({}, {"plugin.x": 1.0}), "plugin") is None


def test_the_request_defaults_to_the_local_store_and_the_latest_sweep() -> None:
    assert CompareRequest.parse([]) == CompareRequest(None, None, None, 10, "table", "sqlite:///mlruns/mlflow.db")


@pytest.mark.parametrize(
    ("folder", "expected"),
    [("multirun/2026-12-01/23-49-38", "2026-12-01/23-49-38"), ("/tmp/x/multirun/", "multirun"), ("sweeps/a", "a")],
)
def test_a_sweep_id_keeps_the_date_of_hydras_default_folder(folder: str, expected: str) -> None:
    assert sweep_id(folder) == expected  # a time of day alone repeats from one day to the next


@pytest.mark.slow
def test_a_reader_that_stops_early_gets_no_traceback(sweep: tuple[str, list], tmp_path: Path) -> None:
    uri, _ = sweep
    command = f"{sys.executable} -m crmflow compare tracking_uri={uri} | true"  # gone before the table is printed
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120, check=False)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
