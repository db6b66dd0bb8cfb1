"""The value stage's one extra error: a model whose likelihood optimiser did not converge."""

from __future__ import annotations

from crmflow.errors import DataError

__all__ = ["FitError"]


class FitError(DataError):
    """Maximum likelihood failed on this data (the optimiser's message is in the text)."""
