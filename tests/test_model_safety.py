"""`crmflow predict` runs no code from a model folder: crafted folders (a skops file trusting a function,
a loader module in code/, a cloudpickle payload) are refused on one line and nothing they hold executes;
crmflow's own models load with pickle off, and `allow_pickle=true` is the user's explicit, warned trust."""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
import shutil
from pathlib import Path
from zipfile import ZipFile

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.cluster import Birch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from crmflow.cli import main
from crmflow.errors import ConfigError
from crmflow.model_loading import load_model, trusted_class
from crmflow.stages.contract import LoggedModel
from crmflow.tracking import Tracker

CHECK_OUTPUT = "sklearn.utils._testing.check_output"  # subprocess.check_output, re-exported by scikit-learn
REFUSED = "predict.model: refusing to load"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Tracker:
    return Tracker(f"sqlite:///{tmp_path_factory.mktemp('safety')}/mlflow.db", "safety")


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return pd.DataFrame({"tenure": np.arange(40.0), "visits": np.arange(40.0) % 7})


@pytest.fixture(scope="module")
def logged(store: Tracker, rows: pd.DataFrame) -> Path:
    """A crmflow-logged pipeline (skops) in its local model folder."""
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(rows, np.arange(40) % 2)
    with store.parent_run("parent", {}):
        return Path(store.log_model(LoggedModel(model, rows.head(5), name="model")))


@pytest.fixture
def crafted(logged: Path, tmp_path: Path) -> Path:
    """A copy of the logged folder, for a test to tamper with."""
    return Path(shutil.copytree(logged, tmp_path / "crafted"))


@pytest.fixture
def no_mlflow_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pickle off, and MLflow's own loaders fail the test if crmflow calls them."""
    import mlflow.pyfunc
    import mlflow.sklearn

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("crmflow must load the model itself")

    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    monkeypatch.setattr(mlflow.pyfunc, "load_model", forbidden)
    monkeypatch.setattr(mlflow.sklearn, "_load_model_from_local_file", forbidden)


def edit_mlmodel(folder: Path, change: dict) -> None:
    path = folder / "MLmodel"
    meta = yaml.safe_load(path.read_text())
    for dotted, value in change.items():
        *parents, leaf = dotted.split(".")
        node = meta
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    path.write_text(yaml.safe_dump(meta))


def skops_payload(marker: Path) -> bytes:
    """A skops file whose root calls check_output(["touch", marker]) once CHECK_OUTPUT is trusted."""
    import skops.io

    with ZipFile(io.BytesIO(skops.io.dumps((["touch", str(marker)],)))) as zipped:
        arguments = json.loads(zipped.read("schema.json"))
    module, _, name = CHECK_OUTPUT.rpartition(".")
    root = {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": {k: v for k, v in arguments.items() if k not in ("protocol", "_skops_version")},
        "protocol": arguments["protocol"],
        "_skops_version": arguments["_skops_version"],
    }
    buffer = io.BytesIO()
    with ZipFile(buffer, "w") as zipped:
        zipped.writestr("schema.json", json.dumps(root))
    return buffer.getvalue()


def predict_cli(model: Path, rows: pd.DataFrame, folder: Path, *extra: str) -> list[str]:
    source = folder / "rows.csv"
    rows.to_csv(source, index=False)
    return ["predict", f"model={model}", f"input={source}", f"output={folder / 'scores.csv'}", *extra]


def test_a_crmflow_model_loads_with_pickle_off_and_no_mlflow_loader(
    logged: Path, rows: pd.DataFrame, no_mlflow_loading: None
) -> None:
    model = load_model(str(logged), "sqlite:///unused.db")
    assert list(model.predict(rows.head(3))) == list(model.get_raw_model().predict(rows.head(3)))
    assert model.metadata.get_input_schema().input_names() == ["tenure", "visits"]


def test_runs_and_models_uris_resolve_through_the_tracking_store(
    logged: Path, store: Tracker, rows: pd.DataFrame, no_mlflow_loading: None
) -> None:
    meta = yaml.safe_load((logged / "MLmodel").read_text())
    for uri in (f"runs:/{meta['run_id']}/model", f"models:/{meta['model_id']}"):
        assert len(load_model(uri, store.uri).predict(rows.head(2))) == 2, uri


