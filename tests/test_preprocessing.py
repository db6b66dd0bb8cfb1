"""The preprocessing builder turns declared step lists into one scikit-learn pipeline."""

from __future__ import annotations

import functools
import pickle
import re

import numpy as np
import pandas as pd
import pytest
from helpers import compose_config
from omegaconf import OmegaConf
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from crmflow.errors import ConfigError, DataError
from crmflow.preprocessing import build_preprocessor, require_numeric


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({"x": [1.0, np.nan, 3.0, 4.0], "g": ["a", "b", None, "a"]})


def test_standard_imputes_scales_and_encodes(frame: pd.DataFrame) -> None:
    node = compose_config(["preprocessing=standard"]).preprocessing
    out = build_preprocessor(node).fit_transform(frame)
    assert list(out.columns) == ["x", "g_a", "g_b"]
    assert out["x"].mean() == pytest.approx(0.0)
    assert out["g_a"].tolist() == [1.0, 0.0, 1.0, 1.0]  # the missing category is imputed as 'a'


def test_none_passes_the_frame_through(frame: pd.DataFrame) -> None:
    out = build_preprocessor(compose_config(["preprocessing=none"]).preprocessing).fit_transform(frame)
    pd.testing.assert_frame_equal(out, frame)


def test_final_steps_run_on_the_whole_matrix(frame: pd.DataFrame) -> None:
    node = {
        "columns": {"num": {"select": ["x"], "steps": [{"_target_": "sklearn.impute.SimpleImputer"}]}},
        "final": [{"_target_": "sklearn.preprocessing.MinMaxScaler"}],
    }
    out = build_preprocessor(node).fit_transform(frame)
    assert out["x"].tolist() == pytest.approx([0.0, 5 / 9, 2 / 3, 1.0])  # NaN imputed with the mean 8/3


def test_unknown_selector_is_named() -> None:
    with pytest.raises(
        ConfigError, match="preprocessing.columns.num.select: unknown column selector 'numerc'; did you mean 'numeric'"
    ):
        build_preprocessor({"columns": {"num": {"select": "numerc", "steps": []}}})


# --- the catalogue: every option on a small mixed frame ---------------------------------------

OPTIONS = ["standard", "robust", "minmax", "pca", "log_standard", "none"]


@functools.cache
def option_node(name: str) -> dict:
    """The composed `preprocessing=name` node (composed once per test session)."""
    return OmegaConf.to_container(compose_config([f"preprocessing={name}"]).preprocessing)


def option(name: str) -> Pipeline:
    return build_preprocessor(option_node(name))


@pytest.fixture
def customers() -> pd.DataFrame:
    """recency imputes to [1, 2, 3, 4, 100]; monetary to [0, 9, 99, 54, 999]; segment's None to 'a'."""
    return pd.DataFrame(
        {
            "recency": [1.0, 2.0, np.nan, 4.0, 100.0],
            "monetary": [0.0, 9.0, 99.0, np.nan, 999.0],
            "segment": ["a", "b", None, "a", "b"],
        },
        index=[10, 11, 12, 13, 14],
    )


@pytest.mark.parametrize("name", [o for o in OPTIONS if o != "none"])
def test_every_option_gives_a_complete_numeric_frame(name: str, customers: pd.DataFrame) -> None:
    out = option(name).fit_transform(customers)
    require_numeric(out, "test")
    assert not out.isna().any().any()
    assert list(out.index) == [10, 11, 12, 13, 14]


def test_robust_clips_to_iqr_fences_then_scales_by_median_and_iqr(customers: pd.DataFrame) -> None:
    out = option("robust").fit_transform(customers)
    assert list(out.columns) == ["recency", "monetary", "segment_a", "segment_b"]
    # recency: quartiles 2 and 4, 100 clipped to 4 + 1.5·2 = 7; then (x - 3) / 2
    assert out["recency"].tolist() == pytest.approx([-1.0, -0.5, 0.0, 0.5, 2.0])
    # monetary: quartiles 9 and 99, 999 clipped to 99 + 1.5·90 = 234; then (x - 54) / 90
    assert out["monetary"].tolist() == pytest.approx([-0.6, -0.5, 0.5, 0.0, 2.0])


