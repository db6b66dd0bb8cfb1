"""`crmflow predict`: score new customers with a logged model, checking their columns against its signature.

```
crmflow predict model=runs:/<run id>/model input=new_customers.csv output=scores.parquet [tracking_uri=...]
```
The output is the input table with a `prediction` column, plus `probability` (of the positive
class) for classifiers. Tables are CSV or Parquet by their extension.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from crmflow.data.files import read_table
from crmflow.errors import ConfigError, DataError, did_you_mean

logger = logging.getLogger(__name__)
DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
REQUIRED_KEYS = ("model", "input", "output")
KEYS = (*REQUIRED_KEYS, "tracking_uri")
TABLE_FORMATS = (".csv", ".parquet")
# A skops model may be loaded when every type it needs trusted comes from these packages.
TRUSTED_PACKAGES = ("crmflow.", "sklearn.", "numpy.", "scipy.")
USAGE = (
    "usage: crmflow predict model=<MLflow model URI> input=<csv|parquet> output=<csv|parquet> "
    f"[tracking_uri=<URI, default {DEFAULT_TRACKING_URI}>]"
)


@dataclass(frozen=True)
class PredictRequest:
    """The parsed `key=value` arguments of `crmflow predict`."""

    model: str
    input: Path
    output: Path
    tracking_uri: str = DEFAULT_TRACKING_URI

    @classmethod
    def parse(cls, args: Sequence[str]) -> PredictRequest:
        given: dict[str, str] = {}
        for arg in args:
            key, sep, value = arg.partition("=")
            if not sep:
                raise ConfigError(f"predict: expected key=value arguments; got {arg!r} ({USAGE})")
            if key not in KEYS:
                raise ConfigError(
                    f"predict: unknown argument '{key}'{did_you_mean(key, KEYS)} (valid: {', '.join(KEYS)})"
                )
            given[key] = value
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
        )


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


def check_trusted_types(flavors: dict[str, Any], uri: str) -> bool:
    """True when the model is a skops scikit-learn model whose trusted types all come from crmflow,
    scikit-learn, NumPy or SciPy; a model trusting anything else is refused."""
    sklearn_flavor = flavors.get("sklearn") or {}
    if sklearn_flavor.get("serialization_format") != "skops":
        return False
    foreign = [t for t in sklearn_flavor.get("skops_trusted_types") or [] if not str(t).startswith(TRUSTED_PACKAGES)]
    if foreign:
        raise DataError(
            f"predict.model: '{uri}' asks to trust types outside crmflow, scikit-learn, NumPy and SciPy "
            f"({', '.join(map(str, foreign[:5]))}); refusing to load it"
        )
    return True


@contextmanager
def _deserialization_allowed(allowed: bool) -> Iterator[None]:
    """Let MLflow deserialize a vetted skops model; other models follow the user's own setting."""
    name = "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"
    previous = os.environ.get(name)
    if allowed:
        os.environ[name] = "true"
    try:
        yield
    finally:
        if allowed and previous is None:
            os.environ.pop(name, None)
        elif allowed:
            os.environ[name] = previous


def load_model(uri: str, tracking_uri: str) -> Any:
    """The logged model as an MLflow pyfunc model."""
    import mlflow
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(tracking_uri)
    try:
        info = mlflow.models.get_model_info(uri)
        with _deserialization_allowed(check_trusted_types(info.flavors, uri)):
            return mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as error:
        raise ConfigError(
            f"predict.model: cannot load '{uri}' (tracking URI {tracking_uri}): {_first_line(error)}"
        ) from error


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
    scored = frame.assign(prediction=pd.Series(list(_values(predicted)), index=frame.index))
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
    model = load_model(request.model, request.tracking_uri)
    columns = check_columns(frame, model, request.model, request.input)
    scored = predict_frame(model, frame, columns)
    write_table(scored, request.output)
    logger.info("scored %d rows with %s into %s", len(scored), request.model, request.output)
    return scored
