"""Forecasters are logged as JSON (no pickle) and reload to the same forecast, for every forecaster option;
a crafted forecaster file cannot name a foreign class."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import compose_config

from crmflow.errors import ConfigError
from crmflow.forecasting import ARIMAForecaster, ETSForecaster, Forecaster
from crmflow.forecasting.pyfunc import DATA_FILE, LOADER_MODULE, ForecasterModel, _load_pyfunc
from crmflow.model_loading import load_model
from crmflow.paths import config_dir
from crmflow.plan import plan_run
from crmflow.stages.contract import LoggedModel
from crmflow.tracking import Tracker

OPTIONS = sorted(p.stem for p in (config_dir() / "forecaster").glob("*.yaml") if p.stem not in ("_settings", "none"))


def weekly_series(n: int = 140) -> pd.Series:
    rng = np.random.default_rng(3)
    t = np.arange(n)
    values = 200 + 0.4 * t + 30 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 5, n)
    return pd.Series(values, index=pd.date_range("2024-01-01", periods=n, freq="D"), name="daily revenue")


def option_forecaster(option: str) -> Forecaster:
    """The forecaster a run builds from `forecaster=<option>`."""
    plan = plan_run(
        compose_config([f"forecaster={option}", "segmentation=none", "rules=none", "predictor=none", "tuning=off"])
    )
    ((_, spec),) = plan.stages
    return spec.build({})


def reloaded(forecaster: Forecaster, series: pd.Series, folder: Path) -> ForecasterModel:
    model = ForecasterModel(forecaster.fit(series), 0.9, series)
    return _load_pyfunc(str(model.save(folder)))


@pytest.mark.parametrize("option", OPTIONS)
def test_every_option_reloads_from_json_to_the_same_forecast(option: str, tmp_path: Path) -> None:
    series = weekly_series()
    forecaster = option_forecaster(option)
    model = reloaded(forecaster, series, tmp_path)
    assert type(model.forecaster) is type(forecaster) and model.level == 0.9
    assert model.forecaster.get_params() == forecaster.get_params()
    for horizon in (1, 30):
        expected, got = forecaster.predict(horizon, 0.9).to_frame(), model.forecaster.predict(horizon, 0.9).to_frame()
        pd.testing.assert_frame_equal(got, expected, check_exact=True)


@pytest.mark.parametrize(
    "forecaster",
    [
        ETSForecaster(error="mul", trend="add", damped_trend=True, seasonal="mul", seasonal_period=7),  # simulated
        ARIMAForecaster(p=2, d=0, q=1, trend="c"),
        ETSForecaster(trend=None),
    ],
    ids=str,
)
def test_search_space_variants_reload_to_the_same_forecast(forecaster: Forecaster, tmp_path: Path) -> None:
    series = weekly_series()
    model = reloaded(forecaster, series, tmp_path)
    pd.testing.assert_frame_equal(model.forecaster.predict(14).to_frame(), forecaster.predict(14).to_frame())


def test_the_json_holds_parameters_series_and_state_only(tmp_path: Path) -> None:
    series = weekly_series()
    path = ForecasterModel(ARIMAForecaster().fit(series), 0.95, series).save(tmp_path)
    state = json.loads(path.read_text())
    assert state["forecaster"] == "crmflow.forecasting.arima.ARIMAForecaster" and state["level"] == 0.95
    assert state["series"]["values"] == series.tolist() and state["series"]["freq"] == "D"
    assert state["learned"]["results_"]["kind"] == "statsmodels"
    assert {v["kind"] for v in state["learned"].values()} <= {"statsmodels", "periods", "list", "value", "array"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"forecaster": "sklearn.utils._testing.check_output"}, "is not allowed"),
        ({"forecaster": "sklearn.linear_model.Ridge"}, "is not a crmflow forecaster"),
        ({"format": "pickle"}, "not a crmflow forecaster state"),
        ({"learned": {"results_": {"kind": "pickle", "value": "gASV"}}}, "unknown saved kind 'pickle'"),
        ({"params": {"p": {"_target_": "os.system"}}}, "params must be a mapping of plain values"),
    ],
)
def test_a_crafted_forecaster_file_is_refused(change: dict, message: str, tmp_path: Path) -> None:
    series = weekly_series()
    path = ForecasterModel(ARIMAForecaster().fit(series), 0.95, series).save(tmp_path)
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    with pytest.raises(ConfigError, match=message):
        _load_pyfunc(str(path))


def test_a_logged_forecaster_loads_with_pickle_off_in_crmflow_and_in_mlflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    series = weekly_series()
    fitted = ETSForecaster(seasonal="add", seasonal_period=7).fit(series)
    tracker = Tracker(f"sqlite:///{tmp_path}/mlflow.db", "t")
    example = pd.DataFrame({"horizon": [7]})
    with tracker.parent_run("parent", {}):
        logged = LoggedModel(ForecasterModel(fitted, 0.9, series), example, "forecast_model", "pyfunc", ["pandas"])
        uri = tracker.log_model(logged)
    folder = Path(uri)
    meta = yaml.safe_load((folder / "MLmodel").read_text())
    assert meta["flavors"]["python_function"]["loader_module"] == LOADER_MODULE
    assert meta["metadata"]["crmflow"] == {"format": "json"}
    assert (folder / "data" / DATA_FILE).is_file() and not list(folder.rglob("*.pkl"))
    expected = fitted.predict(7, 0.9).to_frame().rename_axis("timestamp").reset_index()
    for model in (load_model(uri, tracker.uri), mlflow.pyfunc.load_model(uri)):
        pd.testing.assert_frame_equal(model.predict(example), expected)
    marker = tmp_path / "imported"  # crmflow loads with its installed loader module, never the folder's copy
    tampered = folder / "code" / "crmflow" / "forecasting" / "pyfunc.py"
    tampered.write_text(f"from pathlib import Path\nPath({str(marker)!r}).touch()\n{tampered.read_text()}")
    pd.testing.assert_frame_equal(load_model(uri, tracker.uri).predict(example), expected)
    assert not marker.exists()


def test_the_forecast_comes_from_the_saved_parameters_not_the_refit(tmp_path: Path) -> None:
    series = weekly_series()
    fitted = ARIMAForecaster().fit(series)
    path = ForecasterModel(fitted, 0.95, series).save(tmp_path)
    state = json.loads(path.read_text())
    state["learned"]["results_"]["params"][0] *= 0.5  # the AR coefficient
    path.write_text(json.dumps(state))
    reloaded = _load_pyfunc(str(path)).forecaster
    np.testing.assert_allclose(reloaded.results_.params, state["learned"]["results_"]["params"])
    assert not np.allclose(reloaded.predict(5).mean, fitted.predict(5).mean)
