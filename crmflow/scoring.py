"""`crmflow predict`: score new customers with a logged model, checking their columns against its signature.

```
crmflow predict model=runs:/<run id>/model input=new_customers.csv output=scores.parquet [tracking_uri=...]
```
The output is the input table with a `prediction` column, plus `probability` (of the positive
class) for classifiers. Tables are CSV or Parquet by their extension. Only crmflow-logged models
load, with pickle off and no code from the model folder (crmflow.model_loading); `allow_pickle=true`
is the user's explicit trust in a model that needs more, and loads it with MLflow's loader.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from crmflow.arguments import key_values
from crmflow.data.files import read_table
from crmflow.errors import ConfigError, DataError
from crmflow.model_loading import load_model

logger = logging.getLogger(__name__)
DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
REQUIRED_KEYS = ("model", "input", "output")
KEYS = (*REQUIRED_KEYS, "tracking_uri", "allow_pickle")
TABLE_FORMATS = (".csv", ".parquet")
BOOLEANS = {"true": True, "false": False}
USAGE = (
    "usage: crmflow predict model=<MLflow model URI> input=<csv|parquet> output=<csv|parquet> "
    f"[tracking_uri=<URI, default {DEFAULT_TRACKING_URI}>] [allow_pickle=true: load a model you trust "
    "that needs pickle or its own code]"
)


@dataclass(frozen=True)
class PredictRequest:
    """The parsed `key=value` arguments of `crmflow predict`."""

    model: str
    input: Path
    output: Path
    tracking_uri: str = DEFAULT_TRACKING_URI
    allow_pickle: bool = False

    @classmethod
    def parse(cls, args: Sequence[str]) -> PredictRequest:
        given = key_values(args, KEYS, "predict", USAGE)
        missing = [key for key in REQUIRED_KEYS if not given.get(key)]
        if missing:
            raise ConfigError(f"predict: missing argument(s) {', '.join(missing)} ({USAGE})")
        for key in ("input", "output"):
            _table_format(Path(given[key]), key)
        return cls(
            given["model"],
            Path(given["input"]),
            Path(given["output"]),
            given.get("tracking_uri") or DEFAULT_TRACKING_URI,
            _boolean(given.get("allow_pickle", "false"), "allow_pickle"),
        )


def _boolean(value: str, key: str) -> bool:
    if value.strip().lower() not in BOOLEANS:
        raise ConfigError(f"predict.{key}: must be true or false; got {value!r}")
    return BOOLEANS[value.strip().lower()]


def _table_format(path: Path, key: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise ConfigError(f"predict.{key}: expected a .csv or .parquet file; got '{path}'")
    return suffix


def read_input(path: Path) -> pd.DataFrame:
    """The input table, CSV or Parquet by its extension, read by crmflow's one table reader."""
    _table_format(path, "input")
    if not path.is_file():
        raise DataError(f"predict.input: file '{path}' not found")
    return read_table(path, ",", "predict", path_key="predict.input")


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write CSV or Parquet by the extension, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if _table_format(path, "output") == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def _first_line(error: BaseException) -> str:
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)


def model_columns(model: Any, uri: str) -> list[str]:
    """The input columns of the model's signature."""
    schema = model.metadata.get_input_schema()
    if schema is None or not schema.has_input_names():
        raise ConfigError(f"predict.model: '{uri}' has no input signature with column names to check the input against")
    return list(schema.input_names())


def check_columns(frame: pd.DataFrame, model: Any, uri: str, path: Path) -> list[str]:
    """The model's input columns; a DataError naming the ones the input lacks."""
    schema = model.metadata.get_input_schema()
    expected = model_columns(model, uri)
    required = schema.required_input_names() if hasattr(schema, "required_input_names") else expected
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(
            f"predict.input: '{path}' lacks column(s) {', '.join(missing)} that model '{uri}' needs "
            f"(its signature: {', '.join(expected)})"
        )
    return [c for c in expected if c in frame.columns]


def predict_frame(model: Any, frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The input with `prediction` and, when the model gives probabilities, `probability` of class 1."""
    from mlflow.exceptions import MlflowException

    inputs = frame[columns]
    try:
        predicted = model.predict(inputs)
    except MlflowException as error:
        raise DataError(f"predict.input: the rows do not match the model's signature: {_first_line(error)}") from error
    values = list(_values(predicted))
    if len(values) != len(frame):
        raise DataError(
            f"predict.model: the model returned {len(values)} rows for {len(frame)} input rows; crmflow predict "
            "scores one row per customer (a forecaster's periods are in its run's forecast.csv)"
        )
    scored = frame.assign(prediction=pd.Series(values, index=frame.index))
    raw = _raw_model(model)
    if raw is not None and hasattr(raw, "predict_proba") and list(getattr(raw, "classes_", [])) == [0, 1]:
        scored["probability"] = raw.predict_proba(inputs)[:, 1]
    return scored


def _values(predicted: Any) -> Any:
    if isinstance(predicted, pd.DataFrame):
        return predicted.iloc[:, 0]
    return predicted


def _raw_model(model: Any) -> Any | None:
    try:
        return model.get_raw_model()
    except NotImplementedError:
        return None


def score_file(request: PredictRequest) -> pd.DataFrame:
    """Read the input, check it against the model's signature, predict, write the output; return it."""
    frame = read_input(request.input)
    model = load_model(request.model, request.tracking_uri, request.allow_pickle)
    columns = check_columns(frame, model, request.model, request.input)
    scored = predict_frame(model, frame, columns)
    write_table(scored, request.output)
    logger.info("scored %d rows with %s into %s", len(scored), request.model, request.output)
    return scored