def test_minmax_scales_numbers_to_the_unit_interval(customers: pd.DataFrame) -> None:
    out = option("minmax").fit_transform(customers)
    assert list(out.columns) == ["recency", "monetary", "segment_a", "segment_b"]
    assert out["recency"].tolist() == pytest.approx([0.0, 1 / 99, 2 / 99, 3 / 99, 1.0])
    assert out.loc[13, "monetary"] == pytest.approx(54 / 999)


def test_log_standard_takes_log1p_before_standardising(customers: pd.DataFrame) -> None:
    out = option("log_standard").fit_transform(customers.assign(balance=[-5.0, 0.0, 5.0, 10.0, np.nan]))
    assert list(out.columns) == ["recency", "monetary", "balance", "segment_a", "segment_b"]
    logged = np.log1p([0.0, 9.0, 99.0, 54.0, 999.0])
    assert out["monetary"].tolist() == pytest.approx((logged - logged.mean()) / logged.std())
    shifted = np.log1p([0.0, 5.0, 10.0, 15.0, 7.5])  # balance shifted by its minimum -5; NaN → median 2.5
    assert out["balance"].tolist() == pytest.approx((shifted - shifted.mean()) / shifted.std())


def test_pca_keeps_pandas_output_with_pca_names(customers: pd.DataFrame) -> None:
    out = option("pca").fit_transform(customers)
    assert list(out.columns) == [f"pca{i}" for i in range(out.shape[1])]
    # y = 2x standardises to the same column z, and a constant category adds no variance:
    # one component carries everything, with scores ±√2·z.
    frame = pd.DataFrame({"x": [1.0, np.nan, 3.0, 4.0], "y": [2.0, np.nan, 6.0, 8.0], "g": ["a", "a", None, "a"]})
    out = option("pca").fit_transform(frame)
    z = np.array([1.0, 3.0, 3.0, 4.0])
    z = (z - z.mean()) / z.std()
    assert list(out.columns) == ["pca0"]
    assert np.abs(out["pca0"]).tolist() == pytest.approx(np.abs(np.sqrt(2) * z))


# --- selectors ----------------------------------------------------------------------------------

SKEWED_THEN_REST = {
    "columns": {
        "skewed": {"select": ["monetary"], "steps": [{"_target_": "crmflow.transformers.Log1p"}]},
        "numeric": {"select": {"dtype": "numeric", "exclude": ["monetary"]}, "steps": []},
    },
}


def test_a_name_group_and_a_type_group_combine(customers: pd.DataFrame) -> None:
    out = build_preprocessor(SKEWED_THEN_REST).fit_transform(customers)
    assert list(out.columns) == ["monetary", "recency"]
    assert out["monetary"].tolist()[:3] == pytest.approx(np.log1p([0.0, 9.0, 99.0]).tolist())
    assert out["recency"].tolist()[:2] == [1.0, 2.0]


def test_a_selector_mapping_adds_included_names_to_a_type(customers: pd.DataFrame) -> None:
    node = {"columns": {"mixed": {"select": {"dtype": "categorical", "include": ["recency"]}}}}
    assert list(build_preprocessor(node).fit_transform(customers).columns) == ["segment", "recency"]
    node = {"columns": {"named": {"select": {"include": ["monetary", "recency"], "exclude": []}}}}
    assert list(build_preprocessor(node).fit_transform(customers).columns) == ["monetary", "recency"]


@pytest.mark.parametrize(
    "select", [["monetry"], {"dtype": "numeric", "exclude": ["monetry"]}, {"include": ["monetry"]}], ids=str
)
def test_a_missing_named_column_is_a_data_error_at_fit(select: object, customers: pd.DataFrame) -> None:
    pipeline = build_preprocessor({"columns": {"skewed": {"select": select}}})  # building checks no data
    message = "preprocessing.columns.skewed.select: column 'monetry' is not in the data; did you mean 'monetary'?"
    with pytest.raises(DataError, match=re.escape(message)):
        pipeline.fit(customers)


def test_log1p_errors_name_the_real_column(customers: pd.DataFrame) -> None:
    node = {"columns": {"numeric": {"select": "numeric", "steps": [{"_target_": "crmflow.transformers.Log1p"}]}}}
    with pytest.raises(DataError, match="column 'balance'"):
        build_preprocessor(node).fit(customers.assign(balance=[1.0, -3.0, 0.0, 2.0, 1.0]))