def test_a_skops_model_trusting_a_function_is_refused_and_runs_nothing(
    crafted: Path, rows: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_mlflow_loading: None
) -> None:
    import skops.io

    marker = tmp_path / "ran"
    (crafted / "model.skops").write_bytes(skops_payload(marker))
    skops.io.load(crafted / "model.skops", trusted=[CHECK_OUTPUT])  # the payload is live: trusting it runs `touch`
    assert marker.exists()
    marker.unlink()
    edit_mlmodel(crafted, {"flavors.sklearn.skops_trusted_types": [CHECK_OUTPUT]})
    with pytest.raises(SystemExit) as stopped:
        main(predict_cli(crafted, rows, tmp_path))
    error = capsys.readouterr().err.strip()
    assert stopped.value.code == 2 and len(error.splitlines()) == 1
    assert error.startswith(f"crmflow: error: {REFUSED} '{crafted}'")
    assert f"asks to trust {CHECK_OUTPUT}, which is not a class crmflow trusts (classes defined in crmflow" in error
    assert "pass allow_pickle=true" in error
    assert not marker.exists() and not (tmp_path / "scores.csv").exists()


def test_only_the_files_own_needs_are_trusted_and_the_mlmodel_list_is_vetted(
    crafted: Path, no_mlflow_loading: None
) -> None:
    edit_mlmodel(crafted, {"flavors.sklearn.skops_trusted_types": ["os.system", "sklearn.pipeline.Pipeline"]})
    with pytest.raises(ConfigError, match="asks to trust os.system, which is not a class"):
        load_model(str(crafted), "sqlite:///unused.db")


@pytest.mark.parametrize(
    ("name", "trusted"),
    [
        ("sklearn.pipeline.Pipeline", True),
        ("crmflow.segmentation.assign.SegmentAssigner", True),
        ("sklearn.tree._tree.Tree", True),
        (CHECK_OUTPUT, False),  # a function
        ("sklearn.utils.Bunch", False),  # a re-export: the class is sklearn.utils._bunch.Bunch
        ("numpy.dtype", True),  # kept by a fitted SimpleImputer
        ("numpy.memmap", False),  # a class outside crmflow and scikit-learn (it writes a file when constructed)
        ("os.system", False),
        ("sklearn.no_such_module.Thing", False),
        (["sklearn.pipeline.Pipeline"], False),
    ],
)
def test_trusted_types_are_exact_crmflow_or_sklearn_classes(name: object, trusted: bool) -> None:
    assert trusted_class(name) is trusted


def test_a_loader_module_in_code_is_never_imported(
    crafted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: pd.DataFrame, no_mlflow_loading: None
) -> None:
    marker = tmp_path / "imported"
    (crafted / "code" / "evil_loader.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).touch()\n\ndef _load_pyfunc(path):\n    return None\n"
    )
    edit_mlmodel(crafted, {"flavors.python_function.loader_module": "evil_loader"})
    with pytest.raises(SystemExit):
        main(predict_cli(crafted, rows, tmp_path))
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"crmflow: error: {REFUSED}") and len(error.splitlines()) == 1
    assert "its code folder holds evil_loader.py besides crmflow's own package" in error
    (crafted / "code" / "evil_loader.py").unlink()  # a loader module that is not crmflow's, with clean code/
    with pytest.raises(ConfigError, match="python_function.loader_module 'evil_loader' is not one crmflow writes"):
        load_model(str(crafted), "sqlite:///unused.db")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"metadata": {}}, "its MLmodel has no crmflow metadata, so crmflow did not log it"),
        ({"flavors.python_function.code": "../elsewhere"}, "python_function.code is '../elsewhere'"),
        ({"flavors.sklearn.pickled_model": "../../model.skops"}, "sklearn.pickled_model '../../model.skops' points"),
        ({"metadata.crmflow.format": "json"}, "its crmflow format 'json' does not match loader_module"),
    ],
)
def test_folders_crmflow_did_not_write_are_refused(
    crafted: Path, change: dict, reason: str, no_mlflow_loading: None
) -> None:
    edit_mlmodel(crafted, change)
    with pytest.raises(ConfigError, match=REFUSED) as refused:
        load_model(str(crafted), "sqlite:///unused.db")
    assert reason in str(refused.value)


