"""MLflow tracking: one parent run per crmflow run, one nested run per trial, never left RUNNING."""

from __future__ import annotations

import logging
import subprocess
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

if TYPE_CHECKING:
    from crmflow.stages.contract import LoggedModel

logger = logging.getLogger(__name__)
MAX_PARAM_LENGTH = 500
PACKAGE_DIR = Path(__file__).resolve().parent


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI, else None."""
    prefix = "sqlite:///"
    return Path(uri[len(prefix) :]) if uri.startswith(prefix) else None


def flatten(node: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config → dotted keys with string values short enough for MLflow params."""
    flat: dict[str, str] = {}
    for key, value in node.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)[:MAX_PARAM_LENGTH]
    return flat


def git_commit(directory: Path = PACKAGE_DIR) -> str | None:
    """The commit of the crmflow checkout, when it is one."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


@contextmanager
def _scoped_run(**start: Any) -> Iterator[Any]:
    """Start a run and end it FINISHED, FAILED (exception) or KILLED (interrupt), whatever happens."""
    run = mlflow.start_run(**start)
    status = "FAILED"
    try:
        yield run
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        mlflow.end_run(status)


class Tracker:
    """Logs a crmflow run to an MLflow tracking store."""

    def __init__(self, uri: str, experiment: str) -> None:
        self.uri = uri
        self.experiment = experiment
        self.experiment_id: str | None = None

    def ensure_experiment(self) -> str:
        """Create the experiment once, before any run or trial (parallel first use races)."""
        database = sqlite_path(self.uri)
        artifact_location = None
        if database is not None:
            database.parent.mkdir(parents=True, exist_ok=True)
            artifact_location = (database.parent.resolve() / "artifacts").as_uri()
        for name in ("alembic", "mlflow.store.db.utils", "mlflow.tracking.fluent"):
            logging.getLogger(name).setLevel(logging.WARNING)
        mlflow.set_tracking_uri(self.uri)
        client = MlflowClient(self.uri)
        found = client.get_experiment_by_name(self.experiment)
        if found is None:
            try:
                self.experiment_id = client.create_experiment(self.experiment, artifact_location=artifact_location)
            except MlflowException:
                found = client.get_experiment_by_name(self.experiment)
                if found is None:
                    raise
        if found is not None:
            self.experiment_id = found.experiment_id
        return self.experiment_id

    def parent_run(self, name: str, tags: Mapping[str, str]) -> Any:
        if self.experiment_id is None:
            self.ensure_experiment()
        return _scoped_run(experiment_id=self.experiment_id, run_name=name, tags=dict(tags))

    @contextmanager
    def child_run(self, name: str, params: Mapping[str, Any], tags: Mapping[str, str]) -> Iterator[Any]:
        with _scoped_run(experiment_id=self.experiment_id, run_name=name, nested=True, tags=dict(tags)) as run:
            if params:
                mlflow.log_params({k: str(v)[:MAX_PARAM_LENGTH] for k, v in params.items()})
            yield run

    @staticmethod
    def log_params(params: Mapping[str, str]) -> None:
        mlflow.log_params(dict(params))

    @staticmethod
    def log_metrics(metrics: Mapping[str, float], prefix: str = "") -> None:
        mlflow.log_metrics({f"{prefix}{k}": float(v) for k, v in metrics.items()})

    @staticmethod
    def log_artifacts(paths: list[Path], folder: str | None = None) -> None:
        for path in paths:
            mlflow.log_artifact(str(path), artifact_path=folder)

    @staticmethod
    def log_text(text: str, file_name: str) -> None:
        mlflow.log_text(text, file_name)

    @staticmethod
    def log_dataset(frame: Any, name: str, context: str) -> None:
        dataset = mlflow.data.from_pandas(frame, name=name)
        mlflow.log_input(dataset, context=context)

    @staticmethod
    def log_model(logged: LoggedModel) -> str:
        """Log a fitted sklearn pipeline (skops format), or a pyfunc model (flavor "pyfunc", e.g. a
        forecaster), with signature and input example; return its URI."""
        if logged.flavor == "pyfunc":
            return _log_pyfunc_model(logged)
        import mlflow.sklearn
        import sklearn
        import skops.io
        from mlflow.models import infer_signature

        example = _integers_as_floats(logged.input_example)
        with warnings.catch_warnings():  # the hint is about integer predictions (classes), never missing
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
            signature = infer_signature(example, logged.model.predict(example))
        serialization = _serialization(logged.model)
        info = mlflow.sklearn.log_model(
            logged.model,
            name=logged.name,
            signature=signature,
            input_example=example,
            code_paths=[str(PACKAGE_DIR)],
            pip_requirements=[f"scikit-learn=={sklearn.__version__}", f"skops=={skops.__version__}", "pandas", "numpy"],
            **serialization,
        )
        return info.model_uri


def _integers_as_floats(example: Any) -> Any:
    """The input example with integer columns as float64, so the signature accepts new rows where
    such a column (a count, an age) is missing: MLflow refuses NaN in an integer column."""
    if not hasattr(example, "select_dtypes"):
        return example
    integers = example.select_dtypes(include="integer").columns
    return example.astype(dict.fromkeys(integers, "float64"))


def _serialization(model: Any) -> dict[str, Any]:
    """skops, trusting the types it cannot vouch for itself (the model was fitted in this process:
    crmflow's transformers, tree node storage, ...); cloudpickle for a model holding objects skops
    cannot store at all (e.g. a fitted BIRCH tree), with a warning that loading it runs pickle."""
    import skops.io
    from skops.io.exceptions import UnsupportedTypeException

    try:
        untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    except UnsupportedTypeException as error:
        logger.warning(
            "tracking: the model holds a type skops cannot store (%s); logged with cloudpickle, so loading it "
            "needs MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true and a trusted store",
            error,
        )
        return {"serialization_format": "cloudpickle"}
    return {"serialization_format": "skops", "skops_trusted_types": untrusted}


def _log_pyfunc_model(logged: LoggedModel) -> str:
    """Log an mlflow.pyfunc.PythonModel (cloudpickled, with crmflow's code) and the stage's requirements."""
    import mlflow.pyfunc
    from mlflow.models import infer_signature

    example = logged.input_example
    with warnings.catch_warnings():  # integer inputs (e.g. a horizon) are never missing here
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
        signature = infer_signature(example, logged.model.predict(None, example))
        info = mlflow.pyfunc.log_model(
            name=logged.name,
            python_model=logged.model,
            signature=signature,
            input_example=example,
            code_paths=[str(PACKAGE_DIR)],
            pip_requirements=logged.pip_requirements or None,
        )
    return info.model_uri
