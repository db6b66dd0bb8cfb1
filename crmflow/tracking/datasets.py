"""Dataset inputs whose cost does not grow with the data: digest, schema and profile from the shape,
the dtypes and a fixed-size sample of rows, logged idempotently through the client API."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
from mlflow.entities import Dataset, DatasetInput, InputTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.tracking.context import registry as context_registry
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from crmflow.redact import redact_config

logger = logging.getLogger(__name__)
SAMPLE_ROWS = 10_000  # rows hashed for the digest (evenly spread, first and last included)
SCHEMA_ROWS = 1_000  # rows the column types are inferred from
DIGEST_LENGTH = 16
RACE_ATTEMPTS = 4
# What a store says when another process inserted the same (experiment, name, digest) dataset first.
DUPLICATE_MARKERS = ("UNIQUE constraint failed", "duplicate key value", "Duplicate entry", "IntegrityError")


def sample_rows(frame: pd.DataFrame, n: int = SAMPLE_ROWS) -> pd.DataFrame:
    """At most `n` rows at evenly spaced positions, so a change anywhere in a sorted table shows."""
    if len(frame) <= n:
        return frame
    return frame.iloc[np.unique(np.linspace(0, len(frame) - 1, n).round().astype(np.int64))]


def frame_digest(frame: pd.DataFrame, sample: pd.DataFrame) -> str:
    """A digest of the shape, the column names and dtypes, and the sampled rows (values and index)."""
    digest = hashlib.sha256(repr((frame.shape, [(str(c), str(t)) for c, t in frame.dtypes.items()])).encode())
    try:
        hashes = pd.util.hash_pandas_object(sample, index=True)
    except TypeError:  # unhashable cells (lists, sets): hash their text
        hashes = pd.util.hash_pandas_object(sample.astype(str), index=True)
    digest.update(hashes.to_numpy().tobytes())
    return digest.hexdigest()[:DIGEST_LENGTH]


def _schema(sample: pd.DataFrame) -> str | None:
    """MLflow's column schema (as `mlflow.data.from_pandas` writes it), inferred from a few rows."""
    from mlflow.models import infer_signature

    with warnings.catch_warnings():  # the hint about integer columns concerns model inputs, not a dataset
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
        try:
            inputs = infer_signature(sample.head(SCHEMA_ROWS)).inputs
        except (MlflowException, TypeError, ValueError) as error:
            logger.debug("tracking: no schema for the dataset (%s)", error)
            return None
    return json.dumps({"mlflow_colspec": inputs.to_dict()}) if inputs is not None else None


def dataset_entity(frame: pd.DataFrame, name: str) -> Dataset:
    """The MLflow dataset record of `frame`, computed from a sample: the same frame gives the same digest
    in every process, so the store keeps one dataset per (experiment, name, digest)."""
    sample = sample_rows(frame)
    profile = {"num_rows": len(frame), "num_elements": int(frame.size), "digest_sample_rows": len(sample)}
    source = json.dumps(redact_config({"tags": context_registry.resolve_tags()}))  # the run's context, no password
    return Dataset(name, frame_digest(frame, sample), "code", source, _schema(sample), json.dumps(profile))


def _is_duplicate(error: MlflowException) -> bool:
    return any(marker in str(error) for marker in DUPLICATE_MARKERS)


def log_dataset(client: MlflowClient, run_id: str, frame: Any, name: str, context: str) -> None:
    """Log `frame` as an input of the run; a dataset another process inserted meanwhile is reused."""
    started = time.perf_counter()
    dataset_input = DatasetInput(dataset_entity(frame, name), tags=[InputTag(MLFLOW_DATASET_CONTEXT, context)])
    for attempt in range(1, RACE_ATTEMPTS + 1):
        try:
            client.log_inputs(run_id, datasets=[dataset_input])
            break
        except MlflowException as error:
            if attempt == RACE_ATTEMPTS or not _is_duplicate(error):
                raise
            logger.debug("tracking: dataset '%s' was logged concurrently (attempt %d); retrying", name, attempt)
            time.sleep(0.05 * attempt)
    logger.debug("tracking: dataset '%s' logged in %.2f s", name, time.perf_counter() - started)
