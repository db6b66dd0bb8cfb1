"""Scoring from raw data a model whose run joined the value stage's columns to its features
(`value.settings.add_features`): the run's own value model, logged beside it, gives them again.

The value model (tagged `crmflow.stage: value` in the same run) is loaded as safely as any model
(crmflow.model_loading) and summarises the new log as of the day before `as_of`, as the run summarised
its own as of the day before the features cutoff; its P(alive), expected purchases, spend and CLV join
the rebuilt features by customer id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from crmflow.errors import ConfigError
from crmflow.model_loading import load_model
from crmflow.scoring import PredictRequest

__all__ = ["run_value_columns", "value_columns_joined"]

VALUE_STAGE = "value"
STAGE_TAG = "crmflow.stage"


def value_columns_joined(config: Mapping[str, Any]) -> bool:
    """Whether the run's value stage joined its columns to the customer table."""
    value = config.get(VALUE_STAGE) or {}
    return bool(value.get("_target_")) and bool((value.get("settings") or {}).get("add_features"))


def value_model_uri(run_id: str, tracking_uri: str) -> str:
    """`models:/<id>` of the value model the run logged; ConfigError when it logged none."""
    from mlflow.entities import LoggedModelStatus
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    run = client.get_run(run_id)
    found = client.search_logged_models(
        experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id='{run_id}'"
    )
    ready = [m for m in found if m.status == LoggedModelStatus.READY and (m.tags or {}).get(STAGE_TAG) == VALUE_STAGE]
    if not ready:
        raise ConfigError(
            f"predict.transactions: the run {run_id} joined the value stage's columns to its features "
            "(value.settings.add_features) but logged no value model to rebuild them with; score a feature table "
            "that has them with input=<csv|parquet>"
        )
    return f"models:/{max(ready, key=lambda m: m.creation_timestamp).model_id}"


def run_value_columns(
    model: Any, request: PredictRequest, transactions: pd.DataFrame, cutoff: pd.Timestamp
) -> pd.DataFrame:
    """The value columns of every customer in `transactions` as of `cutoff`, indexed by customer id (text)."""
    run_id = getattr(model.metadata, "run_id", None)
    value = load_model(value_model_uri(run_id, request.tracking_uri), request.tracking_uri).get_raw_model()
    summaries = value.inputs_at(transactions, cutoff)
    return value.predict(summaries).set_axis(summaries.index)
