"""Runs always end FINISHED, FAILED or KILLED; configs flatten to dotted params; the tracker keeps no
process-global MLflow state; attaching, datasets, models, and an unreachable or real tracking server."""

from __future__ import annotations

import base64
import os
import pickle
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.entities import LoggedModelStatus
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from crmflow.errors import ConfigError
from crmflow.redact import redact
from crmflow.tracking import Tracker, check_reachable, flatten
from crmflow.tracking.datasets import dataset_entity, log_dataset


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


@pytest.mark.parametrize(
    ("error", "reason", "kind"),
    [
        (ValueError("bad value\nsecond line"), "bad value", "ValueError"),
        (
            RuntimeError("cannot reach http://alice:hunter2@host:5000"),
            "cannot reach http://alice:***@host:5000",
            "RuntimeError",
        ),
        (ValueError(), "ValueError", "ValueError"),
        (KeyboardInterrupt(), "interrupted (Ctrl-C or SIGTERM)", "KeyboardInterrupt"),
    ],
)
def test_a_failed_run_records_why_in_tags(tmp_path: Path, error: BaseException, reason: str, kind: str) -> None:
    tracker = Tracker(f"sqlite:///{tmp_path}/mlflow.db", "t")
    with pytest.raises(type(error)), tracker.parent_run("parent", {}), tracker.child_run("child", {}, {}):
        raise error
    for run in MlflowClient(tracker.uri).search_runs([tracker.experiment_id]):
        assert run.data.tags["crmflow.error"] == reason and run.data.tags["crmflow.error_type"] == kind


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


def small_model() -> tuple:
    from sklearn.linear_model import LogisticRegression

    from crmflow.stages.contract import LoggedModel

    X = pd.DataFrame({"tenure": np.arange(40.0), "visits": np.arange(40.0) % 7})
    return LoggedModel(LogisticRegression().fit(X, np.arange(40) % 2), X.head(5), name="model"), X


def test_no_global_mlflow_state_and_logs_go_to_the_open_run(tmp_path: Path) -> None:
    before = mlflow.get_tracking_uri()
    tracker = Tracker(f"sqlite:///{tmp_path}/mlflow.db", "t")
    with tracker.parent_run("parent", {"crmflow.version": "x"}) as parent:
        assert mlflow.active_run() is None and tracker.parent_run_id == parent.info.run_id
        tracker.log_metrics({"a": 1}, prefix="p.")
        with tracker.child_run("child", {"n": 3}, {}) as child:
            assert tracker.current_run_id == child.info.run_id
            tracker.log_metrics({"score": 0.5})
            tracker.log_text("hello", "notes/child.txt")
        tracker.log_params({"k": "v"})
    assert mlflow.get_tracking_uri() == before and tracker.parent_run_id is None
    client = MlflowClient(tracker.uri)
    parent_run, child_run = client.get_run(parent.info.run_id), client.get_run(child.info.run_id)
    assert parent_run.data.metrics == {"p.a": 1.0} and parent_run.data.params == {"k": "v"}
    assert parent_run.data.tags["crmflow.version"] == "x"
    assert child_run.data.metrics == {"score": 0.5} and child_run.data.params == {"n": "3"}
    assert child_run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert [f.path for f in client.list_artifacts(child.info.run_id, "notes")] == ["notes/child.txt"]


