"""`crmflow predict`: score new customers with a logged model, checking their columns against its signature.

```
crmflow predict model=runs:/<run id>/model input=new_customers.csv output=scores.parquet [tracking_uri=...]
crmflow predict model=... transactions=new_tx.csv [customers=new_customers.csv] as_of=2025-01-31 output=...
```
The output is the input table with a `prediction` column, plus `probability` (of the positive
class) for classifiers; a model that returns several named columns (a value model: expected_purchases,
p_alive, expected_spend, clv) adds those instead. With `transactions=` the input table is built first
from the raw files, as the model's run built its own (crmflow.raw_scoring). Tables are CSV or Parquet by
their extension. Only crmflow-logged models load, with pickle off and no code from the model folder
(crmflow.model_loading); `allow_pickle=true` is the user's explicit trust in a model that needs more, and
loads it with MLflow's loader.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from crmflow.arguments import key_values
from crmflow.data.files import read_table
from crmflow.errors import ConfigError, DataError
from crmflow.model_loading import load_model

logger = logging.getLogger(__name__)
DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
RAW_KEYS = ("transactions", "customers", "as_of")  # build the input from raw files (crmflow.raw_scoring)
KEYS = ("model", "input", *RAW_KEYS, "output", "tracking_uri", "allow_pickle")
TABLE_FORMATS = (".csv", ".parquet")
BOOLEANS = {"true": True, "false": False}
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
USAGE = (
    "usage: crmflow predict model=<MLflow model URI> (input=<csv|parquet feature table> | "
    "transactions=<csv|parquet transaction log> [customers=<csv|parquet>] as_of=<YYYY-MM-DD>) "
    f"output=<csv|parquet> [tracking_uri=<URI, default {DEFAULT_TRACKING_URI}>] [allow_pickle=true: load a "
    "model you trust that needs pickle or its own code]"
)


@dataclass(frozen=True)
class PredictRequest:
    """The parsed `key=value` arguments of `crmflow predict`."""

    model: str
    input: Path | None
    output: Path
    tracking_uri: str = DEFAULT_TRACKING_URI
    allow_pickle: bool = False
    transactions: Path | None = None  # with as_of (and customers): build the input from raw files
    customers: Path | None = None
    as_of: date | None = None

    @classmethod
    def parse(cls, args: Sequence[str]) -> PredictRequest:
        given = key_values(args, KEYS, "predict", USAGE)
        needed = {"model": "model", "input": "input (or transactions)", "output": "output"}
        if given.get("transactions"):
            needed.pop("input")
        missing = [name for key, name in needed.items() if not given.get(key)]
        if missing:
            raise ConfigError(f"predict: missing argument(s) {', '.join(missing)} ({USAGE})")
        if given.get("input") and given.get("transactions"):
            raise ConfigError(
                "predict: give input=<feature table> or transactions=<transaction log>, not both "
                "(transactions= builds the feature table from raw data)"
            )
        paths = {key: Path(given[key]) for key in ("input", "transactions", "customers", "output") if given.get(key)}
        for key, path in paths.items():
            _table_format(path, key)
        as_of = None
        if "transactions" in paths:
            as_of = _as_of(given)
        else:
            _no_raw_keys(given)
        return cls(
            given["model"],
            paths.get("input"),
            paths["output"],
            given.get("tracking_uri") or DEFAULT_TRACKING_URI,
            _boolean(given.get("allow_pickle", "false"), "allow_pickle"),
            paths.get("transactions"),
            paths.get("customers"),
            as_of,
        )


def _no_raw_keys(given: dict[str, str]) -> None:
    """A ConfigError for customers= or as_of= without transactions=: they only apply to raw data."""
    for key in ("customers", "as_of"):
        if key in given:
            raise ConfigError(f"predict.{key}: only applies with transactions=<transaction log>; drop it with input=")


def _as_of(given: dict[str, str]) -> date:
    """`as_of`, required with transactions=: a YYYY-MM-DD date."""
    text = given.get("as_of", "").strip()
    if not text:
        raise ConfigError(
            "predict.as_of: required with transactions=: the date to build the features as of, YYYY-MM-DD"
        )
    if DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:  # 2025-02-30
            pass
    raise ConfigError(f"predict.as_of: expected a date YYYY-MM-DD such as 2025-01-31; got {text!r}")


def _boolean(value: str, key: str) -> bool:
    if value.strip().lower() not in BOOLEANS:
        raise ConfigError(f"predict.{key}: must be true or false; got {value!r}")
    return BOOLEANS[value.strip().lower()]


def _table_format(path: Path, key: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise ConfigError(f"predict.{key}: expected a .csv or .parquet file; got '{path}'")
    return suffix


def read_input(path: Path, key: str = "input") -> pd.DataFrame:
    """The input table, CSV or Parquet by its extension, read by crmflow's one table reader."""
    _table_format(path, key)
    require_file(path, key)
    return read_table(path, ",", "predict", path_key=f"predict.{key}")


