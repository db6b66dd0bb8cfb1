"""Which cutoffs split a log into features and a target, on logs of a few rows whose dates are known."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from crmflow.data.base import CRMData
from crmflow.errors import DataError
from crmflow.features.cutoff import check_cutoff, default_cutoff, valid_cutoffs
from crmflow.features.rfm import RFMFeatures

T = pd.Timestamp
# 2024-01-01 .. 2024-04-30: 120 days (31 + 29 + 31 + 30 - 1)
TIMES = pd.Series(pd.to_datetime(["2024-01-01", "2024-02-15", "2024-04-30"]), name="timestamp")


def test_valid_cutoffs_need_a_purchase_on_or_before_and_one_after() -> None:
    assert valid_cutoffs(TIMES) == (T("2024-01-01"), T("2024-04-29"))
    midday = pd.Series(pd.to_datetime(["2024-01-01 10:00", "2024-01-10 15:00"]))
    assert valid_cutoffs(midday) == (T("2024-01-02"), T("2024-01-10"))  # midnight is before 10:00, 00:00 < 15:00


def test_default_cutoff_is_the_last_day_minus_the_horizon() -> None:
    assert default_cutoff(TIMES, 90) == T("2024-01-31")
    assert default_cutoff(pd.Series(pd.to_datetime(["2024-04-30 18:00"])), 1) == T("2024-04-29")


def test_a_cutoff_inside_the_data_passes(caplog: pytest.LogCaptureFixture) -> None:
    check_cutoff(TIMES, T("2024-01-31"), 90, configured=True)
    assert not caplog.records


def test_one_day_of_data() -> None:
    times = pd.Series(pd.to_datetime(["2024-03-01 09:00", "2024-03-01 17:00"]))
    with pytest.raises(
        DataError,
        match=r"^features: all 2 transactions are on one day \(2024-03-01\); features=rfm needs purchases on or "
        r"before features.cutoff and in the features.horizon_days after it, so at least two days of data$",
    ):
        check_cutoff(times, T("2024-03-01"), 90, configured=True)


def test_a_cutoff_after_the_data_names_the_dates_that_work() -> None:
    with pytest.raises(
        DataError,
        match=r"^features.cutoff: 2024-06-01 is on or after the last transaction \(the data spans 2024-01-01 to "
        r"2024-04-30\), so no purchases follow it to make the target from; set features.cutoff between 2024-01-01 "
        r"and 2024-01-31 \(last day - horizon_days\), or null$",
    ):
        check_cutoff(TIMES, T("2024-06-01"), 90, configured=True)
    with pytest.raises(DataError, match=r"^features.cutoff: 2024-04-30 is on or after the last transaction"):
        check_cutoff(TIMES, T("2024-04-30"), 90, configured=True)  # the last purchase is at midnight: not after it


def test_a_cutoff_before_the_data_with_a_horizon_longer_than_the_data() -> None:
    with pytest.raises(
        DataError,
        match=r"^features.cutoff: 2023-06-01 is before the first transaction \(the data spans 2024-01-01 to "
        r"2024-04-30\); the data is shorter than features.horizon_days=200: set features.horizon_days to at most "
        r"120 and features.cutoff to null \(or a day from 2024-01-01 to 2024-04-29\)$",
    ):
        check_cutoff(TIMES, T("2023-06-01"), 200, configured=True)


def test_the_default_cutoff_before_the_data_names_the_horizon() -> None:
    with pytest.raises(
        DataError,
        match=r"^features.horizon_days: 200 days is longer than the data \(it spans 2024-01-01 to 2024-04-30\), so "
        r"the default cutoff 2023-10-13 \(last day - horizon_days\) is before the first transaction; set "
        r"features.horizon_days to at most 120$",
    ):
        check_cutoff(TIMES, default_cutoff(TIMES, 200), 200, configured=False)


def test_a_horizon_past_the_data_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="crmflow.features.cutoff"):
        check_cutoff(TIMES, T("2024-03-01"), 90, configured=True)
    (record,) = caplog.records
    assert "the 90-day horizon after 2024-03-01 ends on 2024-05-30, after the last transaction (2024-04-30)" in (
        record.getMessage()
    )


def test_the_builder_checks_the_cutoff_before_any_feature() -> None:
    log = pd.DataFrame({"customer_id": ["a", "b", "a"], "timestamp": TIMES, "amount": [1.0, 2.0, 3.0]})
    with pytest.raises(DataError, match=r"^features.cutoff: 2030-01-01 is on or after the last transaction"):
        RFMFeatures(cutoff="2030-01-01").build(CRMData("toy", transactions=log))


def test_a_configured_cutoff_is_midnight_in_the_zone_of_time_zone_aware_data() -> None:
    times = pd.to_datetime(["2024-01-01 23:30", "2024-02-29 23:30", "2024-03-01 00:30", "2024-06-01 12:00"])
    log = pd.DataFrame(
        {"customer_id": ["a", "a", "b", "b"], "timestamp": times.tz_localize("Europe/Berlin"), "amount": 1.0}
    )
    table = RFMFeatures(cutoff="2024-03-01", horizon_days=60).build(CRMData("toy", transactions=log))
    assert table.cutoff == pd.Timestamp("2024-03-01", tz="Europe/Berlin")
    assert list(table.X.index) == ["a"]  # b's first purchase, 00:30 in Berlin, is after the cutoff
