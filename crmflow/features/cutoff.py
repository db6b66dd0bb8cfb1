"""Whether a cutoff can split the transaction log into features (on or before it) and a target (after it).

`check_cutoff` runs before any feature is computed and says what is wrong in the user's terms: the data
spans one day, the horizon is longer than the data, or the cutoff lies outside the data's date range,
with the dates that would work. A cutoff whose horizon runs past the data is allowed, with a warning.
"""

from __future__ import annotations

import logging

import pandas as pd

from crmflow.errors import DataError

__all__ = ["check_cutoff", "default_cutoff", "valid_cutoffs"]

logger = logging.getLogger(__name__)


def default_cutoff(timestamps: pd.Series, horizon_days: int) -> pd.Timestamp:
    """The last day of the data minus the label horizon (`features.cutoff: null`)."""
    return timestamps.max().normalize() - pd.Timedelta(days=horizon_days)


def valid_cutoffs(timestamps: pd.Series) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first and last cutoff day with a transaction on or before it and one after it."""
    return timestamps.min().ceil("D"), timestamps.max().ceil("D") - pd.Timedelta(days=1)


def _span(first: pd.Timestamp, last: pd.Timestamp) -> str:
    return f"the data spans {first.date()} to {last.date()}"


def _longest_horizon(times: pd.Series) -> int:
    """The longest horizon the default cutoff works with (0 when none does)."""
    return max(0, int((times.max().normalize() - valid_cutoffs(times)[0]) / pd.Timedelta(days=1)))


def _shorter_horizon(times: pd.Series) -> str:
    longest = _longest_horizon(times)
    return f"set features.horizon_days to at most {longest}" if longest else "use a longer transaction log"


def _fix(times: pd.Series, horizon_days: int) -> str:
    """Which cutoffs work: up to last day - horizon_days; with data shorter than the horizon, a shorter horizon too."""
    earliest, latest = valid_cutoffs(times)
    default = default_cutoff(times, horizon_days)
    if default >= earliest:
        return f"set features.cutoff between {earliest.date()} and {default.date()} (last day - horizon_days), or null"
    if not _longest_horizon(times):
        return "use a longer transaction log"
    return (
        f"the data is shorter than features.horizon_days={horizon_days}: {_shorter_horizon(times)} and "
        f"features.cutoff to null (or a day from {earliest.date()} to {latest.date()})"
    )


def check_cutoff(timestamps: pd.Series, cutoff: pd.Timestamp, horizon_days: int, configured: bool) -> None:
    """A DataError naming `features.cutoff` (or `features.horizon_days` for the default cutoff) unless
    some transaction is on or before `cutoff` and some after it; a warning when the horizon outruns the data."""
    times = timestamps.dropna()
    first, last = times.min(), times.max()
    if first.normalize() == last.normalize():
        raise DataError(
            f"features: all {len(times)} transactions are on one day ({first.date()}); features=rfm needs purchases "
            "on or before features.cutoff and in the features.horizon_days after it, so at least two days of data"
        )
    if not times.le(cutoff).any() and not configured:
        raise DataError(
            f"features.horizon_days: {horizon_days} days is longer than the data (it spans {first.date()} to "
            f"{last.date()}), so the default cutoff {cutoff.date()} (last day - horizon_days) is before the first "
            f"transaction; {_shorter_horizon(times)}"
        )
    if not times.le(cutoff).any():
        raise DataError(
            f"features.cutoff: {cutoff.date()} is before the first transaction ({_span(first, last)}); "
            f"{_fix(times, horizon_days)}"
        )
    if not times.gt(cutoff).any():
        raise DataError(
            f"features.cutoff: {cutoff.date()} is on or after the last transaction ({_span(first, last)}), so no "
            f"purchases follow it to make the target from; {_fix(times, horizon_days)}"
        )
    end = cutoff + pd.Timedelta(days=horizon_days)
    if end > last:
        logger.warning(
            "features.cutoff: the %d-day horizon after %s ends on %s, after the last transaction (%s): customers "
            "who buy only after the data ends count as churned; %s",
            horizon_days, cutoff.date(), end.date(), last.date(), _fix(times, horizon_days),
        )  # fmt: skip
