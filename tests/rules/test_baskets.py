"""Baskets: grouping transactions, encoding, and the time split."""

from __future__ import annotations

import pandas as pd
import pytest

from crmflow.errors import ConfigError, DataError
from crmflow.rules import Baskets, baskets_from_transactions, encode_baskets


def _ts(*stamps: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(stamps)))


def _transactions(**columns: object) -> pd.DataFrame:
    frame = pd.DataFrame(columns)
    if "timestamp" in frame:
        frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    return frame


def test_basket_id_groups_lines_dedups_and_keeps_whitespace() -> None:
    tx = _transactions(
        basket_id=["b2", "b1", "b2", "b1", "b2", "b2"],
        customer_id=[7, 5, 7, 5, 7, 7],
        timestamp=["2024-01-02 10:00", "2024-01-03 09:00", "2024-01-02 08:00", "2024-01-03 11:00",
                   "2024-01-02 09:00", "2024-01-02 12:00"],
        item=["cream cheese ", "milk", "cream cheese", "milk", "cream cheese ", None],
    )  # fmt: skip
    baskets = baskets_from_transactions(tx)
    assert len(baskets) == 2
    assert baskets.items == [frozenset({"cream cheese ", "cream cheese"}), frozenset({"milk"})]
    assert list(baskets.timestamps) == list(pd.to_datetime(["2024-01-02 08:00", "2024-01-03 09:00"]))
    assert list(baskets.customer_ids) == [7, 5]


def test_without_basket_id_a_basket_is_customer_and_calendar_day() -> None:
    tx = _transactions(
        customer_id=[1, 1, 1, 2, 1],
        timestamp=["2024-03-01 09:00", "2024-03-01 18:30", "2024-03-02 08:00", "2024-03-01 09:00",
                   "2024-03-01 07:00"],
        item=["bread", "milk", "eggs", "bread", "bread"],
    )  # fmt: skip
    baskets = baskets_from_transactions(tx)
    assert baskets.items == [frozenset({"bread", "milk"}), frozenset({"eggs"}), frozenset({"bread"})]
    assert list(baskets.timestamps) == list(
        pd.to_datetime(["2024-03-01 07:00", "2024-03-02 08:00", "2024-03-01 09:00"])
    )
    assert list(baskets.customer_ids) == [1, 1, 2]


def test_all_null_basket_id_falls_back_to_customer_day() -> None:
    tx = _transactions(
        basket_id=[None, None, None], customer_id=[1, 1, 2],
        timestamp=["2024-03-01", "2024-03-01", "2024-03-01"], item=["a", "b", "c"],
    )  # fmt: skip
    assert baskets_from_transactions(tx).items == [frozenset({"a", "b"}), frozenset({"c"})]


def test_rows_missing_basket_id_fall_back_to_customer_day() -> None:
    tx = _transactions(
        basket_id=["x", None, None, "x"], customer_id=[1, 1, 1, 2],
        timestamp=["2024-03-01", "2024-03-01", "2024-03-01", "2024-03-05"], item=["a", "b", "c", "d"],
    )  # fmt: skip
    assert baskets_from_transactions(tx).items == [frozenset({"a", "d"}), frozenset({"b", "c"})]


def test_basket_id_without_timestamp_gives_no_timestamps() -> None:
    baskets = baskets_from_transactions(pd.DataFrame({"basket_id": [1, 1, 2], "item": ["a", "b", "a"]}))
    assert baskets.items == [frozenset({"a", "b"}), frozenset({"a"})]
    assert baskets.timestamps is None and baskets.customer_ids is None


def test_only_missing_items_gives_no_baskets() -> None:
    tx = _transactions(customer_id=[1], timestamp=["2024-01-01"], item=[None])
    assert len(baskets_from_transactions(tx)) == 0


def test_missing_item_column_is_a_data_error() -> None:
    tx = _transactions(customer_id=[1], timestamp=["2024-01-01"], amount=[3.0])
    with pytest.raises(DataError, match=r"no 'item' column.*data\.transactions\.columns\.item"):
        baskets_from_transactions(tx)


@pytest.mark.parametrize("missing", ["customer_id", "timestamp"])
def test_customer_day_baskets_need_customer_and_timestamp(missing: str) -> None:
    tx = _transactions(customer_id=[1], timestamp=["2024-01-01"], item=["a"]).drop(columns=missing)
    with pytest.raises(DataError, match=f"no '{missing}' column"):
        baskets_from_transactions(tx)


def test_text_timestamps_are_a_data_error() -> None:
    tx = pd.DataFrame({"customer_id": [1], "timestamp": ["2024-01-01"], "item": ["a"]})
    with pytest.raises(DataError, match="'timestamp' column must be datetime64"):
        baskets_from_transactions(tx)


def test_misaligned_timestamps_are_a_data_error() -> None:
    with pytest.raises(DataError, match="Baskets.timestamps has 1 values for 2 baskets"):
        Baskets(items=[frozenset("a"), frozenset("b")], timestamps=_ts("2024-01-01"))


def test_encode_baskets_sorted_columns() -> None:
    baskets = Baskets(items=[frozenset({"b", "a"}), frozenset({"c"}), frozenset()])
    matrix, items = encode_baskets(baskets)
    assert items == ["a", "b", "c"]
    assert matrix.dtype == bool and matrix.shape == (3, 3)
    assert matrix.toarray().tolist() == [[True, True, False], [False, False, True], [False, False, False]]


def test_encode_baskets_given_items_order_ignores_unknown() -> None:
    baskets = Baskets(items=[frozenset({"b", "a", "zzz"}), frozenset({"c"})])
    matrix, items = encode_baskets(baskets, items=["c", "a", "b", "d"])
    assert items == ["c", "a", "b", "d"]
    assert matrix.toarray().tolist() == [[False, True, True, False], [True, False, False, False]]


def _five() -> Baskets:
    return Baskets(
        items=[frozenset({name}) for name in "abcde"],
        timestamps=_ts("2024-01-05", "2024-01-01", "2024-01-03", "2024-01-03", "2024-01-02"),
        customer_ids=pd.Series([1, 2, 3, 4, 5]),
    )


def test_split_by_time_holds_out_the_latest_with_stable_ties() -> None:
    train, holdout = _five().split_by_time(0.4)
    assert train.items == [frozenset("b"), frozenset("e"), frozenset("c")]
    assert holdout.items == [frozenset("d"), frozenset("a")]
    assert list(holdout.customer_ids) == [4, 1]
    assert list(holdout.timestamps) == list(pd.to_datetime(["2024-01-03", "2024-01-05"]))


def test_split_without_timestamps_uses_given_order() -> None:
    baskets = Baskets(items=[frozenset({name}) for name in "abcdefghij"])
    train, holdout = baskets.split_by_time(0.3)
    assert [next(iter(b)) for b in holdout.items] == ["h", "i", "j"]
    assert len(train) == 7 and train.timestamps is None


def test_split_keeps_one_basket_on_each_side() -> None:
    train, holdout = _five().split_by_time(0.01)
    assert (len(train), len(holdout)) == (4, 1)
    train, holdout = _five().split_by_time(0.99)
    assert (len(train), len(holdout)) == (1, 4)


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, True, "0.2", None])
def test_split_rejects_bad_fraction(fraction: object) -> None:
    with pytest.raises(ConfigError, match=r"'holdout_fraction' parameter .* range \(0, 1\)\. Got"):
        _five().split_by_time(fraction)  # type: ignore[arg-type]


def test_split_needs_two_baskets() -> None:
    with pytest.raises(DataError, match="need at least 2"):
        Baskets(items=[frozenset("a")]).split_by_time(0.5)
