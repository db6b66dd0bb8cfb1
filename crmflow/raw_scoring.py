"""`crmflow predict transactions=... as_of=...`: build new customers' features from their raw files the way
the model's run built its own, then score them.

The run that logged the model logged its resolved config as `config.yaml`. Its `data` node gives how the
files are read and cleaned (column mapping, sep, timestamp parsing, cleaning), with the paths replaced by
`transactions=` and `customers=`; its `features` node gives the feature definitions, built as of `as_of`
(the cutoff, as `features.cutoff` means it: purchases up to the start of that day count) and without a
target, since new customers' futures are unknown: every customer with a purchase on or before it is scored.
The feature table is written beside the predictions as `<output stem>.features.<ext>`.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from crmflow.config.components import ALLOWED_PACKAGES_KEY, build_node, check_user_packages, user_packages
from crmflow.data.base import TRANSACTION_COLUMNS, CRMData
from crmflow.environ import environment
from crmflow.errors import ConfigError, CrmflowError, DataError
from crmflow.features.cache import split_cache_settings
from crmflow.model_loading import load_model
from crmflow.paths import config_dir
from crmflow.raw_value import run_value_columns, value_columns_joined
from crmflow.scoring import PredictRequest, model_columns, predict_frame, require_file, write_table

__all__ = ["RawScores", "features_path", "raw_data_node", "run_config", "score_raw"]

logger = logging.getLogger(__name__)
CONFIG_ARTIFACT = "config.yaml"  # the run's redacted resolved config (crmflow.run)
PROGRESS_BAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
SYNTHETIC_SOURCE = "crmflow.data.synthetic.SyntheticCRM"
# A synthetic run's tables in a file: the generator's own column names, the date column of its customers.
SYNTHETIC_COLUMNS = {role: role for role in TRANSACTION_COLUMNS}
SYNTHETIC_CUSTOMERS = {"id_column": "customer_id", "date_columns": ["signup_date"]}


@dataclass
class RawScores:
    """The predictions (the feature table plus `prediction`, `probability`) and the features written beside them."""

    predictions: pd.DataFrame
    features: pd.DataFrame
    features_path: Path


def features_path(output: Path) -> Path:
    """`scores.parquet` -> `scores.features.parquet`: the feature table beside the predictions, same format."""
    return output.with_name(f"{output.stem}.features{output.suffix}")


def run_config(model: Any, uri: str, tracking_uri: str) -> dict[str, Any]:
    """The `config.yaml` of the run that logged the model (MLmodel's run_id: any runs:/ or models:/ URI)."""
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    run_id = getattr(model.metadata, "run_id", None)
    if not run_id:
        raise ConfigError(
            f"predict.model: '{uri}' names no run that logged it (its MLmodel has no run_id), so its data and "
            "features config is unknown; score a feature table with input= instead"
        )
    try:
        with tempfile.TemporaryDirectory(prefix="crmflow-config-") as scratch, _use_tracking_uri(tracking_uri):
            path = download_artifacts(
                run_id=run_id, artifact_path=CONFIG_ARTIFACT, dst_path=scratch, tracking_uri=tracking_uri
            )
            config = yaml.safe_load(Path(path).read_text())
    except (MlflowException, OSError, yaml.YAMLError) as error:
        raise ConfigError(
            f"predict.model: cannot read {CONFIG_ARTIFACT} of run {run_id}, which logged '{uri}' (tracking URI "
            f"{tracking_uri}): {_first_line(error)}"
        ) from error
    for key in ("data", "features"):
        if not isinstance((config or {}).get(key), Mapping):
            raise ConfigError(f"predict.model: the {CONFIG_ARTIFACT} of run {run_id} has no '{key}' node")
    return config


def raw_data_node(data: Mapping[str, Any], transactions: Path, customers: Path | None) -> dict[str, Any]:
    """The run's data node reading the given files instead of its own.

    A synthetic run (data=synthetic) read no files: its node becomes conf/data/csv.yaml, the csv defaults,
    mapped to the synthetic log's column names (customer_id, timestamp, amount, item, quantity, basket_id)
    and the customer table's (customer_id, its signup_date a date column), so a file written from the
    generator's tables reads back to the same tables.
    """
    if data.get("_target_") == SYNTHETIC_SOURCE:
        node = yaml.safe_load((config_dir() / "data" / "csv.yaml").read_text())
        node["name"] = str(data.get("name") or "synthetic")
        node["transactions"] = {**node["transactions"], "columns": dict(SYNTHETIC_COLUMNS)}
        node["customers"] = dict(SYNTHETIC_CUSTOMERS)
    elif isinstance(data.get("transactions"), Mapping):
        node = dict(data)
    else:
        raise ConfigError(
            f"predict.transactions: the run's data ({data.get('_target_')}) has no data.transactions block to "
            "read a transaction log with; score a feature table with input= instead"
        )
    node["transactions"] = {**node["transactions"], "path": str(transactions)}
    if customers is not None and not isinstance(node.get("customers"), Mapping):
        raise ConfigError(
            "predict.customers: the run read no customer table (data.customers is null), so its features use "
            "none; drop customers="
        )
    if customers is None:
        node["customers"] = None
    else:  # new customers' labels are unknown: read no target (the column is dropped when present)
        node["customers"] = {**node["customers"], "path": str(customers), "target": None}
    return node


def _load(node: dict[str, Any], key: str) -> CRMData:
    """One table through the run's data source; its errors prefixed with `predict.<key>:`."""
    other = "customers" if key == "transactions" else "transactions"
    try:
        return build_node({**node, other: None}, "data").load()
    except CrmflowError as error:
        raise type(error)(f"predict.{key}: {error}") from error


def load_raw(node: dict[str, Any], target: Any) -> CRMData:
    """The transactions (and customers) the node names, read and cleaned as the run read its own."""
    transactions = _load(node, "transactions")
    customers = None
    if node.get("customers") is not None:
        customers = _load(node, "customers").customers
        if target is not None:
            customers = customers.drop(columns=[str(target)], errors="ignore")
    return CRMData(transactions.name, transactions.transactions, customers, None, report=transactions.report)


def cutoff_of(request: PredictRequest, data: CRMData) -> pd.Timestamp:
    """`as_of` as the features' cutoff (in the data's time zone); a DataError when no purchase precedes it."""
    times = data.transactions["timestamp"].dropna()
    cutoff = pd.Timestamp(request.as_of)
    if times.dt.tz is not None:
        cutoff = cutoff.tz_localize(times.dt.tz)
    if times.empty or not times.le(cutoff).any():
        span = "it has none" if times.empty else f"it spans {times.min().date()} to {times.max().date()}"
        raise DataError(
            f"predict.as_of: no transaction in '{request.transactions}' is on or before {request.as_of} "
            f"(the features count purchases up to the start of that day, as features.cutoff does); {span}"
        )
    return cutoff


def feature_builder(features: Mapping[str, Any]) -> Any:
    """The run's features builder (without its cache keys); it must build features alone as of a date."""
    node, _ = split_cache_settings(features)
    builder = None if node.get("_target_") is None else build_node(node, "features")
    if not hasattr(builder, "features_at"):
        raise ConfigError(
            f"predict.transactions: the run's features ({node.get('_target_')}) are not built from a transaction "
            "log as of a date; score a feature table with input= instead"
        )
    return builder


def build_features(request: PredictRequest, config: Mapping[str, Any], model: Any = None) -> pd.DataFrame:
    """The input rows of every customer with a purchase on or before `as_of`, indexed by customer id: what the
    model builds from a log itself (a value model's customer summaries), else the features as the run built them,
    with the value stage's columns when the run joined them (value.settings.add_features)."""
    raw = _raw_model(model)
    own_inputs = hasattr(raw, "inputs_at")
    # a stored config's own allow-list is trusted only as far as the model is: with allow_pickle=true
    packages = check_user_packages(config.get(ALLOWED_PACKAGES_KEY) or []) if request.allow_pickle else ()
    with user_packages(packages):
        builder = None if own_inputs else feature_builder(config["features"])
        node = raw_data_node(config["data"], request.transactions, request.customers)
        data = load_raw(node, (config["data"].get("customers") or {}).get("target"))
        cutoff = cutoff_of(request, data)
        try:
            if own_inputs:
                X = raw.inputs_at(data.transactions, cutoff)
            else:
                X = builder.features_at(data, cutoff).X
                if value_columns_joined(config):
                    X = X.join(run_value_columns(model, request, data.transactions, cutoff))
        except CrmflowError as error:
            raise type(error)(f"predict.transactions: {error}") from error
    logger.info("inputs for %d customers as of %s", len(X), request.as_of)
    return X


def _raw_model(model: Any) -> Any | None:
    try:
        return None if model is None else model.get_raw_model()
    except NotImplementedError:
        return None


def _check_features(frame: pd.DataFrame, model: Any, request: PredictRequest, run_customers: bool) -> list[str]:
    """The model's input columns; a DataError naming those the built features lack."""
    expected = model_columns(model, request.model)
    schema = model.metadata.get_input_schema()
    required = schema.required_input_names() if hasattr(schema, "required_input_names") else expected
    missing = [c for c in required if c not in frame.columns]
    if missing:
        hint = ""
        if run_customers and request.customers is None:
            hint = "; the run merged its customer table into the features: give customers=<csv|parquet>"
        raise DataError(
            f"predict.transactions: the features built lack column(s) {', '.join(missing)} that model "
            f"'{request.model}' needs{hint}"
        )
    return [c for c in expected if c in frame.columns]


def score_raw(request: PredictRequest) -> RawScores:
    """Load the model and its run's config, build the features from the raw files, predict, write both tables."""
    with environment(PROGRESS_BAR, "false"):  # MLflow's download bars on stderr: an error stays one line
        return _score_raw(request)


def _score_raw(request: PredictRequest) -> RawScores:
    require_file(request.transactions, "transactions")
    if request.customers is not None:
        require_file(request.customers, "customers")
    model = load_model(request.model, request.tracking_uri, request.allow_pickle)
    config = run_config(model, request.model, request.tracking_uri)
    features = build_features(request, config, model).reset_index()
    run_customers = config["data"].get("_target_") == SYNTHETIC_SOURCE or bool(config["data"].get("customers"))
    columns = _check_features(features, model, request, run_customers)
    predictions = predict_frame(model, features, columns)
    path = features_path(request.output)
    write_table(predictions, request.output)
    write_table(features, path)
    logger.info("scored %d customers with %s into %s", len(predictions), request.model, request.output)
    return RawScores(predictions, features, path)


def _first_line(error: BaseException) -> str:
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
