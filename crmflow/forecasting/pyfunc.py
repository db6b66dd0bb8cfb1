"""A fitted forecaster as an MLflow pyfunc model that needs no pickle: JSON data plus this loader module.

crmflow logs the forecaster's state (`crmflow.forecasting.saved`) as `data/forecaster.json` with
`python_function.loader_module: crmflow.forecasting.pyfunc`. `crmflow predict` loads it through
this module of the installed crmflow; so does `mlflow.pyfunc.load_model(uri)` where crmflow is
installed (MLflow's documented custom-flavor path: `_load_pyfunc(data_path)`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from crmflow.errors import ConfigError
from crmflow.forecasting.base import Forecaster
from crmflow.forecasting.saved import forecaster_state, restore_forecaster

LOADER_MODULE = "crmflow.forecasting.pyfunc"
DATA_FILE = "forecaster.json"


class ForecasterModel:
    """`predict` takes rows with a `horizon` column and returns the next max(horizon) periods.

    Output columns: timestamp, forecast, lower, upper (the `level` prediction interval).
    """

    loader_module = LOADER_MODULE

    def __init__(self, forecaster: Forecaster, level: float, series: pd.Series) -> None:
        self.forecaster = forecaster
        self.level = level
        self.series = series

    def predict(self, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        horizon = int(pd.DataFrame(model_input)["horizon"].max())
        frame = self.forecaster.predict(horizon, self.level).to_frame()
        return frame.rename_axis("timestamp").reset_index()

    def get_raw_model(self) -> Forecaster:
        return self.forecaster

    def save(self, folder: Path) -> Path:
        """Write the JSON state into `folder`; return its path (MLflow copies it into the model's data/)."""
        path = Path(folder) / DATA_FILE
        state = {"level": float(self.level), **forecaster_state(self.forecaster, self.series)}
        path.write_text(json.dumps(state, indent=1))
        return path


def _load_pyfunc(data_path: str) -> ForecasterModel:
    """MLflow's loader-module entry point: the forecaster rebuilt from its JSON, without pickle."""
    key = "predict.model"
    state = json.loads(Path(data_path).read_text())
    forecaster, series = restore_forecaster(state, key)
    level = state.get("level")
    if isinstance(level, bool) or not isinstance(level, (int, float)):
        raise ConfigError(f"{key}: the forecaster's level must be a number; got {level!r}")
    return ForecasterModel(forecaster, float(level), series)