def require_file(path: Path, key: str) -> None:
    """A DataError naming `predict.<key>` when the file is missing."""
    if not path.is_file():
        raise DataError(f"predict.{key}: file '{path}' not found")


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

    inputs = _counts_as_floats(frame[columns], model)
    try:
        predicted = model.predict(inputs)
    except MlflowException as error:
        raise DataError(f"predict.input: the rows do not match the model's signature: {_first_line(error)}") from error
    outputs = _outputs(predicted)
    clashing = [name for name in outputs.columns if name in frame.columns]
    if clashing:
        raise DataError(
            f"predict.input: the input already has column(s) {clashing} that the model writes; drop or rename them"
        )
    if len(outputs) != len(frame):
        raise DataError(
            f"predict.model: the model returned {len(outputs)} rows for {len(frame)} input rows; crmflow predict "
            "scores one row per customer (a forecaster's periods are in its run's forecast.csv)"
        )
    scored = frame.assign(**{name: column.to_numpy() for name, column in outputs.items()})
    raw = _raw_model(model)
    if raw is not None and hasattr(raw, "predict_proba") and list(getattr(raw, "classes_", [])) == [0, 1]:
        scored["probability"] = raw.predict_proba(inputs)[:, 1]
    return scored


def _counts_as_floats(inputs: pd.DataFrame, model: Any) -> pd.DataFrame:
    """Integer columns the signature declares as floating point, as float64: MLflow refuses int64 for a double
    column, and a count read from a file (frequency 3) is the same number as 3.0."""
    schema = model.metadata.get_input_schema()
    floating = {"double", "float"}
    names = [
        spec.name
        for spec in (schema.inputs if schema is not None else [])
        if getattr(spec, "name", None) in inputs.columns and str(getattr(spec.type, "name", spec.type)) in floating
    ]
    integers = [name for name in names if pd.api.types.is_integer_dtype(inputs[name])]
    return inputs.astype(dict.fromkeys(integers, "float64")) if integers else inputs


def _outputs(predicted: Any) -> pd.DataFrame:
    """The model's output columns: a table of several named columns as it is (a value model's expected
    purchases, P(alive), CLV), anything else as the one column `prediction`."""
    if isinstance(predicted, pd.DataFrame) and predicted.shape[1] > 1:
        return predicted.reset_index(drop=True).rename(columns=str)
    values = predicted.iloc[:, 0] if isinstance(predicted, pd.DataFrame) else predicted
    return pd.DataFrame({"prediction": list(values)})


def _raw_model(model: Any) -> Any | None:
    try:
        return model.get_raw_model()
    except NotImplementedError:
        return None


def score_file(request: PredictRequest) -> pd.DataFrame:
    """Read the input, check it against the model's signature, predict, write the output; return it."""
    if request.input is None:
        raise ConfigError("predict.input: required (transactions= is scored by crmflow.raw_scoring.score_raw)")
    frame = read_input(request.input)
    model = load_model(request.model, request.tracking_uri, request.allow_pickle)
    columns = check_columns(frame, model, request.model, request.input)
    scored = predict_frame(model, frame, columns)
    write_table(scored, request.output)
    logger.info("scored %d rows with %s into %s", len(scored), request.model, request.output)
    return scored
