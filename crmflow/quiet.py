"""Keep a run's output to crmflow's own lines: the known hints of MLflow and statsmodels whose cause crmflow
handles are filtered, unless `--verbose` (env CRMFLOW_VERBOSE=1) asks for everything. crmflow's own warnings,
and any other library's, are never hidden.

Each filter: (category, module regex, message regex, how crmflow handles the cause).
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Mapping

VERBOSE_ENV = "CRMFLOW_VERBOSE"  # as crmflow.cli sets it for --verbose
WARNING_FILTERS: tuple[tuple[type[Warning], str, str, str], ...] = (
    (
        UserWarning,
        r"mlflow\.",
        r"Hint: Inferred schema contains integer column",
        "integer inputs are logged as floats (crmflow.tracking.models, crmflow.tracking.datasets)",
    ),
    (
        Warning,
        r"statsmodels\.",
        r"(No frequency information was provided|A date index has been provided, but it has no associated frequency)",
        "a forecaster's series is checked for a regular DatetimeIndex, its frequency set (crmflow.forecasting)",
    ),
    (
        Warning,
        r"statsmodels\.",
        r"Maximum Likelihood optimization failed to converge|Non-(stationary|invertible) starting",
        "each trial is scored on held-out error and a fit's warnings are kept as notes (crmflow.forecasting.base)",
    ),
)
LOG_FILTERS = (  # (logger, message regex): MLflow's notes on what crmflow asked of it
    ("mlflow.pyfunc", r"^Validating input example against model signature"),
    ("mlflow.models.model", r"^Validating input example against model signature"),
)


class _Drop(logging.Filter):
    """Drops the records whose message matches."""

    def __init__(self, pattern: str) -> None:
        super().__init__()
        self.pattern = re.compile(pattern)

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.search(record.getMessage())


def quiet(environ: Mapping[str, str] | None = None) -> bool:
    """Apply the filters (idempotent) unless CRMFLOW_VERBOSE=1; whether they are applied."""
    if (os.environ if environ is None else environ).get(VERBOSE_ENV) == "1":
        return False
    for category, module, message, _ in WARNING_FILTERS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
    for name, pattern in LOG_FILTERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, _Drop) and f.pattern.pattern == pattern for f in target.filters):
            target.addFilter(_Drop(pattern))
    return True
