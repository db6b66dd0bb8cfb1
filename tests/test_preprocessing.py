"""The preprocessing builder turns declared step lists into one scikit-learn pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmflow.errors import ConfigError
from crmflow.preprocessing import build_preprocessor

from helpers import compose_config


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
    with pytest.raises(ConfigError, match="preprocessing.columns.num.select: unknown column selector 'numerc'; did you mean 'numeric'"):
        build_preprocessor({"columns": {"num": {"select": "numerc", "steps": []}}})
