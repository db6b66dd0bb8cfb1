"""The preprocessing steps scikit-learn lacks: OutlierClipper and Log1p, on tiny hand-checked frames."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import check_estimator

from crmflow.errors import ConfigError, DataError
from crmflow.transformers import Log1p, OutlierClipper

E = np.e


@pytest.fixture
def skewed() -> pd.DataFrame:
    # a: quartiles of [1, 2, 3, 4, 100] are 2 and 4; b: quartiles of [-50, 0, 1, 2, 3, 4] are 0.25 and 2.75
    return pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 100.0, np.nan], "b": [-50.0, 0.0, 1.0, 2.0, 3.0, 4.0]})


def test_iqr_clipper_clips_to_tukey_fences_and_keeps_nan(skewed: pd.DataFrame) -> None:
    clipper = OutlierClipper(method="iqr", factor=1.0).fit(skewed)
    assert clipper.lower_.tolist() == pytest.approx([0.0, -2.25])  # 2 - 1·2, 0.25 - 1·2.5
    assert clipper.upper_.tolist() == pytest.approx([6.0, 5.25])  # 4 + 1·2, 2.75 + 1·2.5
    out = clipper.transform(skewed)
    np.testing.assert_allclose(out[:, 0], [1.0, 2.0, 3.0, 4.0, 6.0, np.nan])
    np.testing.assert_allclose(out[:, 1], [-2.25, 0.0, 1.0, 2.0, 3.0, 4.0])


def test_default_iqr_factor_is_one_and_a_half(skewed: pd.DataFrame) -> None:
    out = OutlierClipper().fit_transform(skewed[["a"]])
    assert out[4, 0] == pytest.approx(7.0)  # 4 + 1.5·2


def test_quantile_clipper_uses_the_two_quantiles() -> None:
    frame = pd.DataFrame({"x": [0.0, 10.0, 20.0, 30.0, 40.0]})
    clipper = OutlierClipper(method="quantile", lower_quantile=0.1, upper_quantile=0.9).fit(frame)
    assert (clipper.lower_[0], clipper.upper_[0]) == pytest.approx((4.0, 36.0))  # linear interpolation
    assert clipper.transform(pd.DataFrame({"x": [-100.0, 15.0, 100.0]}))[:, 0].tolist() == [4.0, 15.0, 36.0]


def test_all_nan_column_is_left_unbounded() -> None:
    clipper = OutlierClipper().fit(pd.DataFrame({"x": [np.nan, np.nan, np.nan, np.nan]}))
    assert clipper.transform(pd.DataFrame({"x": [5.0, np.nan, 6.0, 7.0]}))[0, 0] == 5.0


def test_log1p_of_each_column_keeps_nan() -> None:
    frame = pd.DataFrame({"x": [0.0, E - 1, E**2 - 1, np.nan]})
    out = Log1p().fit_transform(frame)
    np.testing.assert_allclose(out[:, 0], [0.0, 1.0, 2.0, np.nan])


def test_log1p_refuses_values_at_or_below_minus_one_naming_the_column() -> None:
    frame = pd.DataFrame({"ok": [0.0, 1.0, 2.0, 3.0], "balance": [5.0, -2.0, 0.0, 1.0]})
    with pytest.raises(DataError, match="Log1p: column 'balance' has values <= -1 .minimum -2.*shift_negative"):
        Log1p().fit(frame)
    fitted = Log1p().fit(frame.clip(lower=0))
    with pytest.raises(DataError, match="column 'balance'"):
        fitted.transform(frame)


def test_log1p_shift_negative_maps_each_negative_minimum_to_zero() -> None:
    frame = pd.DataFrame({"balance": [-3.0, -2.0, E - 4], "count": [0.0, 1.0, 3.0]})
    step = Log1p(shift_negative=True).fit(frame)
    assert step.shift_.tolist() == [3.0, 0.0]  # non-negative columns are not shifted
    out = step.transform(frame)
    np.testing.assert_allclose(out[:, 0], [0.0, np.log(2), 1.0])
    np.testing.assert_allclose(out[:, 1], [0.0, np.log(2), np.log(4)])
    assert step.transform(pd.DataFrame({"balance": [-10.0], "count": [-5.0]})).tolist() == [[0.0, 0.0]]


PARAMETER_ERRORS = [
    (
        OutlierClipper(method="iqq"),
        "'method' parameter of OutlierClipper must be a str among {'iqr', 'quantile'}. Got 'iqq'",
    ),
    (OutlierClipper(factor=-1), "'factor' parameter of OutlierClipper must be a float in the range [0, inf). Got -1"),
    (
        OutlierClipper(factor=True),
        "'factor' parameter of OutlierClipper must be a float in the range [0, inf). Got True",
    ),
    (
        OutlierClipper(upper_quantile=1.5),
        "'upper_quantile' parameter of OutlierClipper must be a float in the range [0, 1]. Got 1.5",
    ),
    (
        OutlierClipper(lower_quantile=0.9, upper_quantile=0.1),
        "'lower_quantile' parameter of OutlierClipper must be a float in the range [0, upper_quantile) = [0, 0.1). "
        "Got 0.9",
    ),
    (Log1p(shift_negative="yes"), "'shift_negative' parameter of Log1p must be an instance of 'bool'. Got 'yes'"),
]


@pytest.mark.parametrize(("estimator", "message"), PARAMETER_ERRORS, ids=[repr(e) for e, _ in PARAMETER_ERRORS])
def test_parameters_are_validated_in_fit(estimator: object, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        estimator.fit(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]}))
    assert str(excinfo.value).startswith(f"The {message} instead")  # then "." or "; did you mean 'iqr'?"


def test_init_only_stores_arguments_and_clone_gives_an_unfitted_copy(skewed: pd.DataFrame) -> None:
    bad = OutlierClipper(method="nope")  # no error until fit
    assert bad.get_params()["method"] == "nope"
    fitted = OutlierClipper(method="quantile", factor=2.0).fit(skewed)
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "lower_")
    assert clone(Log1p(shift_negative=True)).shift_negative is True


def test_pandas_output_keeps_names_and_index(skewed: pd.DataFrame) -> None:
    frame = skewed.clip(lower=0).set_axis([10, 11, 12, 13, 14, 15])
    pipeline = Pipeline(
        [("impute", SimpleImputer(strategy="median")), ("clip", OutlierClipper()), ("log", Log1p())]
    ).set_output(transform="pandas")
    out = pipeline.fit_transform(frame)
    assert list(out.columns) == ["a", "b"] and list(out.index) == [10, 11, 12, 13, 14, 15]
    # a imputed: [1, 2, 3, 4, 100, 3]; quartiles 2.25 and 3.75, so 100 clips to 3.75 + 1.5·1.5 = 6
    assert out.loc[14, "a"] == pytest.approx(np.log1p(6.0))
    assert list(pipeline.get_feature_names_out()) == ["a", "b"]
    assert pickle.loads(pickle.dumps(pipeline)).transform(frame).equals(out)


def test_feature_names_without_pandas_input() -> None:
    step = OutlierClipper().fit(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    assert list(step.get_feature_names_out()) == ["x0", "x1"]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
@pytest.mark.parametrize(
    "estimator", [OutlierClipper(), OutlierClipper(method="quantile"), Log1p(), Log1p(shift_negative=True)], ids=repr
)
def test_scikit_learn_estimator_checks(estimator: object) -> None:
    expected = {}
    if isinstance(estimator, Log1p) and not estimator.shift_negative:
        # Log1p accepts (-1, 0); it only rejects values <= -1, with a DataError naming the column.
        expected = {"check_positive_only_tag_during_fit": "domain is (-1, inf), not [0, inf)"}
    check_estimator(estimator, expected_failed_checks=expected)