def test_attaching_leaves_the_parent_status_unless_the_attacher_fails(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    owner, client = Tracker(uri, "t"), MlflowClient(uri)
    with owner.parent_run("parent", {}) as parent:
        run_id = parent.info.run_id
        other = Tracker(uri, "t")
        with other.parent_run("ignored", {}, run_id=run_id), other.child_run("trial", {}, {}):
            pass
        assert client.get_run(run_id).info.status == "RUNNING"
        with pytest.raises(ValueError), other.parent_run("ignored", {}, run_id=run_id):
            raise ValueError("a worker fails")
        assert client.get_run(run_id).info.status == "FAILED"
    assert client.get_run(run_id).info.status == "FINISHED"  # the owner ends it


def test_worker_is_a_picklable_fresh_tracker_on_the_same_parent(tmp_path: Path) -> None:
    tracker = Tracker(f"sqlite:///{tmp_path}/mlflow.db", "t")
    with pytest.raises(RuntimeError, match="needs an open parent_run"):
        tracker.worker()
    with tracker.parent_run("parent", {}) as parent, tracker.child_run("trial", {}, {}):
        worker = pickle.loads(pickle.dumps(tracker.worker()))
        assert worker.parent_run_id == parent.info.run_id and worker.current_run_id == parent.info.run_id
        assert (worker.uri, worker.experiment_id, worker._client) == (tracker.uri, tracker.experiment_id, None)
        with worker.child_run("worker trial", {}, {}) as child:
            assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id


def test_a_logged_model_loads_from_its_uri_and_from_runs_uri(tmp_path: Path) -> None:
    import mlflow.pyfunc
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    logged, X = small_model()
    tracker = Tracker(f"sqlite:///{tmp_path}/mlflow.db", "t")
    with tracker.parent_run("parent", {}) as parent:
        uri = tracker.log_model(logged)
    assert mlflow.pyfunc.load_model(uri).metadata.run_id == parent.info.run_id
    with _use_tracking_uri(tracker.uri):  # as `crmflow predict tracking_uri=...` does
        model = mlflow.pyfunc.load_model(f"runs:/{parent.info.run_id}/model")
    assert len(model.predict(X.head(3))) == 3
    [found] = MlflowClient(tracker.uri).search_logged_models([tracker.experiment_id])
    assert (found.source_run_id, found.status, found.name) == (parent.info.run_id, LoggedModelStatus.READY, "model")


def frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"customer_id": [f"C{i}" for i in range(rows)], "amount": rng.random(rows)})


def test_dataset_digest_is_cheap_stable_and_sees_changes() -> None:
    big = frame(1_000_000)
    started = time.perf_counter()
    first = dataset_entity(big, "d")
    assert time.perf_counter() - started < 2.0
    assert dataset_entity(big.copy(), "d").digest == first.digest
    changed = big.copy()
    changed.loc[len(big) - 1, "amount"] = -1.0  # the last row is always sampled
    assert dataset_entity(changed, "d").digest != first.digest
    assert dataset_entity(big.head(999_999), "d").digest != first.digest
    assert '"num_rows": 1000000' in first.profile and "customer_id" in first.schema


def test_a_dataset_logged_twice_to_one_experiment_is_one_dataset(tmp_path: Path) -> None:
    tracker = Tracker(f"sqlite:///{tmp_path}/mlflow.db", "t")
    for name in ("a", "b"):
        with tracker.parent_run(name, {}):
            tracker.log_dataset(frame(100), "data.customers", "customers")
            tracker.log_dataset(frame(100), "data.customers", "customers")
    runs = MlflowClient(tracker.uri).search_runs([tracker.experiment_id])
    assert [len(run.inputs.dataset_inputs) for run in runs] == [1, 1]
    assert len({run.inputs.dataset_inputs[0].dataset.digest for run in runs}) == 1


class RacingClient:
    """log_inputs fails as if another process inserted the same dataset first, then succeeds."""

    def __init__(self, error: str, failures: int = 1) -> None:
        self.error, self.failures, self.calls = error, failures, 0

    def log_inputs(self, run_id: str, datasets: list) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise MlflowException(self.error)


def test_a_dataset_race_is_retried_and_other_errors_raise() -> None:
    racing = RacingClient("(sqlite3.IntegrityError) UNIQUE constraint failed: datasets.experiment_id, datasets.name")
    log_dataset(racing, "run", frame(10), "d", "customers")
    assert racing.calls == 2
    broken = RacingClient("RESOURCE_DOES_NOT_EXIST: run 'run' not found")
    with pytest.raises(MlflowException, match="not found"):
        log_dataset(broken, "run", frame(10), "d", "customers")
    assert broken.calls == 1


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nobody listens once the socket is closed


