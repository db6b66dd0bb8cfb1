"""Timestamp parsing on a few values whose answers are known: epoch units, UTC offsets, time zones.

Epoch checks: 1_700_000_000 s is 2023-11-14 22:13:20 UTC (23:13:20 in Berlin, CET +01:00); 1_688_169_600 s is
2023-07-01 00:00 UTC (02:00 in Berlin, CEST +02:00); 315_532_800 s is 1980-01-01 and 4_102_444_800 s 2100-01-01.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmflow.data.timestamps import epoch_unit, parse_epochs, parse_timestamps, utc_offsets
from crmflow.errors import DataError

T = pd.Timestamp


def series(values: list, name: str = "ts") -> pd.Series:
    return pd.Series(values, name=name)


# --- epoch numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "unit"),
    [
        ([1_700_000_000], "s"),
        ([1_700_000_000_000], "ms"),
        ([1_700_000_000_000_000], "us"),
        ([1_700_000_000_000_000_000], "ns"),
        ([315_532_800], "s"),  # 1980-01-01: the first plausible second
        ([4_102_444_800], None),  # 2100-01-01 in seconds is past the plausible range, and too small as ms
        ([86_400], None),  # 1970-01-02
        ([20240131], None),  # a date written as digits, not an epoch
        ([1_700_000_000, None, 1_700_000_100], "s"),
        ([], None),
    ],
)
def test_epoch_unit_is_the_one_that_gives_1980_to_2100(values: list, unit: str | None) -> None:
    assert epoch_unit(series(values, "t")) == unit


def test_parse_epochs_in_seconds_and_milliseconds() -> None:
    out = parse_epochs(series([0, 86_400, 1_700_000_000, None]), "s", "k", "u")
    assert out.iloc[:3].tolist() == [T("1970-01-01"), T("1970-01-02"), T("2023-11-14 22:13:20")]
    assert pd.isna(out.iloc[3])
    # the mixed values pass the plausibility check: their median is in 2023
    out = parse_epochs(series(["1700000000123", " ", "1700000000000"]), "ms", "k", "u")
    assert out.iloc[0] == T("2023-11-14 22:13:20.123") and pd.isna(out.iloc[1])


def test_parse_epochs_converts_utc_to_the_time_zone() -> None:
    out = parse_epochs(series([1_700_000_000, 1_688_169_600]), "s", "k", "u", timezone="Europe/Berlin")
    assert out.tolist() == [T("2023-11-14 23:13:20"), T("2023-07-01 02:00")]
    assert out.dt.tz is None


def test_parse_epochs_refuses_text_and_a_wrong_unit() -> None:
    with pytest.raises(DataError, match=r"^k: 1 of 2 values in column 'ts' are not numbers, as u=s expects; e.g. 'x'$"):
        parse_epochs(series(["1700000000", "x"]), "s", "k", "u")
    with pytest.raises(
        DataError,
        match=r"^k: column 'ts' read as Unix times in milliseconds \(u=ms\) spans 1970-01-20 to 1970-01-20; "
        r"they look like seconds \(2023-11-14 to 2023-11-14\): set u: s$",
    ):
        parse_epochs(series([1_700_000_000]), "ms", "k", "u")
    with pytest.raises(
        DataError, match=r"^k: column 'ts' read as Unix times in seconds \(u=s\) goes past the year 2262"
    ):
        parse_epochs(series([1e30]), "s", "k", "u")


def test_numbers_need_a_unit_or_a_format() -> None:
    with pytest.raises(
        DataError,
        match=r"^k: column 'ts' holds numbers \(int64\), not dates, e.g. 1700000000; they would be read as "
        r"nanoseconds after 1970; if they are Unix epoch times, they look like seconds \(2023-11-14 to "
        r"2023-11-14\): set u: s$",
    ):
        parse_timestamps(series([1_700_000_000]), None, "k", "f", unit_key="u")
    with pytest.raises(DataError, match=r"they look like dates written as digits: set f: '%Y%m%d'$"):
        parse_timestamps(series([20240131, 20231201]), None, "k", "f", unit_key="u")
    with pytest.raises(
        DataError, match=r"e.g. 5; .*if they are Unix epoch times set u to their unit \(s, ms, us, ns\)$"
    ):
        parse_timestamps(series([5, 6]), None, "k", "f", unit_key="u")


def test_numbers_with_a_format_or_a_unit_parse() -> None:
    assert parse_timestamps(series([20240131, 20231201]), "%Y%m%d", "k").tolist() == [T("2024-01-31"), T("2023-12-01")]
    out = parse_timestamps(series([20240131.0, np.nan]), "%Y%m%d", "k")  # a float column: blanks in the file
    assert out.iloc[0] == T("2024-01-31") and pd.isna(out.iloc[1])
    assert parse_timestamps(series([86_400]), None, "k", unit="s").tolist() == [T("1970-01-02")]


def test_an_empty_numeric_column_is_left_to_the_empty_column_check() -> None:
    assert parse_timestamps(series([np.nan, np.nan]), None, "k").isna().all()


# --- UTC offsets and time zones ------------------------------------------------------------------------


def test_utc_offsets_are_read_after_a_time_only() -> None:
    values = series(
        ["2024-01-01T10:00:00+01:00", "2024-01-01T10:00:00Z", "2024-01-01 10:00+0530", "2024-01-01 10:00-05",
         "2024-01-01", "2024-01-01 10:00:00.25+02:00", None]
    )  # fmt: skip
    assert utc_offsets(values).tolist() == ["+01:00", "+00:00", "+05:30", "-05:00", pd.NA, "+02:00", pd.NA]


def test_one_offset_keeps_the_times_as_written() -> None:
    out = parse_timestamps(series(["2024-01-01T10:00:00+01:00", "2024-01-02T23:30:00+01:00"]), None, "k")
    assert out.tolist() == [T("2024-01-01 10:00"), T("2024-01-02 23:30")] and out.dt.tz is None


def test_mixed_offsets_are_refused_without_a_time_zone() -> None:
    values = series(["2024-01-01T10:00:00+01:00", "2024-07-01T10:00:00+02:00", "2024-07-02T10:00:00+02:00"])
    with pytest.raises(
        DataError,
        match=r"^k: column 'ts' mixes UTC offsets \(\+02:00 in 2 rows, \+01:00 in 1 rows\); set tz to the zone to "
        r"convert them to \(e.g. UTC or Europe/Berlin; values without an offset are taken to be in it\)$",
    ):
        parse_timestamps(values, None, "k", timezone_key="tz")


def test_mixed_offsets_are_converted_to_the_time_zone() -> None:
    values = series(["2024-01-01T10:00:00+01:00", "2024-07-01T10:00:00+02:00", "2024-07-01T23:30:00Z"])
    assert parse_timestamps(values, None, "k", timezone="UTC").tolist() == [
        T("2024-01-01 09:00"), T("2024-07-01 08:00"), T("2024-07-01 23:30"),
    ]  # fmt: skip
    # in Berlin the UTC evening purchase is on the next day
    assert parse_timestamps(values, "ISO8601", "k", timezone="Europe/Berlin").tolist() == [
        T("2024-01-01 10:00"), T("2024-07-01 10:00"), T("2024-07-02 01:30"),
    ]  # fmt: skip


def test_values_without_an_offset_are_taken_to_be_in_the_time_zone() -> None:
    values = series(["2024-07-01T10:00:00Z", "2024-07-01T10:00:00"])
    out = parse_timestamps(values, "ISO8601", "k", timezone="Europe/Berlin")
    assert out.tolist() == [T("2024-07-01 12:00"), T("2024-07-01 10:00")]


def test_aware_datetimes_become_wall_clock_times() -> None:
    aware = series(pd.to_datetime(["2024-01-01 10:00", "2024-07-01 10:00"]).tz_localize("UTC"))
    assert parse_timestamps(aware, None, "k").tolist() == [T("2024-01-01 10:00"), T("2024-07-01 10:00")]
    berlin = parse_timestamps(aware, None, "k", timezone="Europe/Berlin")
    assert berlin.tolist() == [T("2024-01-01 11:00"), T("2024-07-01 12:00")] and berlin.dt.tz is None


def test_a_zone_name_pandas_reads_is_converted_too() -> None:
    values = series(["2024-07-01 10:00:00 UTC", "2024-07-02 10:00:00 UTC"])
    assert parse_timestamps(values, None, "k").tolist() == [T("2024-07-01 10:00"), T("2024-07-02 10:00")]
    assert parse_timestamps(values, None, "k", timezone="Europe/Berlin").tolist() == [
        T("2024-07-01 12:00"), T("2024-07-02 12:00"),
    ]  # fmt: skip
