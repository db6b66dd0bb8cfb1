"""Runs always end FINISHED, FAILED or KILLED; configs flatten to dotted params."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from crmflow.tracking import Tracker, flatten


def statuses(tracker: Tracker) -> dict[str, str]:
    runs = MlflowClient(tracker.uri).search_runs([tracker.experiment_id])
    return {run.info.run_name: run.info.status for run in runs}


@pytest.mark.parametrize(("error", "status"), [(None, "FINISHED"), (ValueError, "FAILED"), (KeyboardInterrupt, "KILLED")])
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
        "a.b": "1", "a.c.d": "None", "e": "[1, 2]", "f": "{}"}
