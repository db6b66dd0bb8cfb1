"""`crmflow compare ... register=NAME`: the winner's model as NAME@champion, no duplicate on a rerun, the alias
moves with the winner, `crmflow predict` loads it through the alias; bad input is one line and exit 2."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from helpers import sweep_parents
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import ENDPOINT_NOT_FOUND
from mlflow.tracking import MlflowClient

from crmflow.cli import main
from crmflow.compare import direction
from crmflow.errors import ConfigError
from crmflow.model_loading import load_model
from crmflow.registry import promote

SWEEP = (
    "--multirun",
    "segmentation=none",
    "rules=none",
    "predictor=logistic_regression,decision_tree",
    "forecaster=naive",
    "tuning=off",
    "data.n_customers=300",
    "data.days=400",
)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list]:
    """A 2-job sweep (a predictor and a forecaster each, so two models per run) into a fresh store; its parents."""
    return sweep_parents(tmp_path_factory.mktemp("register"), SWEEP, 2)


def compare(capsys: pytest.CaptureFixture[str], uri: str, *args: str) -> str:
    main(["compare", f"tracking_uri={uri}", *args])
    return capsys.readouterr().out.strip().splitlines()[-1]


def best(parents: list, metric: str) -> str:
    ranked = sorted(parents, key=lambda r: r.data.metrics[metric], reverse=direction(parents, metric) == "maximize")
    return ranked[0].info.run_id


def champion(uri: str, name: str) -> tuple[object, list]:
    client = MlflowClient(uri, registry_uri=uri)
    return client.get_model_version_by_alias(name, "champion"), client.search_model_versions(f"name='{name}'")


@pytest.mark.slow
def test_the_winner_is_registered_as_champion_once(sweep: tuple[str, list], capsys: pytest.CaptureFixture[str]) -> None:
    uri, parents = sweep
    winner = best(parents, "predictor.roc_auc")
    line = compare(capsys, uri, "metric=predictor.roc_auc", "register=churn")
    assert line.startswith(f"registered churn version 1 (the predictor's model of run {winner}, predictor.roc_auc=")
    assert line.endswith("as churn@champion; load with models:/churn@champion")
    version, versions = champion(uri, "churn")
    assert int(version.version) == 1 and version.run_id == winner and len(versions) == 1
    assert version.tags["crmflow.metric"] == "predictor.roc_auc" and version.tags["crmflow.sweep_id"] == "multirun"
    assert float(version.tags["crmflow.value"]) == pytest.approx(
        next(r for r in parents if r.info.run_id == winner).data.metrics["predictor.roc_auc"]
    )
    again = compare(capsys, uri, "metric=predictor.roc_auc", "register=churn")
    assert again.startswith("churn version 1 (") and "is already churn@champion, no new version" in again
    assert len(champion(uri, "churn")[1]) == 1


@pytest.mark.slow
def test_another_winner_moves_the_alias(sweep: tuple[str, list], capsys: pytest.CaptureFixture[str]) -> None:
    uri, parents = sweep
    first = best(parents, "predictor.roc_auc")
    metrics = sorted(m for m in parents[0].data.metrics if m.startswith("predictor."))
    distinct = [m for m in metrics if len({r.data.metrics[m] for r in parents}) == len(parents)]  # no ties
    other = next((m for m in distinct if best(parents, m) != first), None)
    assert other is not None, "some predictor metric must rank the other run first"
    compare(capsys, uri, "metric=predictor.roc_auc", "register=moving")
    line = compare(capsys, uri, f"metric={other}", "register=moving")
    assert line.startswith("registered moving version 2 (")
    version, versions = champion(uri, "moving")
    assert int(version.version) == 2 and version.run_id == best(parents, other) and len(versions) == 2


@pytest.mark.slow
def test_a_forecaster_metric_registers_the_forecasters_model(
    sweep: tuple[str, list], capsys: pytest.CaptureFixture[str]
) -> None:
    uri, parents = sweep
    line = compare(capsys, uri, "metric=forecaster.mase", "register=forecast")
    assert "(the forecaster's model of run " in line
    version, _ = champion(uri, "forecast")
    client = MlflowClient(uri)
    assert client.get_logged_model(version.source.removeprefix("models:/")).name == "forecast_model"
    assert version.tags["crmflow.stage"] == "forecaster"
    mase = {r.info.run_id: r.data.metrics["forecaster.mase"] for r in parents}  # a naive forecast: the runs may tie
    assert mase[version.run_id] == min(mase.values())


@pytest.mark.slow
def test_predict_through_the_alias_matches_the_run_uri(
    sweep: tuple[str, list], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    uri, parents = sweep
    compare(capsys, uri, "metric=predictor.roc_auc", "register=scorer")
    rows = tmp_path / "rows.csv"
    run_uri = f"runs:/{best(parents, 'predictor.roc_auc')}/model"
    load_model(run_uri, uri).input_example.to_csv(rows, index=False)
    outputs = []
    for model in ("models:/scorer@champion", run_uri):
        output = tmp_path / f"scores{len(outputs)}.csv"
        main(["predict", f"model={model}", f"input={rows}", f"output={output}", f"tracking_uri={uri}"])
        outputs.append(pd.read_csv(output))
    assert "prediction" in outputs[0] and len(outputs[0]) > 0
    pd.testing.assert_frame_equal(outputs[0], outputs[1])


@pytest.mark.slow
def test_a_store_without_a_registry_names_the_tracking_uri(
    sweep: tuple[str, list], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    uri, _ = sweep

    def refuse(*args: object, **kwargs: object) -> None:
        raise MlflowException("no registry here", error_code=ENDPOINT_NOT_FOUND)

    monkeypatch.setattr(MlflowClient, "create_registered_model", refuse)
    line = one_error_line(capsys, ["compare", f"tracking_uri={uri}", "register=none_here"])
    assert line.startswith(f"crmflow: error: compare.tracking_uri: the store at {uri} has no model registry")


def test_the_best_run_without_a_model_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A crmflow parent run (made by hand, as a segmentation-only run looks) that logged no model."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    run = client.create_run(client.create_experiment("segments"), tags={"crmflow.version": "0"})
    client.log_param(run.info.run_id, "stages.segmentation", "crmflow.segmentation.stage.SegmentationStage")
    client.log_metric(run.info.run_id, "segmentation.silhouette", 0.4)
    client.set_terminated(run.info.run_id)
    line = one_error_line(capsys, ["compare", f"tracking_uri={uri}", "experiment=segments", "register=seg"])
    assert line == (
        f"crmflow: error: compare.register: the best run {run.info.run_id} (by segmentation.silhouette) logged no "
        "model; the stages that log one are the value stage, the predictor and the forecaster: run one, or rank by "
        "its metric, e.g. metric=predictor.roc_auc"
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("", "compare.register: empty registered model name; give one, e.g. register=churn_model"),
        ("a/b", "compare.register: invalid registered model name 'a/b': use up to 256 letters, digits, '_', '-'"),
        ("a:b", "compare.register: invalid registered model name 'a:b'"),
        ("churn@v2", "compare.register: invalid registered model name 'churn@v2'"),
        ("..", "compare.register: invalid registered model name '..'"),
    ],
)
def test_a_bad_name_is_one_line_before_the_store_is_read(
    name: str, expected: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    line = one_error_line(capsys, ["compare", f"register={name}"])
    assert line.startswith(f"crmflow: error: {expected}"), line
    assert not (tmp_path / "mlruns").exists()


def one_error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.slow
def test_with_csv_the_registration_line_goes_to_stderr(sweep: tuple[str, list], capsys: pytest.CaptureFixture) -> None:
    uri, parents = sweep
    main(["compare", f"tracking_uri={uri}", "metric=predictor.roc_auc", "format=csv", "register=csv_churn"])
    printed = capsys.readouterr()
    table = pd.read_csv(io.StringIO(printed.out))
    assert len(table) == len(parents) and table["run_id"][0] == best(parents, "predictor.roc_auc")
    assert printed.err.strip().startswith("registered csv_churn version 1 (")


def test_only_a_finished_winner_is_promoted() -> None:
    failed = SimpleNamespace(info=SimpleNamespace(run_id="r1", status="FAILED"), data=SimpleNamespace(params={}))
    frame = pd.DataFrame({"best": ["*"], "run_id": ["r1"], "predictor.roc_auc": [0.9]})
    with pytest.raises(ConfigError, match=r"^compare.register: the best run r1 by predictor.roc_auc is FAILED, not"):
        promote("sqlite:///unused.db", "churn", frame, [failed], "predictor.roc_auc", None)
