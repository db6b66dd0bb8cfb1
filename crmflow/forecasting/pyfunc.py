"""A fitted forecaster as an MLflow pyfunc model (imported only when a model is logged)."""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import pandas as pd

from crmflow.forecasting.base import Forecaster


class ForecasterModel(mlflow.pyfunc.PythonModel):
    """`predict` takes rows with a `horizon` column and returns the next max(horizon) periods.

    Output columns: timestamp, forecast, lower, upper (the `level` prediction interval).
    """

    def __init__(self, forecaster: Forecaster, level: float) -> None:
        self.forecaster = forecaster
        self.level = level

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        horizon = int(pd.DataFrame(model_input)["horizon"].max())
        frame = self.forecaster.predict(horizon, self.level).to_frame()
        return frame.rename_axis("timestamp").reset_index()
