"""Cleaning and conversion steps on frames of a few rows, answers computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from crmflow.data.cleaning import (
    Cleaning,
    clean_transactions,
    cleaning_steps,
    customer_ids,
    derive_amount,
    drop_duplicates,
    drop_missing_customers,
    drop_returns,
    drop_zero_amounts,
    id_strings,
    mark_missing,
    parse_numbers,
    parse_timestamps,
    require_column,
    require_finite,
    require_values,
    return_rows,
    text_columns,
)
from crmflow.errors import DataError


def frame(**columns: list) -> pd.DataFrame:
    return pd.DataFrame(columns)


# --- cleaning steps ---------------------------------------------------------------------------------


def test_mark_missing_replaces_placeholders_only_in_the_given_columns() -> None:
    df = frame(item=["milk", "Unknown", "n/a", "bread"], note=["Unknown"] * 4)
    out, replaced = mark_missing(df, ["item"], ["Unknown", "n/a"])
    assert replaced == 2
    assert out["item"].isna().tolist() == [False, True, True, False]
    assert (out["note"] == "Unknown").all()
    assert df["item"].tolist() == ["milk", "Unknown", "n/a", "bread"]  # input untouched


def test_mark_missing_without_placeholders_or_columns_is_a_no_op() -> None:
    df = frame(item=["a", "b"])
    assert mark_missing(df, ["item"], [])[1] == 0
    assert mark_missing(df, ["absent"], ["a"])[1] == 0


def test_drop_missing_customers_keeps_the_index() -> None:
    df = frame(customer_id=["1", None, "2", np.nan], amount=[1.0, 2.0, 3.0, 4.0])
    out, dropped = drop_missing_customers(df)
    assert dropped == 2
    assert out.index.tolist() == [0, 2]


def test_drop_duplicates_keeps_the_first_of_each_exact_copy() -> None:
    df = frame(customer_id=["1", "1", "1", "2", "1"], item=["a", "a", "b", "a", "a"], amount=[1.0, 1.0, 1.0, 1.0, 2.0])
    out, dropped = drop_duplicates(df)
    assert dropped == 1
    assert out.index.tolist() == [0, 2, 3, 4]


def test_return_rows_flags_negative_quantity_or_amount_and_cancelled_baskets() -> None:
    df = frame(
        basket_id=["536365", "C536379", "536380", "536381", None],
        quantity=[2.0, -1.0, -3.0, 1.0, 1.0],
        amount=[5.0, -2.5, -7.5, -1.0, 3.0],
    )
    assert return_rows(df, "C").tolist() == [False, True, True, True, False]
    assert return_rows(df.drop(columns=["quantity", "amount"]), "C").tolist() == [False, True, False, False, False]
    assert return_rows(df.drop(columns=["quantity", "amount"])).tolist() == [False] * 5


def test_drop_returns_counts_cancellations_with_positive_values() -> None:
    df = frame(basket_id=["1", "C2", "3"], quantity=[1.0, 1.0, 2.0], amount=[1.0, 1.0, 4.0])
    out, dropped = drop_returns(df, "C")
    assert dropped == 1
    assert out["basket_id"].tolist() == ["1", "3"]
    assert drop_returns(df)[1] == 0


def test_drop_zero_amounts_drops_free_lines_only() -> None:
    df = frame(basket_id=["1", "2", "3"], quantity=[1.0, 5.0, 2.0], amount=[1.5, 0.0, 4.0])
    out, dropped = drop_zero_amounts(df)
    assert dropped == 1 and out["basket_id"].tolist() == ["1", "3"]
    assert drop_zero_amounts(df.drop(columns="amount"))[1] == 0


def test_cleaning_steps_follow_the_options_in_a_fixed_order() -> None:
    names = [name for name, _, _ in cleaning_steps(Cleaning(drop_duplicates=True))]
    assert names == ["drop_missing_customer", "drop_duplicates", "returns"]
    names = [name for name, _, _ in cleaning_steps(Cleaning(zero_amounts="drop"))]
    assert names == ["drop_missing_customer", "returns", "zero_amounts"]
    names = [name for name, _, _ in cleaning_steps(Cleaning(returns="keep", drop_missing_customer=False))]
    assert names == []


def test_clean_transactions_reports_each_active_step() -> None:
    df = frame(
        customer_id=["1", "1", None, "2", "2", "3"],
        basket_id=["b1", "b1", "b2", "C3", "b4", "b5"],
        quantity=[1.0, 1.0, 1.0, 1.0, -2.0, 3.0],
        amount=[2.0, 2.0, 2.0, 2.0, -4.0, 6.0],
    )
    out, report = clean_transactions(df, Cleaning(drop_duplicates=True, cancel_prefix="C"), "data.transactions")
    assert report == {
        "rows_dropped_missing_customer": 1.0,
        "rows_dropped_duplicates": 1.0,
        "rows_dropped_returns": 2.0,
    }
    assert out.index.tolist() == [0, 5]


def test_clean_transactions_names_the_step_that_empties_the_table() -> None:
    df = frame(customer_id=["1", "2"], quantity=[-1.0, -2.0], amount=[-1.0, -2.0])
    with pytest.raises(DataError, match=r"data.transactions.cleaning.returns: dropped all 2 remaining rows"):
        clean_transactions(df, Cleaning(), "data.transactions")


# --- conversions and checks -------------------------------------------------------------------------


def test_id_strings_drop_the_float_suffix_of_integral_ids() -> None:
    out = id_strings(pd.Series([17850.0, np.nan, 13047.0]))
    assert out.tolist()[0::2] == ["17850", "13047"] and pd.isna(out.iloc[1])
    assert id_strings(pd.Series([1234, 5])).tolist() == ["1234", "5"]
    assert id_strings(pd.Series([1.5, 2.0])).tolist() == ["1.5", "2.0"]
    assert id_strings(pd.Series(["A-1", "  ", None])).isna().tolist() == [False, True, True]


def test_text_columns_lists_string_and_object_columns() -> None:
    df = pd.DataFrame({"a": ["x"], "b": [1.0], "c": pd.Series([None], dtype=object)})
    assert text_columns(df) == ["a", "c"]


@pytest.mark.parametrize(
    ("columns", "expected", "how"),
    [
        ({"quantity": [2.0, 3.0], "unit_price": [1.5, 2.0]}, [3.0, 6.0], "quantity × unit_price"),
        ({"unit_price": [1.5, 2.0]}, [1.5, 2.0], "quantity × unit_price"),
        ({"quantity": [2.0, 3.0]}, [2.0, 3.0], "quantity (monetary counts items)"),
        ({"customer_id": ["1", "2"]}, [1.0, 1.0], "1.0 per row (monetary counts items)"),
    ],
)
def test_derive_amount_falls_back_in_order(columns: dict, expected: list[float], how: str) -> None:
    amount, described = derive_amount(pd.DataFrame(columns))
    assert_series_equal(amount, pd.Series(expected, name="amount"))
    assert described == how


def test_require_values_fails_on_an_entirely_empty_column() -> None:
    require_values(pd.Series([np.nan, 1.0], name="Amount"), "k")
    with pytest.raises(DataError, match=r"^k: column 'Amount' has no values \(all 2 rows are empty\)$"):
        require_values(pd.Series([np.nan, np.nan], name="Amount"), "k")


def test_require_column_suggests_the_closest_name() -> None:
    df = pd.DataFrame(columns=["InvoiceNo", "Description"])
    assert require_column(df, "Description", "k") == "Description"
    with pytest.raises(DataError, match=r"^k: column 'Descr' is not in the file; did you mean 'Description'\?"):
        require_column(df, "Descr", "k")


def test_parse_numbers_treats_blanks_as_missing() -> None:
    out = parse_numbers(pd.Series(["29.85", " ", "1889.5", None], name="TotalCharges"), "k")
    assert_series_equal(out, pd.Series([29.85, np.nan, 1889.5, np.nan], name="TotalCharges"))


def test_parse_numbers_counts_bad_values_and_hints_at_the_number_format() -> None:
    values = pd.Series(["1", "abc", "x", "2"], name="amount")
    with pytest.raises(DataError, match=r"^k: 2 of 4 values in column 'amount' are not numeric; e.g. 'abc'$"):
        parse_numbers(values, "k")
    with pytest.raises(DataError, match=r"e.g. '1.234,5'; set decimal/thousands"):
        parse_numbers(pd.Series(["1.234,5"], name="amount"), "k")


def test_parse_numbers_refuses_infinities() -> None:
    # read_csv turns "inf" and "-inf" into floats, so they pass the numeric check and fail at fit
    values = pd.Series([1.5, np.inf, 2.0, -np.inf], name="amount")
    with pytest.raises(
        DataError,
        match=r"^k: 2 of 4 values in column 'amount' are infinite \(e.g. row 1: inf\); leave them empty \(missing\) "
        r"or write a number$",
    ):
        parse_numbers(values, "k")
    with pytest.raises(DataError, match=r"^k: 1 of 2 values in column 'x' are infinite \(e.g. row 0: inf\)"):
        parse_numbers(pd.Series(["Infinity", "3"], name="x"), "k")


def test_require_finite_skips_columns_that_cannot_hold_infinity() -> None:
    require_finite(pd.Series([1, 2], name="n"), "k")
    require_finite(pd.Series(["inf"], name="s"), "k")  # text is not a number here
    require_finite(pd.Series([1.0, np.nan], name="f"), "k")


def test_parse_timestamps_with_a_format_and_its_error() -> None:
    values = pd.Series(["02-01-2014", "30-12-2015", None], name="Date")
    out = parse_timestamps(values, "%d-%m-%Y", "k")
    assert out.iloc[:2].tolist() == [pd.Timestamp("2014-01-02"), pd.Timestamp("2015-12-30")]
    bad = pd.Series(["02-01-2014", "2014/13/45", "31-02-2014"], name="Date")
    with pytest.raises(DataError, match=r"^k: 2 of 3 values in column 'Date' cannot be parsed as format '%d-%m-%Y'"):
        parse_timestamps(bad, "%d-%m-%Y", "k")


def test_parse_timestamps_names_the_inferred_format() -> None:
    bad = pd.Series(["2014-01-02", "2014-01-03", "soon"], name="when")
    with pytest.raises(DataError, match=r"format '%Y-%m-%d' \(inferred from the first value\); e.g. 'soon'; set d_fmt"):
        parse_timestamps(bad, None, "k", "d_fmt")


def test_customer_ids_are_row_numbers_without_an_id_column() -> None:
    out = customer_ids(pd.DataFrame({"a": [1, 2, 3]}), None, "k")
    assert out.tolist() == ["0", "1", "2"]


def test_customer_ids_refuse_nulls_and_duplicates() -> None:
    assert customer_ids(pd.DataFrame({"ID": [5524.0, 2174.0]}), "ID", "k").tolist() == ["5524", "2174"]
    with pytest.raises(DataError, match=r"^k.id_column: 1 rows of column 'ID' have no id \(e.g. row 1\)$"):
        customer_ids(pd.DataFrame({"ID": [1.0, np.nan]}), "ID", "k")
    with pytest.raises(DataError, match=r"^k.id_column: 1 rows of column 'ID' repeat an id; e.g. '7'$"):
        customer_ids(pd.DataFrame({"ID": [7, 8, 7]}), "ID", "k")


def test_steps_do_not_modify_their_input() -> None:
    df = frame(customer_id=["1", None, "1"], quantity=[1.0, -1.0, 1.0], amount=[1.0, -1.0, 1.0])
    copy = df.copy()
    for step in (drop_missing_customers, drop_duplicates, drop_returns, drop_zero_amounts):
        step(df)
    assert_frame_equal(df, copy)
