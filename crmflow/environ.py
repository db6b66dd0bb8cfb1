"""Setting an environment variable for the length of one call: MLflow reads some switches only from there."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

SWEEP_JOB_ENV = "CRMFLOW_SWEEP_JOB"  # "1" in a job of a --multirun sweep: jobs may share one terminal


@contextmanager
def environment(name: str, value: str) -> Iterator[None]:
    """`name=value` meanwhile; the previous value (or its absence) restored after."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous
