"""Load a crmflow-logged MLflow model without running code from the model folder.

crmflow reads the folder's `MLmodel` itself rather than calling `mlflow.pyfunc.load_model`: a
scikit-learn model loads from its skops file with an exact list of trusted types, each a class
defined in crmflow or scikit-learn; a forecaster or a value model loads from its JSON through
crmflow's own loader module. No `loader_module` named by the folder is imported, its `code/` folder never reaches
`sys.path`, and pickle is never turned on. A model that needs any of that (cloudpickle, a foreign
loader, a type outside those packages) loads only with `allow_pickle=true`, the user's explicit
trust, through MLflow's own loader and with a warning.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zipfile import BadZipFile

from crmflow.environ import environment
from crmflow.errors import ConfigError

logger = logging.getLogger(__name__)
MARKER = "crmflow"  # MLmodel metadata key crmflow writes at log time: {"format": SKOPS_FORMAT | JSON_FORMAT}
SKOPS_FORMAT = "skops"  # a scikit-learn model in skops format, flavor "sklearn"
JSON_FORMAT = "json"  # plain JSON read by one of crmflow's own loader modules (e.g. a forecaster)
SKLEARN_LOADER = "mlflow.sklearn"
# crmflow's own loader modules, the only ones ever imported
CRMFLOW_LOADERS = ("crmflow.forecasting.pyfunc", "crmflow.value.pyfunc")
CODE_FOLDER = "code"  # where crmflow copies its own package (for MLflow users); crmflow never imports it
# Classes a skops model may ask to trust: scikit-learn's and crmflow's, the packages crmflow's pipelines are
# made of. Not whole utility packages such as numpy (numpy.memmap writes a file when constructed).
MODEL_PACKAGES = ("crmflow.", "sklearn.")
MODEL_TYPES = ("numpy.dtype",)  # and these exact classes: a fitted SimpleImputer keeps its dtype
KEY = "predict.model"
OPT_IN = "allow_pickle=true"


class RefusedModel(Exception):
    """The model folder needs more trust than crmflow gives by default; the message is the reason."""


@dataclass
class SklearnModel:
    """A scikit-learn model behind MLflow's pyfunc interface (`predict`, `get_raw_model`)."""

    model: Any

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self.model.predict(data)

    def get_raw_model(self) -> Any:
        return self.model


def load_model(uri: str, tracking_uri: str, allow_pickle: bool = False) -> Any:
    """The model at `uri` (runs:/, models:/ or a local folder) as an `mlflow.pyfunc.PyFuncModel`.

    A crmflow-logged model loads without running code from its folder; any other model is a
    ConfigError naming `predict.model`, unless `allow_pickle` (then MLflow loads it, with a warning).
    """
    folder = _download(uri, tracking_uri)
    meta = _read_mlmodel(folder, uri)
    try:
        return load_safely(folder, meta, uri)
    except RefusedModel as refused:
        if not allow_pickle:
            raise ConfigError(
                f"{KEY}: refusing to load '{uri}': {refused}; pass {OPT_IN} to load it with MLflow's own loader, "
                "which can run code from the model folder, only if you trust this model"
            ) from None
        logger.warning(
            "predict.allow_pickle: loading '%s' with MLflow's own loader (%s); this can run code from the model "
            "folder, so do it only for a model you trust",
            uri,
            refused,
        )
        return _load_with_mlflow(folder, uri)


def load_safely(folder: Path, meta: Any, uri: str) -> Any:
    """Load a crmflow-logged model from a local folder without pickle or foreign code, or raise RefusedModel."""
    from mlflow.pyfunc import PyFuncModel

    marker = (meta.metadata or {}).get(MARKER)
    if not isinstance(marker, dict):
        raise RefusedModel("its MLmodel has no crmflow metadata, so crmflow did not log it")
    if not isinstance(meta.flavors, dict) or not all(isinstance(c, dict) for c in meta.flavors.values()):
        raise RefusedModel("its MLmodel flavors are not mappings")
    check_code(folder, meta.flavors)
    loader = (meta.flavors.get("python_function") or {}).get("loader_module")
    loaders: dict[str, tuple[str, Callable[[Path, Any], Any]]] = {
        SKLEARN_LOADER: (SKOPS_FORMAT, _skops_model),
        **dict.fromkeys(CRMFLOW_LOADERS, (JSON_FORMAT, _crmflow_model)),
    }
    if loader not in loaders:
        raise RefusedModel(
            f"its python_function.loader_module '{loader}' is not one crmflow writes ({', '.join(loaders)})"
        )
    expected, load = loaders[loader]
    if marker.get("format") != expected:
        raise RefusedModel(f"its crmflow format '{marker.get('format')}' does not match loader_module '{loader}'")
    try:
        model = PyFuncModel(model_meta=meta, model_impl=load(folder, meta), model_id=meta.model_id)
    except (OSError, ValueError, KeyError, TypeError, BadZipFile) as error:
        if isinstance(error, ConfigError):
            raise
        raise ConfigError(f"{KEY}: cannot load '{uri}': {_first_line(error)}") from error
    model.input_example = _input_example(folder, meta)
    return model


def _input_example(folder: Path, meta: Any) -> Any:
    """The saved input example (JSON, read as data), or None when there is none or it is unreadable."""
    from mlflow.exceptions import MlflowException

    try:
        return meta.load_input_example(path=str(folder))
    except (MlflowException, OSError, ValueError, KeyError, TypeError):
        return None


