"""The refit value model as the stage's logged model: JSON parameters (crmflow.value.pyfunc), never pickled."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmflow.stages.contract import LoggedModel, RunState
from crmflow.value.estimator import CustomerValue
from crmflow.value.pyfunc import ValueModel, ValueScoring

if TYPE_CHECKING:
    from crmflow.value.stage import ValueInput

__all__ = ["logged_value_model"]


def logged_value_model(fitted: CustomerValue, prepared: ValueInput, state: RunState) -> LoggedModel:
    """The fitted purchase (and spend) model with the run's scoring settings; its input rows are customer
    summaries (frequency as a float, so counts read from any table match the signature), no customer ids."""
    import scipy
    import sklearn

    s = prepared.settings
    scoring = ValueScoring(s.time_unit, s.merge_same_day, prepared.horizon, s.clv_months, s.discount_rate, s.margin)
    model = ValueModel(fitted, scoring)
    rows = prepared.summary[model.input_columns].astype({"frequency": float}).reset_index(drop=True)
    requirements = [f"scipy=={scipy.__version__}", f"scikit-learn=={sklearn.__version__}", "pandas", "numpy"]
    return LoggedModel(model, state.privacy.example(rows), "value_model", "pyfunc", requirements)
