"""A fitted value model as an MLflow pyfunc model that needs no pickle: JSON parameters plus this loader module.

The JSON holds the purchase model's class and fitted parameters, the spend model's (if any), and how the run
summarised and scored its customers (time unit, same-day merging, horizon, CLV months, discount rate, margin).
`predict` takes customer summaries (frequency, recency, T, and monetary_value with a spend model) and returns
expected purchases, P(alive), expected spend and CLV. `inputs_at(transactions, cutoff)` builds those summaries
from a raw log as the run did, so `crmflow predict transactions=... as_of=...` scores a value model too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from crmflow.config.components import resolve_target
from crmflow.config.validation import validate
from crmflow.errors import ConfigError
from crmflow.value.base import SUMMARY_COLUMNS, PurchaseModel
from crmflow.value.estimator import NO_SPEND, SPEND_MODELS, CustomerValue
from crmflow.value.settings import ValueSettings
from crmflow.value.summary import CALENDAR_DAY, customer_summary

__all__ = ["DATA_FILE", "LOADER_MODULE", "ValueModel", "ValueScoring"]

LOADER_MODULE = "crmflow.value.pyfunc"
DATA_FILE = "value_model.json"
FORMAT, VERSION = "crmflow.value", 1
KEY = "predict.model"


@dataclass(frozen=True)
class ValueScoring:
    """How the run summarised its customers and turned the fitted models into per-customer values."""

    time_unit: str
    merge_same_day: bool
    horizon: float  # periods of time_unit: expected_purchases
    clv_months: int
    discount_rate: float  # monthly
    margin: float


class ValueModel:
    """`predict(summaries)`: expected_purchases, p_alive (and expected_spend, clv) per row, in the input's order."""

    loader_module = LOADER_MODULE

    def __init__(self, fitted: CustomerValue, scoring: ValueScoring) -> None:
        self.fitted = fitted
        self.scoring = scoring

    @property
    def input_columns(self) -> list[str]:
        return [*SUMMARY_COLUMNS, *(["monetary_value"] if self.fitted.spend_ is not None else [])]

    def predict(self, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        s = self.scoring
        summary = pd.DataFrame(model_input)[self.input_columns]
        table = self.fitted.customer_table(summary, s.horizon, s.clv_months, s.discount_rate, s.margin, s.time_unit)
        return table.drop(columns=summary.columns).reset_index(drop=True)

    def inputs_at(self, transactions: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
        """Each customer's summary as of the day before `cutoff` (as a run with the default calibration end)."""
        end = pd.Timestamp(cutoff).normalize() - CALENDAR_DAY
        s = self.scoring
        amount = "amount" if self.fitted.spend_ is not None else None
        summary = customer_summary(
            transactions, end, time_unit=s.time_unit, merge_same_day=s.merge_same_day, amount_col=amount,
            end_after_data=True,
        )  # fmt: skip
        return summary.set_axis(summary.index.astype(str))

    def get_raw_model(self) -> ValueModel:
        return self

    def save(self, folder: Path) -> Path:
        """Write the JSON state into `folder`; return its path (MLflow copies it into the model's data/)."""
        path = Path(folder) / DATA_FILE
        path.write_text(json.dumps(value_state(self), indent=1))
        return path


def _model_state(model: Any) -> dict[str, Any]:
    cls = type(model)
    return {"class": f"{cls.__module__}.{cls.__qualname__}", "penalizer": float(model.penalizer), **_learned(model)}


def _learned(model: Any) -> dict[str, Any]:
    return {"params": dict(model.params_), "log_likelihood": model.log_likelihood_, "n_customers": model.n_customers_}


def value_state(model: ValueModel) -> dict[str, Any]:
    """The JSON-ready state of a fitted value model."""
    fitted = model.fitted
    spend = None if fitted.spend_ is None else {"name": fitted.spend, **_model_state(fitted.spend_)}
    return {
        "format": FORMAT,
        "version": VERSION,
        "purchases": _model_state(fitted.purchases_),
        "spend": spend,
        "scoring": asdict(model.scoring),
    }


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{KEY}: the value model's {what} must be a finite number; got {value!r}")
    return float(value)


def _restore(state: Any, model: Any, what: str) -> Any:
    """Set a fresh model's learned attributes from its saved state, checking every parameter is there."""
    params = state.get("params") if isinstance(state, Mapping) else None
    if not isinstance(params, Mapping) or set(params) != set(model.param_names):
        raise ConfigError(f"{KEY}: the value model's {what} parameters must be {list(model.param_names)}")
    model.params_ = {name: _number(params[name], f"{what} parameter {name}") for name in model.param_names}
    model.log_likelihood_ = _number(state.get("log_likelihood"), f"{what} log-likelihood")
    model.n_customers_ = int(_number(state.get("n_customers"), f"{what} customer count"))
    model.converged_ = True
    return model


def restore_value_model(state: Any) -> ValueModel:
    """The ValueModel `value_state` wrote; ConfigError naming predict.model for anything else."""
    if not isinstance(state, Mapping) or state.get("format") != FORMAT or state.get("version") != VERSION:
        raise ConfigError(f"{KEY}: not a crmflow value model (expected format '{FORMAT}' version {VERSION})")
    saved = state.get("purchases") if isinstance(state.get("purchases"), Mapping) else {}
    cls = resolve_target(saved.get("class"), KEY, field=": purchase model class")
    if not issubclass(cls, PurchaseModel):
        raise ConfigError(f"{KEY}: '{saved.get('class')}' is not a crmflow purchase model")
    purchases = _restore(saved, cls(penalizer=_number(saved.get("penalizer"), "penalizer")), "purchase model")
    spend_state = state.get("spend")
    spend_name = spend_state.get("name") if isinstance(spend_state, Mapping) else NO_SPEND
    if spend_state is not None and spend_name not in SPEND_MODELS:
        raise ConfigError(f"{KEY}: the value model's spend model must be one of {sorted(SPEND_MODELS)}")
    fitted = CustomerValue(purchases, spend=spend_name)
    fitted.purchases_ = purchases
    fitted.spend_ = None
    if spend_state is not None:
        spend = SPEND_MODELS[spend_name](penalizer=_number(spend_state.get("penalizer"), "spend penalizer"))
        fitted.spend_penalizer = spend.penalizer
        fitted.spend_ = _restore(spend_state, spend, "spend model")
    return ValueModel(fitted, _scoring(state.get("scoring")))


def _scoring(saved: Any) -> ValueScoring:
    fields = list(ValueScoring.__dataclass_fields__)
    if not isinstance(saved, Mapping) or set(saved) != set(fields):
        raise ConfigError(f"{KEY}: the value model's scoring settings must be {fields}")
    constraints = {k: v for k, v in ValueSettings.constraints.items() if k in fields}
    validate(dict(saved), constraints, f"{KEY}.scoring")
    return ValueScoring(**{name: saved[name] for name in fields})


def _load_pyfunc(data_path: str) -> ValueModel:
    """MLflow's loader-module entry point: the value model rebuilt from its JSON, without pickle."""
    try:
        state = json.loads(Path(data_path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"{KEY}: cannot read the value model's {DATA_FILE}: {error}") from None
    return restore_value_model(state)
