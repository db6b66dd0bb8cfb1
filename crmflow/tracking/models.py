"""Log a fitted model to a given run id, without MLflow's fluent active run or global tracking URI:
save it locally with the flavor's `save_model`, then create the run's LoggedModel, upload, finalize.

Every model is stored without pickle, so `crmflow predict` (crmflow.model_loading) loads it with
pickle off: a scikit-learn pipeline as skops, a forecaster as JSON plus crmflow's loader module. The
MLmodel metadata carries crmflow's marker (`crmflow: {format: ...}`).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mlflow.entities import LoggedModelOutput, LoggedModelStatus
from mlflow.models import Model, infer_signature
from mlflow.tracking import MlflowClient
from mlflow.tracking.context import registry as context_registry
from mlflow.utils.file_utils import local_file_uri_to_path

from crmflow.errors import ConfigError
from crmflow.model_loading import JSON_FORMAT, MARKER, SKOPS_FORMAT
from crmflow.tracking.params import PACKAGE_DIR

if TYPE_CHECKING:
    from crmflow.stages.contract import LoggedModel

logger = logging.getLogger(__name__)
INTEGER_HINT = "Hint: Inferred schema contains integer column"


class JsonPyfunc(Protocol):
    """A model saved as plain data that one of crmflow's loader modules reads (`_load_pyfunc(path)`)."""

    loader_module: str

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any: ...

    def save(self, folder: Path) -> Path: ...


STAGE_TAG = "crmflow.stage"  # the stage that logged the model


def log_model(client: MlflowClient, run_id: str, logged: LoggedModel, stage: str | None = None) -> str:
    """Log a fitted sklearn pipeline (skops format), or a pyfunc model (flavor "pyfunc": JSON data and a
    crmflow loader module, e.g. a forecaster), with signature and input example, as the LoggedModel
    `logged.name` of the run, so that `runs:/<run id>/<name>` and `models:/<model id>` resolve; return a
    URI to load it with.

    The URI is the model's folder when the store keeps artifacts on this machine (it loads without a
    tracking URI; MLflow 3.17 cannot load a `file://` model URI), else `models:/<model id>` (load it with
    the tracking URI set). `stage` becomes the model's `crmflow.stage` tag (`crmflow compare register=` reads it).
    """
    with tempfile.TemporaryDirectory(prefix="crmflow-model-") as scratch:
        save, arguments = _pyfunc(logged, Path(scratch)) if logged.flavor == "pyfunc" else _sklearn(logged)
        run = client.get_run(run_id)
        model = client.create_logged_model(
            run.info.experiment_id,
            name=logged.name,
            source_run_id=run_id,
            params=dict(run.data.params),  # as mlflow's log_model does: the run's params on the model
            tags={**context_registry.resolve_tags(), **({STAGE_TAG: stage} if stage else {})},
        )
        try:
            local = Path(scratch) / "model"
            meta = Model(
                artifact_path=model.artifact_location, run_id=run_id, model_uuid=model.model_id, model_id=model.model_id
            )
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=INTEGER_HINT)
                save(path=str(local), mlflow_model=meta, **arguments)
            for cache in list(local.rglob("__pycache__")):  # left by loading the model to infer requirements
                shutil.rmtree(cache, ignore_errors=True)
            client.log_model_artifacts(model.model_id, str(local))
            client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
        except BaseException:
            client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
            raise
    client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    location = model.artifact_location
    return local_file_uri_to_path(location) if location.startswith("file:") else f"models:/{model.model_id}"


def _sklearn(logged: LoggedModel) -> tuple[Callable[..., Any], dict[str, Any]]:
    import mlflow.sklearn
    import sklearn
    import skops

    example = _integers_as_floats(logged.input_example)
    with warnings.catch_warnings():  # the hint is about integer predictions (classes), never missing
        warnings.filterwarnings("ignore", message=INTEGER_HINT)
        signature = infer_signature(example, logged.model.predict(example))
    return mlflow.sklearn.save_model, {
        "sk_model": logged.model,
        "signature": signature,
        "input_example": example,
        "code_paths": [str(PACKAGE_DIR)],
        "pip_requirements": [f"scikit-learn=={sklearn.__version__}", f"skops=={skops.__version__}", "pandas", "numpy"],
        "metadata": {MARKER: {"format": SKOPS_FORMAT}},
        **_serialization(logged.model, logged.name),
    }


def _pyfunc(logged: LoggedModel, scratch: Path) -> tuple[Callable[..., Any], dict[str, Any]]:
    """A `JsonPyfunc` model saved by MLflow's loader-module path: its JSON as the model's data."""
    import mlflow.pyfunc

    model: JsonPyfunc = logged.model
    example = logged.input_example
    with warnings.catch_warnings():  # integer inputs (e.g. a horizon) are never missing here
        warnings.filterwarnings("ignore", message=INTEGER_HINT)
        signature = infer_signature(example, model.predict(example))
    return mlflow.pyfunc.save_model, {
        "loader_module": model.loader_module,
        "data_path": str(model.save(scratch)),
        "signature": signature,
        "input_example": example,
        "code_paths": [str(PACKAGE_DIR)],
        "pip_requirements": logged.pip_requirements or None,
        "metadata": {MARKER: {"format": JSON_FORMAT}},
    }


def _integers_as_floats(example: Any) -> Any:
    """The input example with integer columns as float64, so the signature accepts new rows where
    such a column (a count, an age) is missing: MLflow refuses NaN in an integer column."""
    if not hasattr(example, "select_dtypes"):
        return example
    integers = example.select_dtypes(include="integer").columns
    return example.astype(dict.fromkeys(integers, "float64"))


def _serialization(model: Any, name: str) -> dict[str, Any]:
    """skops, trusting the types it cannot vouch for itself (the model was fitted in this process:
    crmflow's transformers, tree node storage, ...). A model holding an object skops cannot store is
    not logged with pickle: a ConfigError names it."""
    import skops.io
    from skops.io.exceptions import UnsupportedTypeException

    try:
        untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    except UnsupportedTypeException as error:
        raise ConfigError(
            f"tracking: cannot log the '{name}' model without pickle: {error}; crmflow logs models in skops "
            "format only, so use components skops can store"
        ) from error
    return {"serialization_format": SKOPS_FORMAT, "skops_trusted_types": untrusted}
