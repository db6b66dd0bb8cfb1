"""Every segmentation option honours the stage contract; the rule-based segmenters on hand-checked data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import compose_config
from sklearn.metrics import adjusted_rand_score

from crmflow.data.base import CRMData
from crmflow.errors import ConfigError, DataError
from crmflow.features.table import CustomerTable
from crmflow.paths import config_dir
from crmflow.plan import plan_run
from crmflow.preprocessing import build_preprocessor
from crmflow.run import _load
from crmflow.segmentation.assign import SegmentAssigner
from crmflow.segmentation.rfm_scores import RFMQuantileSegmenter, midrank_percentile
from crmflow.segmentation.segmenter import reads_activity
from crmflow.segmentation.stability import bootstrap_stability
from crmflow.segmentation.stage import SegmentationStage, purchase_history
from crmflow.segmentation.tree_segments import DecisionTreeSegmenter
from crmflow.stages.contract import RunState

OPTIONS = sorted(p.stem for p in (config_dir() / "segmentation").glob("*.yaml") if p.stem not in ("_settings", "none"))
SMALL = ["data.n_customers=1500", "rules=none", "predictor=none", "tuning=off"]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("segmentation")


@pytest.mark.parametrize("option", OPTIONS)
class TestSegmentationContract:
    """Fit, score, profile and assign new customers with each option's own defaults."""

    def test_score_finalize_and_assign(self, option: str, scratch: Path) -> None:
        plan = plan_run(compose_config([*SMALL, f"segmentation={option}"]))
        ((stage, spec),) = plan.stages
        ctx, _ = _load(plan, scratch)
        stage.check(spec, ctx)
        prepared = stage.prepare(spec, ctx)
        trial = stage.score(spec.build({}), prepared, spec)
        assert set(trial) == set(stage.metric_names(spec)) - {"stability"}  # refits: only when it is the objective
        assert trial["n_segments"] >= 2 and 0 <= trial["noise_share"] <= spec.settings.max_noise_share
        assert -1 <= trial["silhouette"] <= 1

        result = stage.finalize(spec.build({}), prepared, spec, ctx, None)
        assert result.metrics["n_segments"] == trial["n_segments"]
        assert -1 <= result.metrics["stability"] <= 1
        labels = ctx.segments.labels
        assert labels.index.equals(ctx.table.X.index)
        profiles = pd.read_csv(scratch / "segment_profiles.csv", index_col="segment")
        assert profiles["size"].sum() == len(labels)
        assert {
            "share",
            "mean_monetary",
            "median_monetary",
            "lift_monetary",
            "percentile_monetary",
            "churn_rate",
            "top_items",
            "distinctive_items",
            "description",
        } <= set(profiles.columns)
        assert {p.name for p in result.artifacts} >= {"segments_pca.png", "segment_profile_heatmap.png"}
        if reads_activity(spec.build({})):  # states of the log: labels only, no refit on feature rows
            assert ctx.segments.segmenter is None
            return

        assigner = SegmentAssigner(build_preprocessor(ctx.preprocessing), ctx.segments.segmenter, ctx.segments.columns)
        train, fresh = ctx.table.X.iloc[:1000], ctx.table.X.iloc[1000:]
        assigned = assigner.fit(train, ctx.table.y.iloc[:1000]).transform(fresh)
        assert len(assigned) == len(fresh) and assigned["segment"].str.startswith("segment_").all()
        # fitted on every customer, the assigner gives each customer back the segment finalize found
        again = assigner.fit(ctx.table.X, ctx.table.y).transform(ctx.table.X)["segment"]
        assert adjusted_rand_score(labels, again) >= 0.98

    def test_search_space_candidates_are_valid(self, option: str) -> None:
        spec = plan_run(compose_config([*SMALL, f"segmentation={option}"])).stages[0][1]
        for name in spec.search_space.names:
            assert name in spec.build({}).get_params()


def test_rfm_scores_use_midranks_so_ties_share_a_score() -> None:
    reference = np.sort(np.array([1.0, 1, 1, 1, 2, 3, 4, 5, 6, 7]))
    assert midrank_percentile(reference, np.array([1.0, 7.0, 0.0])).tolist() == [0.2, 0.95, 0.0]