def cloudpickled(folder: Path, payload: object) -> Path:
    """The folder turned into a cloudpickle model of `payload` (without code/, as a plain MLflow model has)."""
    import cloudpickle

    shutil.rmtree(folder / "code")
    (folder / "model.skops").unlink()
    (folder / "model.pkl").write_bytes(cloudpickle.dumps(payload))
    edit_mlmodel(
        folder,
        {
            "flavors.sklearn.serialization_format": "cloudpickle",
            "flavors.sklearn.pickled_model": "model.pkl",
            "flavors.sklearn.code": None,
            "flavors.python_function.code": None,
            "flavors.python_function.model_path": "model.pkl",
        },
    )
    return folder


class TouchOnLoad:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


def test_a_cloudpickle_model_is_refused_without_allow_pickle(
    crafted: Path, tmp_path: Path, no_mlflow_loading: None
) -> None:
    marker = tmp_path / "unpickled"
    cloudpickled(crafted, TouchOnLoad(marker))
    assert pickle.loads((crafted / "model.pkl").read_bytes()) is None and marker.exists()  # the payload is live
    marker.unlink()
    with pytest.raises(
        ConfigError, match="stored with cloudpickle, which loads through pickle; pass allow_pickle=true"
    ):
        load_model(str(crafted), "sqlite:///unused.db")
    assert not marker.exists()


def test_allow_pickle_loads_a_trusted_pickle_model_with_one_warning(
    crafted: Path, rows: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    model = LogisticRegression().fit(rows, np.arange(40) % 2)
    cloudpickled(crafted, model)
    with caplog.at_level(logging.WARNING, logger="crmflow.model_loading"):
        loaded = load_model(str(crafted), "sqlite:///unused.db", allow_pickle=True)
    np.testing.assert_array_equal(loaded.predict(rows), model.predict(rows))
    [warning] = [r.getMessage() for r in caplog.records if r.name == "crmflow.model_loading"]
    assert warning.startswith(f"predict.allow_pickle: loading '{crafted}' with MLflow's own loader (its scikit-learn")
    assert "\n" not in warning and "only for a model you trust" in warning
    assert os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] == "false"  # the user's setting is back


def test_allow_pickle_must_be_a_boolean(
    logged: Path, rows: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(predict_cli(logged, rows, tmp_path, "allow_pickle=maybe"))
    assert "crmflow: error: predict.allow_pickle: must be true or false; got 'maybe'" in capsys.readouterr().err


def test_a_model_skops_cannot_store_is_not_logged_with_pickle(store: Tracker, rows: pd.DataFrame) -> None:
    model = make_pipeline(StandardScaler(), Birch(n_clusters=2)).fit(rows)
    with (
        store.parent_run("unstorable", {}),
        pytest.raises(ConfigError, match="cannot log the 'model' model without pickle"),
    ):
        store.log_model(LoggedModel(model, rows.head(5), name="model"))


@pytest.mark.slow
@pytest.mark.services
def test_a_model_on_a_tracking_server_loads_by_models_and_runs_uri(
    mlflow_server_url: str, rows: pd.DataFrame, no_mlflow_loading: None
) -> None:
    tracker = Tracker(mlflow_server_url, "safety")
    tracker.ensure_experiment()
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(rows, np.arange(40) % 2)
    with tracker.parent_run("parent", {}) as parent:
        uri = tracker.log_model(LoggedModel(model, rows.head(5), name="model"))
    for model_uri in (uri, f"runs:/{parent.info.run_id}/model"):
        assert list(load_model(model_uri, mlflow_server_url).predict(rows.head(3))) == list(model.predict(rows.head(3)))
