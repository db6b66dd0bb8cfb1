"""Quadratic segmenters are costed before any fit; a seeded fit sample labels every customer."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from helpers import assert_one_line_error, compose_config, run_cli
from mlflow.tracking import MlflowClient
from sklearn.base import BaseEstimator
from sklearn.cluster import AgglomerativeClustering, KMeans

from crmflow.errors import ConfigError
from crmflow.model_loading import load_model
from crmflow.paths import config_dir
from crmflow.plan import plan_run
from crmflow.run import _load, run
from crmflow.segmentation.cost import LINEAR_OPTIONS, check_fit_memory, fit_memory_gib, largest_fit
from crmflow.segmentation.sampling import SampledSegmenter, sample_rows

SMALL = ["data.n_customers=1200", "rules=none", "predictor=none", "tuning=off"]
OVER_BUDGET = (
    "segmentation.settings.memory_budget_gib: AgglomerativeClustering needs about 6.71 GiB for 30000 customers "
    "(memory: quadratic, n*n*8 bytes), above the budget of 4 GiB; set segmentation.settings.fit_sample=23000 "
    "(about 3.94 GiB) to fit a seeded sample and assign the other customers, raise "
    "segmentation.settings.memory_budget_gib, or choose a linear option (segmentation=kmeans, "
    "segmentation=minibatch_kmeans, segmentation=birch)"
)


def test_quadratic_memory_is_estimated_by_hand() -> None:
    # 30,000² pairs × 8 bytes = 7.2e9 bytes = 6.71 GiB; 150,000 customers: 25 times that
    assert fit_memory_gib("quadratic", 30_000) == pytest.approx(7.2e9 / 2**30) == pytest.approx(6.7055, abs=1e-4)
    assert fit_memory_gib("quadratic", 150_000) == pytest.approx(25 * 7.2e9 / 2**30)
    assert fit_memory_gib("linear", 10**9) is None
    # sqrt(4 GiB / 8 bytes) = 23,170 customers, rounded down to 23,000 (3.94 GiB)
    assert largest_fit(4.0) == 23_000 and fit_memory_gib("quadratic", 23_000) == pytest.approx(3.941, abs=1e-3)
    assert largest_fit(1e-12) == 3


def test_over_budget_names_the_estimate_the_sample_the_budget_and_linear_options() -> None:
    with pytest.raises(ConfigError) as raised:
        check_fit_memory("AgglomerativeClustering", "quadratic", 4.0, 30_000, None)
    assert str(raised.value) == OVER_BUDGET
    check_fit_memory("AgglomerativeClustering", "quadratic", 4.0, 30_000, 23_000)  # the suggested sample fits
    check_fit_memory("AgglomerativeClustering", "quadratic", 4.0, 20_000, 50_000)  # a sample above n: all of them
    check_fit_memory("KMeans", "linear", 0.001, 10**7, None)  # linear options are not estimated
    with pytest.raises(
        ConfigError, match=r"^segmentation.settings.fit_sample: 25000 is too large: .* 4.66 GiB for 25000"
    ):
        check_fit_memory("AgglomerativeClustering", "quadratic", 4.0, 30_000, 25_000)


def test_options_declare_their_memory_and_the_suggested_ones_are_linear() -> None:
    memory = {
        option: plan_run(compose_config([*SMALL, f"segmentation={option}"])).stages[0][1].settings.memory
        for option in ("agglomerative", *LINEAR_OPTIONS)
    }
    assert memory == {"agglomerative": "quadratic", **dict.fromkeys(LINEAR_OPTIONS, "linear")}
    assert all((config_dir() / "segmentation" / f"{option}.yaml").is_file() for option in LINEAR_OPTIONS)
    with pytest.raises(ConfigError, match="segmentation.settings.memory: must be a str among"):
        plan_run(compose_config([*SMALL, "segmentation.settings.memory=cubic"]))
    with pytest.raises(ConfigError, match="segmentation.settings.fit_sample: 3 customers cannot make the 4 segments"):
        plan_run(compose_config([*SMALL, "segmentation.settings.fit_sample=3"]))


def test_the_cli_refuses_an_over_budget_fit_in_one_line_before_any_run(tmp_path: Path) -> None:
    # 1183 of the 1200 customers bought before the cutoff: 1183² × 8 bytes = 0.0104 GiB, above 0.005 GiB
    result = run_cli(
        *SMALL, "segmentation=agglomerative", "segmentation.settings.memory_budget_gib=0.005", cwd=tmp_path
    )
    expected = "segmentation.settings.memory_budget_gib: AgglomerativeClustering needs about 0.0104 GiB for 1183"
    assert_one_line_error(result, expected, tmp_path)
    # sqrt(0.005 GiB / 8 bytes) = 819 customers, rounded down to 810
    assert "set segmentation.settings.fit_sample=810 (about 0.00489 GiB)" in result.stderr
    assert "segmentation=kmeans" in result.stderr


class _Recorder(BaseEstimator):
    """Labels rows by the sign of their first column and records how many rows each fit saw."""

    sizes: ClassVar[list[int]] = []

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        type(self).sizes.append(len(X))
        return (np.asarray(X)[:, 0] > 0).astype(int)


def test_a_sampled_fit_sees_the_sample_and_assigns_the_rest_to_the_nearest_sampled_customer() -> None:
    X = pd.DataFrame({"a": np.r_[np.linspace(-3, -1, 50), np.linspace(1, 3, 50)], "b": 0.0})
    _Recorder.sizes.clear()
    sampled = SampledSegmenter(_Recorder(), fit_sample=20, random_state=0)
    labels = sampled.fit_predict(X)
    assert _Recorder.sizes == [20] and sampled.n_fitted_ == 20 and sampled.assignment_ == "nearest_sample"
    assert labels.tolist() == [0] * 50 + [1] * 50  # every row labelled, the far side of 0 by its nearest neighbour
    assert sample_rows(100, 20, 0).tolist() == sample_rows(100, 20, 0).tolist()  # seeded
    assert sampled.predict(pd.DataFrame({"a": [-9.0, 9.0], "b": 0.0})).tolist() == [0, 1]
    kmeans = SampledSegmenter(KMeans(2, n_init=1, random_state=0), fit_sample=20).fit(X)
    assert kmeans.assignment_ == "predict"


def test_a_fit_sample_stage_labels_every_customer_and_reports_how(tmp_path: Path) -> None:
    overrides = ["segmentation=agglomerative", "segmentation.settings.fit_sample=300"]
    overrides += ["segmentation.settings.stability_resamples=2"]
    plan = plan_run(compose_config([*SMALL, *overrides]))
    ((stage, spec),) = plan.stages
    state, _ = _load(plan, tmp_path)
    stage.check(spec, state)
    prepared = stage.prepare(spec, state)
    sizes: list[int] = []
    fit_predict = AgglomerativeClustering.fit_predict

    def recorded(self: AgglomerativeClustering, X: Any, y: Any = None) -> np.ndarray:
        sizes.append(len(X))
        return fit_predict(self, X, y)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AgglomerativeClustering, "fit_predict", recorded)
        trial = stage.score(spec.build({}), prepared, spec)
        result = stage.finalize(spec.build({}), prepared, spec, state, None)
    assert sizes == [300] * 4  # the trial, the final fit and its two stability refits: each on the sample
    assert trial["n_segments"] == result.metrics["n_segments"] == 4
    assert result.metrics["fit_sample"] == 300
    n = len(state.table.X)  # 1183: the customers who bought before the cutoff
    assert result.metrics["assigned_by_nearest_sample"] == pytest.approx((n - 300) / n)
    labels = state.segments.labels
    assert labels.index.equals(state.table.X.index) and labels.notna().all() and labels.nunique() == 4
    assert isinstance(state.segments.segmenter, SampledSegmenter)  # the predictor's folds fit the sample too


@pytest.mark.slow
@pytest.mark.parametrize(
    ("option", "method"),
    [("agglomerative", "nearest_sample"), ("birch", "predict")],  # BIRCH: a tree skops cannot store, rebuilt on load
)
def test_a_fit_sample_run_logs_the_sample_and_the_assignment_and_its_model_loads(
    option: str, method: str, tracking_overrides: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    overrides = ["data.n_customers=1200", "rules=none", "tuning=off", f"segmentation={option}"]
    overrides += ["segmentation.settings.fit_sample=400", "segmentation.settings.stability_resamples=0"]
    overrides += ["predictor.settings.cv_folds=2", "predictor.settings.permutation_repeats=1"]
    result = run(compose_config(overrides + tracking_overrides))
    parent = MlflowClient(result.tracking_uri).get_run(result.run_id)
    assert parent.data.params["segmentation.settings.fit_sample"] == "400"
    assert parent.data.metrics["segmentation.fit_sample"] == 400
    n = parent.data.metrics["features.n_customers"]
    assert parent.data.metrics[f"segmentation.assigned_by_{method}"] == pytest.approx((n - 400) / n)
    # the churn model's segment feature refits the sampled segmenter inside each fold, and loads without pickle
    model = load_model(result.model_uri, result.tracking_uri)
    assert set(model.predict(model.input_example)) <= {0, 1}
