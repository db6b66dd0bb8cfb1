"""Timestamps from a file column, always tz-naive: date text (a strftime format, or inferred), Unix epoch
numbers (only with an explicit unit) and UTC offsets (one offset is kept as written; mixed offsets only
with a zone to convert them to). Pure functions; errors are `DataError` naming the key and the fix.

Why mixed offsets are refused rather than read as UTC: features, baskets (customer + day) and daily
forecasts depend on where midnight falls, so the zone is the user's choice, not a silent default.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Hashable

import pandas as pd
from pandas.tseries.api import guess_datetime_format

from crmflow.errors import DataError

__all__ = ["EPOCH_UNITS", "epoch_unit", "parse_epochs", "parse_timestamps", "to_naive", "utc_offsets"]

# Unix epoch unit -> the number of units in one second
EPOCH_UNITS: dict[str, int] = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}
UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}
# a guessed unit must put the median value between these dates (the ranges of the units do not overlap)
PLAUSIBLE = (pd.Timestamp("1980-01-01"), pd.Timestamp("2100-01-01"))
_EPOCH = pd.Timestamp("1970-01-01")
# a UTC offset after a time of day: "10:00:00+01:00", "10:00+0100", "10:00:00.5Z" (not the "-01" of a date)
_OFFSET = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)\s*$")
ZONE_EXAMPLE = "e.g. UTC or Europe/Berlin"


def to_naive(values: pd.Series, timezone: str | None = None) -> pd.Series:
    """Tz-aware times as wall-clock times: converted to `timezone` first when it is set, else as written."""
    if getattr(values.dt, "tz", None) is None:
        return values
    return (values.dt.tz_convert(timezone) if timezone else values).dt.tz_localize(None)


def utc_offsets(values: pd.Series) -> pd.Series:
    """Per row, the UTC offset written after the time ("+01:00"; "Z" is "+00:00"), else missing."""
    found = values.astype("string").str.extract(_OFFSET, expand=False)
    found = found.str.replace(r"^Z$", "+00:00", regex=True)
    return found.str.replace(r"^([+-]\d{2}):?(\d{2})?$", lambda m: f"{m[1]}:{m[2] or '00'}", regex=True)


def _mixed_offsets(values: pd.Series, offsets: pd.Series, key: str, timezone_key: str) -> DataError:
    counts = offsets.value_counts()
    found = ", ".join(f"{offset} in {n} rows" for offset, n in counts.head(4).items())
    found += ", ..." if len(counts) > 4 else ""
    if plain := int((offsets.isna() & values.notna()).sum()):
        found += f", none in {plain} rows" if found else f"e.g. {values.dropna().iloc[0]!r}"
    return DataError(
        f"{key}: column '{values.name}' mixes UTC offsets ({found}); set {timezone_key} to the zone to convert "
        f"them to ({ZONE_EXAMPLE}; values without an offset are taken to be in it)"
    )


def _is_mixed(error: ValueError) -> bool:
    text = str(error).lower()
    return "mixed timezones" in text or "mixed time zones" in text


def _to_datetime(values: pd.Series, fmt: str | None, utc: bool = False) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 2.2 warns (and returns objects) where 3.x raises on mixed offsets
        parsed = pd.to_datetime(values, format=fmt, errors="coerce", utc=utc)
    if parsed.dtype == object:
        raise ValueError("Mixed timezones detected")
    return parsed


def _parse_text(values: pd.Series, fmt: str | None, key: str, timezone: str | None, timezone_key: str) -> pd.Series:
    """Date text to naive times. Without offsets, as written; one offset and no `timezone`, as written too;
    with `timezone`, rows with an offset are converted to it and the others taken to be in it."""
    try:
        parsed = _to_datetime(values, fmt)
    except ValueError as exc:
        if not _is_mixed(exc):
            raise
        parsed = None
    if parsed is not None and (parsed.dt.tz is None or timezone is None):
        return to_naive(parsed)  # the common case costs one to_datetime: the offsets are only read when present
    offsets = utc_offsets(values)
    if timezone is None:
        raise _mixed_offsets(values, offsets, key, timezone_key)
    aware = offsets.notna().to_numpy()
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]", name=values.name)
    try:
        if aware.any():
            out[aware] = to_naive(_to_datetime(values[aware], fmt, utc=True), timezone).astype("datetime64[ns]")
        if not aware.all():
            # naive unless pandas reads a zone the offset pattern does not (e.g. "10:00 UTC"): then converted too
            out[~aware] = to_naive(_to_datetime(values[~aware], fmt), timezone).astype("datetime64[ns]")
    except ValueError as exc:  # zone names such as "CET" beside "UTC", which the offset pattern does not read
        if not _is_mixed(exc):
            raise
        raise _mixed_offsets(values, offsets, key, timezone_key) from exc
    return out


def epoch_unit(values: pd.Series) -> str | None:
    """The Unix epoch unit that puts the median of the numbers between 1980 and 2100, or None."""
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    if numbers.empty:
        return None
    median = float(numbers.median())
    low, high = ((bound - _EPOCH).total_seconds() for bound in PLAUSIBLE)
    return next((unit for unit, per_second in EPOCH_UNITS.items() if low <= median / per_second < high), None)


def parse_epochs(values: pd.Series, unit: str, key: str, unit_key: str, timezone: str | None = None) -> pd.Series:
    """Unix epoch numbers (UTC) in `unit` as naive times, in `timezone` when it is set (else UTC)."""
    blank = values.astype("string").str.strip().eq("").fillna(False)
    numbers = pd.to_numeric(values.mask(blank), errors="coerce")
    bad = numbers.isna() & values.notna() & ~blank
    if bad.any():
        raise DataError(
            f"{key}: {int(bad.sum())} of {len(values)} values in column '{values.name}' are not numbers, "
            f"as {unit_key}={unit} expects; e.g. {values[bad].iloc[0]!r}"
        )
    guess = epoch_unit(numbers)
    try:
        parsed = pd.to_datetime(numbers, unit=unit)
    except (OverflowError, ValueError) as exc:  # OutOfBoundsDatetime is a ValueError
        raise DataError(
            f"{key}: column '{values.name}' read as Unix times in {UNIT_NAMES[unit]} ({unit_key}={unit}) goes "
            f"past the year 2262 (e.g. {numbers.abs().max():.6g}); {_unit_fix(numbers, unit_key)}"
        ) from exc
    if guess not in (None, unit):  # another unit puts them in 1980-2100, this one does not
        raise DataError(
            f"{key}: column '{values.name}' read as Unix times in {UNIT_NAMES[unit]} ({unit_key}={unit}) spans "
            f"{_span(parsed)}; {_unit_fix(numbers, unit_key)}"
        )
    return to_naive(parsed.dt.tz_localize("UTC"), timezone) if timezone else parsed


def _span(times: pd.Series) -> str:
    low, high = times.min(), times.max()
    return "no dates" if pd.isna(low) else f"{low.date()} to {high.date()}"


def _unit_fix(numbers: pd.Series, unit_key: str) -> str:
    guess = epoch_unit(numbers)
    if guess is None:
        return f"set {unit_key} to the unit of the numbers ({', '.join(EPOCH_UNITS)})"
    times = pd.to_datetime(numbers, unit=guess, errors="coerce")
    return f"they look like {UNIT_NAMES[guess]} ({_span(times)}): set {unit_key}: {guess}"


def _yyyymmdd(numbers: pd.Series) -> bool:
    """Whether every number is a date written as digits, like 20240131."""
    present = numbers.dropna()
    if present.empty or not present.eq(present.round()).all():
        return False
    text = present.astype("int64").astype("str")
    return bool(pd.to_datetime(text, format="%Y%m%d", errors="coerce").notna().all())


def _numbers_error(values: pd.Series, key: str, format_key: str, unit_key: str) -> DataError:
    numbers = pd.to_numeric(values, errors="coerce")
    example = f"{numbers.dropna().iloc[0]:.15g}"
    if _yyyymmdd(numbers):
        fix = f"they look like dates written as digits: set {format_key}: '%Y%m%d'"
    elif epoch_unit(numbers) is not None:
        fix = f"if they are Unix epoch times, {_unit_fix(numbers, unit_key)}"
    else:
        fix = f"if they are Unix epoch times set {unit_key} to their unit ({', '.join(EPOCH_UNITS)})"
    return DataError(
        f"{key}: column '{values.name}' holds numbers ({values.dtype}), not dates, e.g. {example}; "
        f"they would be read as nanoseconds after 1970; {fix}"
    )


def _expected_format(values: pd.Series, fmt: str | None) -> str:
    """The configured format, or the one pandas infers from the first value, for error messages."""
    if fmt is not None:
        return f"format '{fmt}'"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        guessed = guess_datetime_format(str(values.dropna().iloc[0]))
    return f"format '{guessed}' (inferred from the first value)" if guessed else "a date"


def _mostly_numbers(values: pd.Series) -> bool:
    """Numbers, or text of which at least half the values are numbers: read as epochs when a unit is set
    (the rest are then named as not numbers); other text is date text, so one unit can serve a table."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return True
    text = values.astype("string").str.strip()
    present = text[text.notna() & text.ne("")]
    return not present.empty and bool(pd.to_numeric(present, errors="coerce").notna().mean() >= 0.5)