def test_an_unreachable_server_fails_fast_without_showing_the_password() -> None:
    uri = f"http://alice:s3cret@127.0.0.1:{closed_port()}"
    started = time.perf_counter()
    with pytest.raises(ConfigError) as error:
        check_reachable(uri)
    assert time.perf_counter() - started < 5
    message = str(error.value)
    assert message.startswith(f"tracking.uri: cannot reach the MLflow tracking server at {redact(uri)}: ")
    assert "s3cret" not in message and "alice:***@127.0.0.1" in message
    assert "mlflow server --host 127.0.0.1 --port 5000" in message and "tracking=local" in message
    check_reachable("sqlite:///mlruns/mlflow.db")  # a local store: nothing to reach


def test_a_server_answering_health_is_reachable_and_gets_the_uri_credentials() -> None:
    seen: list[tuple[str, str | None]] = []

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append((self.path, self.headers.get("Authorization")))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Health) as server:
        threading.Thread(target=server.handle_request, daemon=True).start()
        check_reachable(f"http://bob:pw@127.0.0.1:{server.server_address[1]}/")
    assert seen == [("/health", "Basic " + base64.b64encode(b"bob:pw").decode())]


@pytest.mark.slow
@pytest.mark.services
def test_a_tracking_server_gets_runs_metrics_artifacts_and_a_model(mlflow_server_url: str, tmp_path: Path) -> None:
    import mlflow.pyfunc
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    check_reachable(mlflow_server_url)
    logged, X = small_model()
    (tmp_path / "profile.csv").write_text("segment,n\n0,3\n")
    tracker = Tracker(mlflow_server_url, "server")
    tracker.ensure_experiment()
    with tracker.parent_run("parent", {}) as parent:
        for number in range(2):
            with tracker.child_run(f"trial {number}", {"number": number}, {}):
                tracker.log_metrics({"score": number})
        tracker.log_metrics({"roc_auc": 0.9}, prefix="predictor.")
        tracker.log_artifacts([tmp_path / "profile.csv"], folder="segmentation")
        uri = tracker.log_model(logged)
    client = MlflowClient(mlflow_server_url)
    done = client.get_run(parent.info.run_id)
    assert done.info.status == "FINISHED" and done.data.metrics == {"predictor.roc_auc": 0.9}
    kids = client.search_runs([tracker.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert len(kids) == 2 and {k.info.status for k in kids} == {"FINISHED"}
    assert [f.path for f in client.list_artifacts(parent.info.run_id, "segmentation")] == ["segmentation/profile.csv"]
    with _use_tracking_uri(mlflow_server_url):
        for model_uri in (uri, f"runs:/{parent.info.run_id}/model"):
            assert len(mlflow.pyfunc.load_model(model_uri).predict(X.head(2))) == 2


def test_a_tag_race_on_the_shared_parent_is_retried_and_other_errors_are_not() -> None:
    calls: list[tuple[str, str]] = []

    class RacingClient:
        def set_tag(self, run_id: str, key: str, value: str) -> None:
            calls.append((key, value))
            if len(calls) == 1:  # another process inserted the same tag a moment before
                raise MlflowException("BAD_REQUEST: (sqlite3.IntegrityError) UNIQUE constraint failed: tags.key")
            if key == "broken":
                raise MlflowException("RESOURCE_DOES_NOT_EXIST: run not found")

    tracker = Tracker.__new__(Tracker)
    tracker._client, tracker._client_pid = RacingClient(), os.getpid()  # type: ignore[assignment]
    tracker.set_tags("run", {"crmflow.best": "1", "other": "2"})
    assert calls == [("crmflow.best", "1"), ("crmflow.best", "1"), ("other", "2")]
    with pytest.raises(MlflowException, match="run not found"):
        tracker.set_tags("run", {"broken": "x"})
    assert calls[-1] == ("broken", "x") and len(calls) == 4  # not retried
