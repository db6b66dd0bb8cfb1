"""Importances a reader trusts: one-hot columns named `column=value` (the segment feature `segment=0`, or its
name), and linear models' coefficients with their sign, ranked by size."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from crmflow.prediction.feature_names import one_hot_name, readable_names
from crmflow.prediction.importance import COEFFICIENT, feature_importances
from crmflow.preprocessing import build_preprocessor
from crmflow.segmentation.assign import SegmentAssigner

STANDARD = {
    "columns": {
        "numeric": {"select": "numeric", "steps": [{"_target_": "sklearn.preprocessing.StandardScaler"}]},
        "categorical": {
            "select": "categorical",
            "steps": [
                {"_target_": "sklearn.preprocessing.OneHotEncoder", "handle_unknown": "ignore", "sparse_output": False}
            ],
        },
    }
}


def test_one_hot_name() -> None:
    assert one_hot_name("segment", "segment_0") == "segment=0"
    assert one_hot_name("segment", "segment_0", {"segment_0": "champions"}) == "segment=champions"
    assert one_hot_name("Contract", "Month-to-month") == "Contract=Month-to-month"
    assert one_hot_name("segment", "segment_") == "segment=segment_"  # nothing left: keep the value
    assert one_hot_name("path", "x" * 50).endswith("x…") and len(one_hot_name("path", "x" * 50)) == 45


def _customers() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(1)
    spend = rng.normal(size=120)
    visits = rng.normal(size=120)
    X = pd.DataFrame({"spend": spend, "visits": visits, "channel": rng.choice(["web", "store"], 120)})
    y = pd.Series((2.0 * spend - 3.0 * visits + rng.normal(scale=0.5, size=120) > 0).astype(int), name="churn")
    return X, y


def test_segment_one_hot_reads_segment_id_and_the_model_keeps_its_names() -> None:
    X, y = _customers()
    segments = SegmentAssigner(build_preprocessor(STANDARD), KMeans(2, n_init=2, random_state=0), ["spend", "visits"])
    model = Pipeline(
        [("segment", segments), ("preprocess", build_preprocessor(STANDARD)), ("model", LogisticRegression())]
    )
    model.fit(X, y)
    names = readable_names(model)
    assert names["segment_segment_0"] == "segment=0" and names["segment_segment_1"] == "segment=1"
    assert names["channel_web"] == "channel=web" and "spend" not in names
    assert "segment_segment_0" in model[-1].feature_names_in_  # the fitted model is untouched
    table = feature_importances(model, X, y, "roc_auc", 1, 0)
    assert {"segment=0", "segment=1", "channel=store", "channel=web", "spend", "visits"} == set(table["feature"])


def test_logistic_regression_keeps_the_sign_and_ranks_by_size() -> None:
    X, y = _customers()  # churn rises with spend (+2) and falls with visits (-3)
    pipeline = Pipeline(
        [("scale", ColumnTransformer([("n", StandardScaler(), ["spend", "visits"])], verbose_feature_names_out=False))]
    ).set_output(transform="pandas")
    model = FixedThresholdClassifier(Pipeline([*pipeline.steps, ("model", LogisticRegression())]), threshold=0.5)
    model.fit(X, y)
    table = feature_importances(model, X, y, "roc_auc", 1, 0)
    assert table["feature"].tolist() == ["visits", "spend"]  # |-3| before |+2|
    assert table.loc[0, "importance"] < 0 < table.loc[1, "importance"]
    assert set(table["kind"]) == {COEFFICIENT}
    ratio = table.loc[0, "importance"] / table.loc[1, "importance"]
    assert -2.0 < ratio < -1.0  # about -3/2 on the standardised scale


def test_tree_importances_stay_unsigned_and_descending() -> None:
    X, y = _customers()
    model = Pipeline(
        [
            ("preprocess", build_preprocessor(STANDARD)),
            ("model", RandomForestClassifier(20, random_state=0)),
        ]
    ).fit(X, y)
    table = feature_importances(model, X, y, "roc_auc", 1, 0)
    assert (table["importance"] >= 0).all() and table["importance"].is_monotonic_decreasing
    assert table["kind"].iloc[0] == "impurity importance" and "channel=web" in set(table["feature"])


def test_one_hot_encoder_alone() -> None:
    encoder = OneHotEncoder().fit(pd.DataFrame({"region": ["north", "south"]}))
    assert readable_names(encoder) == {"region_north": "region=north", "region_south": "region=south"}


def test_a_named_segmenter_shows_its_segment_names() -> None:
    from crmflow.segmentation.rfm_scores import RFMQuantileSegmenter

    rng = np.random.default_rng(2)
    X = pd.DataFrame({"recency": rng.uniform(0, 300, 60), "frequency": rng.integers(1, 20, 60)})
    X["monetary"] = X["frequency"] * 30.0
    y = pd.Series(rng.integers(0, 2, 60), name="churn")
    rfm = RFMQuantileSegmenter(segments=[{"name": "champions", "r": [4, 5], "f": [4, 5]}], bins=5)
    model = Pipeline(
        [
            ("segment", SegmentAssigner(build_preprocessor(STANDARD), rfm)),
            ("preprocess", build_preprocessor(STANDARD)),
            ("model", LogisticRegression()),
        ]
    ).fit(X, y)
    assert readable_names(model)["segment_segment_0"] == "segment=champions"
    assert readable_names(model)["segment_segment_1"] == "segment=other"


def test_an_id_like_column_is_numbered_never_shown() -> None:
    ids = [f"C{n:04d}" for n in range(60)]  # more than MANY_LEVELS values: an id, whose values must not be shown
    encoder = OneHotEncoder().fit(pd.DataFrame({"customer": ids, "plan": ["a", "b"] * 30}))
    names = readable_names(encoder)
    assert names["customer_C0000"] == "customer=value 1 of 60"
    assert names["plan_a"] == "plan=a"
    assert not any("C00" in shown for shown in names.values())


def test_permutation_importances_are_drawn_unsigned(tmp_path) -> None:
    from matplotlib import pyplot

    from crmflow.plots.prediction import importance_bars

    table = pd.DataFrame(
        {"feature": ["a", "b"], "importance": [0.2, -0.01], "kind": "permutation importance (roc_auc drop)"}
    )
    figures = []
    original = pyplot.Figure.savefig
    pyplot.Figure.savefig = lambda fig, *args, **kwargs: figures.append(fig) or original(fig, *args, **kwargs)
    try:
        importance_bars(table, tmp_path / "bars.png")
    finally:
        pyplot.Figure.savefig = original
    (figure,) = figures
    assert "red raises" not in figure.axes[0].get_title()