def test_rfm_quantile_segments_by_the_first_matching_rule() -> None:
    X = pd.DataFrame({"recency": [1.0, 2, 300, 400], "frequency": [9.0, 1, 8, 1], "monetary": [500.0, 5, 400, 9]})
    segmenter = RFMQuantileSegmenter(
        bins=2,
        segments=[{"name": "champions", "r": [2, 2], "f": [2, 2]}, {"name": "at_risk", "r": [1, 1], "f": [2, 2]}],
    )
    labels = segmenter.fit_predict(X)
    names = [segmenter.segment_names_[label] for label in labels]
    assert names == ["champions", "other", "at_risk", "other"]
    assert segmenter.scores(X)["r"].tolist() == [2, 2, 1, 1]
    assert segmenter.predict(X.iloc[[2]]).tolist() == [labels[2]]


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        (
            {"segments": [{"name": "x", "r": [0, 3]}]},
            ConfigError,
            r"segmentation.segments\[0\].r: expected \[low, high\]",
        ),
        ({"segments": [{"name": "x", "rr": [1, 2]}]}, ConfigError, r"segmentation.segments\[0\]: expected keys"),
        ({"segments": [{"name": "x"}], "recency": "days_since"}, DataError, r"needs the columns \['days_since'\]"),
    ],
)
def test_rfm_quantiles_bad_config(params: dict, error: type, message: str) -> None:
    X = pd.DataFrame({"recency": [1.0], "frequency": [1.0], "monetary": [1.0]})
    with pytest.raises(error, match=message):
        RFMQuantileSegmenter(**params).check_features(X)


def test_tree_segments_are_leaves_named_by_their_path() -> None:
    X = pd.DataFrame({"recency": [5.0, 10, 200, 300, 20, 250], "monetary": [50.0, 40, 45, 55, 42, 60]})
    y = pd.Series([0, 0, 1, 1, 0, 1])
    segmenter = DecisionTreeSegmenter(max_depth=1, min_samples_leaf=1, random_state=0)
    labels = segmenter.fit_predict(X, y)
    assert labels.tolist() == [0, 0, 1, 1, 0, 1]
    assert segmenter.segment_names_ == {0: "recency <= 110", 1: "recency > 110"}


def test_tree_paths_give_one_range_per_feature() -> None:
    X = pd.DataFrame({"recency": [1.0, 2, 3, 4, 5, 6, 7, 8]})
    segmenter = DecisionTreeSegmenter(target=None, max_depth=2, min_samples_leaf=1, random_state=0)
    segmenter.fit(X.assign(monetary=0.0), pd.Series([0, 0, 1, 1, 0, 0, 1, 1]))
    assert sorted(segmenter.segment_names_.values()) == ["2.5 < recency <= 4.5", "recency <= 2.5", "recency > 4.5"]


def test_tree_on_a_numeric_target_leaves_it_out_of_the_inputs() -> None:
    X = pd.DataFrame({"recency": [5.0, 10, 200, 300], "monetary": [50.0, 60, 4, 5]})
    segmenter = DecisionTreeSegmenter(target="monetary", max_depth=1, min_samples_leaf=1).fit(X)
    assert segmenter.feature_names_ == ["recency"]
    with pytest.raises(DataError, match="segmentation: decision_tree needs a target"):
        DecisionTreeSegmenter().check_features(X, None)


def test_tree_on_an_amount_label_is_a_regression_tree() -> None:
    X = pd.DataFrame({"recency": [5.0, 10, 200, 300, 20, 250], "frequency": [9.0, 7, 1, 2, 8, 1]})
    spend = pd.Series([120.5, 99.0, 0.0, 3.0, 110.0, 0.0], name="spend")
    segmenter = DecisionTreeSegmenter(max_depth=1, min_samples_leaf=1, random_state=0).fit(X, spend)
    assert segmenter.tree_.__class__.__name__ == "DecisionTreeRegressor"
    assert segmenter.labels_.tolist() == [1, 1, 0, 0, 1, 0]  # the low-spend leaf comes first
    churn = DecisionTreeSegmenter(max_depth=1, min_samples_leaf=1).fit(X, pd.Series([0.0, 0, 1, 1, 0, 1]))
    assert churn.tree_.__class__.__name__ == "DecisionTreeClassifier"


def test_stability_is_one_for_a_deterministic_split_and_nan_when_off() -> None:
    reference = np.array([0] * 50 + [1] * 50)
    assert bootstrap_stability(lambda rows: reference[rows], reference, resamples=3, seed=0) == 1.0
    assert np.isnan(bootstrap_stability(lambda rows: reference[rows], reference, resamples=0, seed=0))