def _digits(values: pd.Series) -> pd.Series:
    """Numbers as digit text (20240131.0 -> "20240131"), so a strftime format can read them."""
    if pd.api.types.is_float_dtype(values) and values.dropna().eq(values.dropna().round()).all():
        values = values.astype("Int64")
    return values.astype("string")


def parse_timestamps(
    values: pd.Series,
    fmt: str | None,
    key: str,
    format_key: str = "timestamp_format",
    *,
    unit: str | None = None,
    unit_key: str = "timestamp_unit",
    timezone: str | None = None,
    timezone_key: str = "timezone",
) -> pd.Series:
    """Naive datetimes from datetimes, date text (strftime `fmt`, None = infer) or epoch numbers (`unit`;
    a column of date text is still read as text).

    Numbers without `unit` or `fmt` are refused (pandas would read them as nanoseconds after 1970), with
    the unit or format they look like; unparsable text fails with the count, an example and the format.
    """
    name: Hashable = values.name
    if pd.api.types.is_datetime64_any_dtype(values):
        return to_naive(values, timezone)
    if unit is not None and _mostly_numbers(values):
        return parse_epochs(values, unit, key, unit_key, timezone)
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and values.notna().any():
        if fmt is None:
            raise _numbers_error(values, key, format_key, unit_key)
        values = _digits(values)
    parsed = _parse_text(values, fmt, key, timezone, timezone_key)
    bad = parsed.isna() & values.notna() & values.astype("str").str.strip().ne("")
    if bad.any():
        raise DataError(
            f"{key}: {int(bad.sum())} of {len(values)} values in column '{name}' cannot be parsed "
            f"as {_expected_format(values, fmt)}; e.g. {values[bad].iloc[0]!r}; set {format_key} to the strftime format"
        )
    return parsed.rename(name)
