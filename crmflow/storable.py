"""Keep models storable by skops, so crmflow never needs pickle to log them.

skops refuses a few estimator types outright (scikit-learn's Birch, even unfitted). An estimator
that holds one as a parameter stores it as its class name and parameters instead (`as_storable`)
and rebuilds it on load (`from_storable`), accepting only scikit-learn-style estimator classes
defined in crmflow or scikit-learn, with plain parameter values.
"""

from __future__ import annotations

from typing import Any

SPEC_KEY = "__crmflow_estimator__"
PLAIN = (str, int, float, bool, type(None))


def skops_storable(model: Any) -> bool:
    """Whether skops can store the model (fitted or not)."""
    import skops.io
    from skops.io.exceptions import UnsupportedTypeException

    try:
        skops.io.dumps(model)
    except UnsupportedTypeException:
        return False
    return True


def as_storable(estimator: Any) -> Any:
    """The estimator itself when skops can store it, else `{SPEC_KEY: class name, "params": ...}`.

    An estimator whose parameters are not plain values or estimators is returned as is (logging it
    then fails with a message that names the type).
    """
    from sklearn.base import BaseEstimator

    if not isinstance(estimator, BaseEstimator) or skops_storable(estimator):
        return estimator
    params = estimator.get_params(deep=False)
    if not all(isinstance(v, (*PLAIN, BaseEstimator)) for v in params.values()):
        return estimator
    cls = type(estimator)
    return {SPEC_KEY: f"{cls.__module__}.{cls.__qualname__}", "params": {k: as_storable(v) for k, v in params.items()}}


def from_storable(value: Any) -> Any:
    """Rebuild what `as_storable` stored; anything else is returned as is."""
    if not (isinstance(value, dict) and SPEC_KEY in value):
        return value
    import importlib

    from sklearn.base import BaseEstimator

    from crmflow.model_loading import trusted_class

    name, params = value[SPEC_KEY], value.get("params")
    if not trusted_class(name) or not isinstance(params, dict):
        raise TypeError(f"refusing to rebuild '{name}': not an estimator class of crmflow or scikit-learn")
    module, _, attribute = name.rpartition(".")
    cls = getattr(importlib.import_module(module), attribute)
    if not issubclass(cls, BaseEstimator):
        raise TypeError(f"refusing to rebuild '{name}': not a scikit-learn-style estimator")
    rebuilt = {k: from_storable(v) for k, v in params.items()}
    if not all(isinstance(v, (*PLAIN, BaseEstimator)) for v in rebuilt.values()):
        raise TypeError(f"refusing to rebuild '{name}': its parameters must be plain values or estimators")
    return cls(**rebuilt)
