"""Runs always end FINISHED, FAILED or KILLED; configs flatten to dotted params."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from crmflow.tracking import Tracker, flatten


def statuses(tracker: Tracker) -> dict[str, str]:
    runs = MlflowClient(tracker.uri).search_runs([tracker.experiment_id])
    return {run.info.run_name: run.info.status for run in runs}


@pytest.mark.parametrize(
    ("error", "status"), [(None, "FINISHED"), (ValueError, "FAILED"), (KeyboardInterrupt, "KILLED")]
)
def test_parent_and_child_end_with_a_final_status(tmp_path: Path, error: type | None, status: str) -> None:
    tracker = Tracker(f"sqlite:///{tmp_path}/store/mlflow.db", "t")
    try:
        with tracker.parent_run("parent", {}), tracker.child_run("child", {"a": 1}, {}):
            if error is not None:
                raise error()
    except (ValueError, KeyboardInterrupt):
        pass
    assert statuses(tracker) == {"parent": status, "child": status}
    assert (tmp_path / "store" / "mlflow.db").is_file()


def test_flatten_makes_dotted_string_params() -> None:
    assert flatten({"a": {"b": 1, "c": {"d": None}}, "e": [1, 2], "f": {}}) == {
        "a.b": "1",
        "a.c.d": "None",
        "e": "[1, 2]",
        "f": "{}",
    }


def test_logged_model_accepts_missing_values_in_integer_columns(tmp_path: Path) -> None:
    import mlflow.pyfunc
    import numpy as np
    import pandas as pd
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from crmflow.stages.contract import LoggedModel

    X = pd.DataFrame({"tenure": np.arange(40), "visits": np.arange(40) % 7})  # int64 columns
    model = make_pipeline(SimpleImputer(), LogisticRegression()).fit(X, np.arange(40) % 2)
    tracker = Tracker(f"sqlite:///{tmp_path}/mlflow.db", "t")
    with tracker.parent_run("parent", {}):
        uri = tracker.log_model(LoggedModel(model, X.head(5), name="model"))
    loaded = mlflow.pyfunc.load_model(uri)
    assert {spec.type.name for spec in loaded.metadata.get_input_schema().inputs} == {"double"}
    assert len(loaded.predict(pd.DataFrame({"tenure": [3.0, np.nan], "visits": [np.nan, 2.0]}))) == 2