# --- unknown categories, user-written YAML, config errors --------------------------------------


def test_one_hot_tolerates_unknown_categories(customers: pd.DataFrame) -> None:
    pipeline = option("standard").fit(customers)
    out = pipeline.transform(customers.assign(segment=["z", "b", "a", "z", None]))
    assert out[["segment_a", "segment_b"]].to_numpy().tolist() == [[0, 0], [0, 1], [1, 0], [0, 0], [1, 0]]


def test_ordinal_encoding_maps_unknown_categories_to_minus_one(customers: pd.DataFrame) -> None:
    encoder = {
        "_target_": "sklearn.preprocessing.OrdinalEncoder",
        "handle_unknown": "use_encoded_value",
        "unknown_value": -1,
    }
    imputer = {"_target_": "sklearn.impute.SimpleImputer", "strategy": "most_frequent"}
    node = {"columns": {"categorical": {"select": "categorical", "steps": [imputer, encoder]}}}
    pipeline = build_preprocessor(node).fit(customers)
    assert pipeline.transform(customers.assign(segment=["z", "b", "a", "z", "b"]))["segment"].tolist() == [
        -1.0,
        1.0,
        0.0,
        -1.0,
        1.0,
    ]


def test_a_user_writes_a_step_list_in_yaml(customers: pd.DataFrame) -> None:
    node = OmegaConf.create(
        """
        columns:
          numeric:
            select: {dtype: numeric}
            steps:
              - {_target_: sklearn.impute.SimpleImputer, strategy: constant, fill_value: 0}
              - _target_: crmflow.transformers.OutlierClipper
                method: quantile
                lower_quantile: 0.0
                upper_quantile: 0.5
        final:
          - {_target_: sklearn.feature_selection.VarianceThreshold, threshold: 0.0}
        """
    )
    out = build_preprocessor(node).fit_transform(customers.assign(flat=1.0))
    assert list(out.columns) == ["recency", "monetary"]  # the constant column is dropped
    assert out["recency"].tolist() == [1.0, 2.0, 0.0, 2.0, 2.0]  # NaN → 0, then clipped to [min 0, median 2]


def test_the_fitted_pipeline_clones_and_pickles(customers: pd.DataFrame) -> None:
    pipeline = build_preprocessor(SKEWED_THEN_REST)
    fitted = clone(pipeline).fit(customers)
    restored = pickle.loads(pickle.dumps(fitted))
    pd.testing.assert_frame_equal(restored.transform(customers), fitted.transform(customers))


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"colums": {}}, "preprocessing: unknown key 'colums'; did you mean 'columns'?"),
        ({"columns": {"num": {"step": []}}}, "preprocessing.columns.num: unknown key 'step'; did you mean 'steps'?"),
        (
            {"columns": {"num": {"select": {"dtype": "numeric", "exlude": ["x"]}}}},
            "preprocessing.columns.num.select: unknown selector key 'exlude'; did you mean 'exclude'",
        ),
        (
            {"columns": {"num": {"select": {"dtype": "numerc"}}}},
            "preprocessing.columns.num.select.dtype: unknown column selector 'numerc'; did you mean 'numeric'?",
        ),
        (
            {"columns": {"num": {"select": {"exclude": ["x"]}}}},
            "preprocessing.columns.num.select: a selector mapping needs 'dtype' and/or 'include'",
        ),
        (
            {"columns": {"num": {"select": {"include": ["x"], "exclude": ["x"]}}}},
            "preprocessing.columns.num.select: column 'x' is both in include and in exclude",
        ),
        ({"columns": {"num": {"select": [1, 2]}}}, "preprocessing.columns.num.select: expected a list of column names"),
        (
            {"final": [{"_target_": "sklearn.decomposition.PCA", "n_component": 2}]},
            "preprocessing.final[0]: unknown parameter 'n_component'",
        ),
        ({"final": ["PCA"]}, "preprocessing.final[0]: expected a step with a '_target_'"),
    ],
)
def test_config_errors_name_the_key(node: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_preprocessor(node)
