"""A fitted forecaster as plain JSON, so it is logged and loaded without pickle.

The state names the forecaster's class (resolved on load through the `_target_` allow-list and
required to be a crmflow forecaster), its constructor parameters, the aggregated training series
(period start, frequency, totals: no customer rows) and its learned attributes. Loading refits the
forecaster on the series, which rebuilds its statsmodels model, then pins every learned attribute
to its saved value: plain values and arrays are set back, and statsmodels results are recomputed
from the saved parameters with the model's own fixed-parameter path, `model.smooth(params)` (the
step statsmodels' `fit` itself ends with), so the forecasts equal the logged forecaster's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from crmflow.config.components import resolve_target
from crmflow.errors import ConfigError
from crmflow.forecasting.base import Forecaster, quiet_single_threaded

FORMAT = "crmflow.forecaster"
VERSION = 1
PLAIN = (str, int, float, bool, type(None))


def forecaster_state(forecaster: Forecaster, series: pd.Series) -> dict[str, Any]:
    """The JSON-ready state of a forecaster fitted on `series`."""
    cls = type(forecaster)
    learned = {
        name: _encode(value, f"{cls.__name__}.{name}")
        for name, value in vars(forecaster).items()
        if name.endswith("_") and not name.startswith("_")
    }
    return {
        "format": FORMAT,
        "version": VERSION,
        "forecaster": f"{cls.__module__}.{cls.__qualname__}",
        "params": {k: _plain(v, f"{cls.__name__}.{k}") for k, v in forecaster.get_params(deep=False).items()},
        "series": series_state(series),
        "learned": learned,
    }


def restore_forecaster(state: Mapping[str, Any], key: str) -> tuple[Forecaster, pd.Series]:
    """The fitted forecaster and its training series from `forecaster_state`'s output; ConfigError naming `key`."""
    if not isinstance(state, Mapping) or state.get("format") != FORMAT or state.get("version") != VERSION:
        raise ConfigError(f"{key}: not a crmflow forecaster state (expected format '{FORMAT}' version {VERSION})")
    cls = resolve_target(state.get("forecaster"), key, field=": forecaster class")
    if not issubclass(cls, Forecaster):
        raise ConfigError(f"{key}: '{state['forecaster']}' is not a crmflow forecaster")
    params = state.get("params")
    if not isinstance(params, Mapping) or not all(isinstance(v, PLAIN) for v in params.values()):
        raise ConfigError(f"{key}: the forecaster's params must be a mapping of plain values")
    series = restore_series(state.get("series"), key)
    forecaster = cls(**params).fit(series)  # rebuilds the model; the saved state below replaces what it learnt
    for name, saved in dict(state.get("learned") or {}).items():
        if not name.endswith("_") or name.startswith("_"):
            raise ConfigError(f"{key}: '{name}' is not a learned attribute (a name ending in '_')")
        setattr(forecaster, name, _decode(saved, getattr(forecaster, name, None), f"{key}: {name}"))
    return forecaster, series


def series_state(series: pd.Series) -> dict[str, Any]:
    """A regular series as its name, first period, frequency and values."""
    index = series.index
    return {
        "name": None if series.name is None else str(series.name),
        "start": index[0].isoformat(),
        "freq": index.freqstr,
        "values": series.to_numpy(dtype="float64").tolist(),
    }


def restore_series(state: Any, key: str) -> pd.Series:
    try:
        values = np.asarray(state["values"], dtype="float64")
        index = pd.date_range(pd.Timestamp(state["start"]), periods=len(values), freq=state["freq"])
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigError(f"{key}: the forecaster's training series is malformed ({error})") from error
    return pd.Series(values, index=index, name=state.get("name"))


def _plain(value: Any, where: str) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if not isinstance(value, PLAIN):
        raise TypeError(f"forecaster: cannot save {where} ({type(value).__name__}) as JSON")
    return value


def _encode(value: Any, where: str) -> dict[str, Any]:
    """A learned attribute as a tagged JSON value."""
    from statsmodels.base.wrapper import ResultsWrapper

    if isinstance(value, ResultsWrapper):
        return {"kind": "statsmodels", "params": np.asarray(value.params, dtype="float64").tolist()}
    if isinstance(value, pd.DatetimeIndex):
        return {"kind": "periods", "start": value[0].isoformat(), "freq": value.freqstr, "periods": len(value)}
    if isinstance(value, np.ndarray):
        return {"kind": "array", "dtype": value.dtype.str, "values": value.tolist()}
    if isinstance(value, (list, tuple)):
        return {"kind": "list", "values": [_plain(v, where) for v in value]}
    return {"kind": "value", "value": _plain(value, where)}


def _decode(saved: Any, refit: Any, where: str) -> Any:
    """The saved value of a learned attribute; statsmodels results are recomputed from the refit's model."""
    kind = saved.get("kind") if isinstance(saved, Mapping) else None
    if kind == "statsmodels":
        if not hasattr(getattr(refit, "model", None), "smooth"):
            raise ConfigError(f"{where}: saved as statsmodels results, but the refit forecaster has none there")
        with quiet_single_threaded(where):
            return refit.model.smooth(np.asarray(saved["params"], dtype="float64"))
    if kind == "periods":
        return pd.date_range(pd.Timestamp(saved["start"]), periods=int(saved["periods"]), freq=saved["freq"])
    if kind == "array" and np.dtype(saved["dtype"]).kind in "biuf":  # numbers only, never object arrays
        return np.asarray(saved["values"], dtype=np.dtype(saved["dtype"]))
    if kind == "list":
        return list(saved["values"])
    if kind == "value" and isinstance(saved.get("value"), PLAIN):
        return saved["value"]
    raise ConfigError(f"{where}: unknown saved kind {kind!r} (expected statsmodels, periods, array, list or value)")