def check_code(folder: Path, flavors: dict[str, Any]) -> None:
    """RefusedModel unless every flavor's `code` is crmflow's own `code` folder holding only the crmflow package."""
    for name, conf in flavors.items():
        code = conf.get("code")
        if code is not None and code != CODE_FOLDER:
            raise RefusedModel(f"its {name}.code is '{code}', not the '{CODE_FOLDER}' folder crmflow writes")
    code_dir = folder / CODE_FOLDER
    foreign = sorted(p.name for p in code_dir.iterdir() if p.name != "crmflow") if code_dir.is_dir() else []
    if foreign:
        raise RefusedModel(f"its code folder holds {', '.join(foreign[:5])} besides crmflow's own package")


def trusted_class(name: Any) -> bool:
    """Whether `name` is exactly the qualified name of a class defined in crmflow or scikit-learn, or in MODEL_TYPES.

    Functions, re-exports (`sklearn.utils._testing.check_output` is `subprocess.check_output`) and
    other packages are refused; the module is imported only once its name passes the prefix check.
    """
    if not isinstance(name, str) or not (name.startswith(MODEL_PACKAGES) or name in MODEL_TYPES):
        return False
    module_name, _, attribute = name.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), attribute, None)
    except ImportError:
        return False
    return inspect.isclass(found) and f"{found.__module__}.{found.__qualname__}" == name


def check_trusted_types(needed: list[str], listed: Any) -> list[str]:
    """The exact types to trust: those the skops file needs; RefusedModel when one of them, or of
    the MLmodel's own `skops_trusted_types`, is not a crmflow or scikit-learn class."""
    listed = listed if isinstance(listed, list) else [listed] if listed else []
    refused = sorted({str(t) for t in [*needed, *listed] if not trusted_class(t)})
    if refused:
        raise RefusedModel(
            f"its skops model asks to trust {', '.join(refused[:5])}, which "
            f"{'is not a class' if len(refused) == 1 else 'are not classes'} crmflow trusts (classes defined in "
            f"crmflow or scikit-learn, and {', '.join(MODEL_TYPES)})"
        )
    return sorted(set(needed))


def _skops_model(folder: Path, meta: Any) -> SklearnModel:
    import skops.io

    flavor = meta.flavors.get("sklearn") or {}
    serialization = flavor.get("serialization_format")
    if serialization != SKOPS_FORMAT:
        raise RefusedModel(f"its scikit-learn model is stored with {serialization}, which loads through pickle")
    path = inside(folder, flavor.get("pickled_model"), "sklearn.pickled_model")
    trusted = check_trusted_types(skops.io.get_untrusted_types(file=path), flavor.get("skops_trusted_types"))
    return SklearnModel(skops.io.load(path, trusted=trusted))


def _crmflow_model(folder: Path, meta: Any) -> Any:
    flavor = meta.flavors["python_function"]
    module = importlib.import_module(flavor["loader_module"])  # one of CRMFLOW_LOADERS, from the installed crmflow
    return module._load_pyfunc(str(inside(folder, flavor.get("data"), "python_function.data")))


def inside(folder: Path, relative: Any, key: str) -> Path:
    """`folder / relative`, refusing a path that is missing or leads out of the model folder."""
    if not isinstance(relative, str) or not relative:
        raise RefusedModel(f"its MLmodel has no {key}")
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise RefusedModel(f"its {key} '{relative}' points outside the model folder")
    return path


def _download(uri: str, tracking_uri: str) -> Path:
    """The model's local folder: a local path as is, else downloaded by MLflow (runs:/, models:/, ...)."""
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    try:  # MLflow 3.17 resolves runs:/ and models:/ to a LoggedModel with the process-wide URI: set it meanwhile
        with _use_tracking_uri(tracking_uri):
            return Path(download_artifacts(artifact_uri=uri, tracking_uri=tracking_uri))
    except (MlflowException, OSError) as error:
        raise ConfigError(f"{KEY}: cannot load '{uri}' (tracking URI {tracking_uri}): {_first_line(error)}") from error


def _read_mlmodel(folder: Path, uri: str) -> Any:
    """The folder's MLmodel (YAML, read safely); a ConfigError when it has none."""
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    if not (folder / "MLmodel").is_file():
        raise ConfigError(f"{KEY}: cannot load '{uri}': it has no MLmodel file (is it an MLflow model folder?)")
    try:
        return Model.load(str(folder))
    except (MlflowException, OSError, ValueError, TypeError) as error:
        raise ConfigError(f"{KEY}: cannot load '{uri}': its MLmodel is unreadable: {_first_line(error)}") from error


def _pickle_allowed() -> AbstractContextManager[None]:
    """Let MLflow deserialize for one load the user asked for (allow_pickle=true); restore the setting after."""
    return environment("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")


def _load_with_mlflow(folder: Path, uri: str) -> Any:
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    try:
        with _pickle_allowed():
            return mlflow.pyfunc.load_model(str(folder))
    except (MlflowException, OSError, ImportError) as error:
        raise ConfigError(f"{KEY}: cannot load '{uri}': {_first_line(error)}") from error


def _first_line(error: BaseException) -> str:
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