def test_trials_compute_stability_only_when_an_objective_or_constraint_needs_it(scratch: Path) -> None:
    tuned = [*SMALL[:-1], "segmentation.settings.stability_resamples=2", "tuning.n_trials=1"]
    for extra, expected in (
        (["tuning.objectives.segmentation.metric=silhouette"], False),
        (["tuning.objectives.segmentation.metric=stability"], True),
        (["tuning.objectives.segmentation.metric=[silhouette,stability]"], True),
        (["tuning.constraints.segmentation=['stability >= 0.5']"], True),
    ):
        plan = plan_run(compose_config([*tuned, *extra]))
        ((stage, spec),) = plan.stages
        ctx, _ = _load(plan, scratch)
        assert ("stability" in ctx.trial_metrics["segmentation"]) is expected
        assert ("stability" in stage.score(spec.build({}), stage.prepare(spec, ctx), spec)) is expected


def test_more_segments_than_customers_fails_before_fitting(scratch: Path) -> None:
    plan = plan_run(compose_config([*SMALL, "segmentation.n_clusters=5000"]))
    ((stage, spec),) = plan.stages
    ctx, _ = _load(plan, scratch)
    with pytest.raises(DataError, match=r"segmentation: 5000 segments requested for \d+ customers"):
        stage.check(spec, ctx)


def test_density_candidate_that_is_mostly_noise_fails_its_trial(scratch: Path) -> None:
    plan = plan_run(compose_config([*SMALL, "segmentation=dbscan", "segmentation.eps=0.05"]))
    ((stage, spec),) = plan.stages
    ctx, _ = _load(plan, scratch)
    with pytest.raises(ValueError, match="are noise, above segmentation.settings.max_noise_share=0.5"):
        stage.score(spec.build({}), stage.prepare(spec, ctx), spec)


def test_stage_is_registered() -> None:
    assert SegmentationStage.name == "segmentation"


@pytest.mark.parametrize(
    ("frame", "preprocessing", "message"),
    [
        (pd.DataFrame({"a": [1.0] * 6, "b": [2.0] * 6}), "standard", "every feature is constant after preprocessing"),
        (pd.DataFrame({"a": [np.nan] * 6, "b": [1.0, 2, 3, 4, 5, 6]}), "none", r"columns \['a'\] are all NaN"),
        (pd.DataFrame({"a": list("xyzxyz"), "b": [1.0, 2, 3, 4, 5, 6]}), "none", r"non-numeric columns \['a'\]"),
    ],
    ids=["constant", "all-nan", "non-numeric"],
)
def test_bad_matrices_fail_before_fitting(
    frame: pd.DataFrame, preprocessing: str, message: str, tmp_path: Path
) -> None:
    cfg = compose_config(["rules=none", "predictor=none", f"preprocessing={preprocessing}"])
    plan = plan_run(cfg)
    ((stage, spec),) = plan.stages
    ctx = RunState(CRMData("toy"), CustomerTable(frame), plan.preprocessing, 0, tmp_path)
    stage.check(spec, ctx)
    with pytest.raises(DataError, match=f"^segmentation: .*{message}"):
        stage.prepare(spec, ctx)


def test_one_constant_column_is_reported_not_fatal(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    plan = plan_run(compose_config(["rules=none", "predictor=none", "preprocessing=none"]))
    ((stage, spec),) = plan.stages
    frame = pd.DataFrame({"a": [1.0] * 6, "b": [1.0, 2, 3, 4, 5, 6]})
    ctx = RunState(CRMData("toy"), CustomerTable(frame), plan.preprocessing, 0, tmp_path)
    stage.prepare(spec, ctx)
    assert "columns ['a'] are constant after preprocessing" in caplog.text


def test_items_in_profiles_come_from_purchases_up_to_the_cutoff(tmp_path: Path) -> None:
    transactions = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-03-01", "2024-01-15"]),
            "item": ["tea", "cake", "milk"],
        }
    )
    table = CustomerTable(pd.DataFrame({"x": [1.0, 2.0]}, index=["a", "b"]), cutoff=pd.Timestamp("2024-02-01"))
    ctx = RunState(CRMData("toy", transactions=transactions), table, {}, 0, tmp_path)
    assert purchase_history(ctx)["item"].tolist() == ["tea", "milk"]
