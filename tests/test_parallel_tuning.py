"""Parallel, shared and resumable studies: N forked workers on one study, storages by scale, resume = finish."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from crmflow.config.components import parse_component
from crmflow.config.tuning import TuningSettings
from crmflow.errors import ConfigError
from crmflow.storage import check_storage, open_storage
from crmflow.tuning import tune

ROOT = Path(__file__).resolve().parents[1]
NODE = {
    "_target_": "sklearn.cluster.KMeans",
    "n_clusters": 4,
    "search_space": {
        "n_clusters": {"type": "int", "low": 2, "high": 2000},
        "tol": {"type": "float", "low": 1e-6, "high": 1.0, "log": True},
    },
}
SPEC = parse_component(NODE, "segmentation")


def evaluate(params: dict[str, Any]) -> dict[str, float]:
    """CPU-cheap and deterministic, with its optimum inside the space."""
    return {"score": -abs(params["n_clusters"] - 700) / 700 - abs(params["tol"] - 0.01)}


def settings(**tuning: Any) -> TuningSettings:
    node = {"n_trials": 6, "seed": 0, "max_failures": 10, "objectives": {"segmentation": {"metric": "score"}}}
    return TuningSettings.parse({**node, **tuning}, ["segmentation"])


class FakeLogger:
    """A TrialLogger that appends one line per child run to a file, so forked workers' runs are visible."""

    def __init__(self, path: Path, role: str = "parent") -> None:
        self.path, self.role = path, role

    @contextmanager
    def child_run(self, name: str, params: Any, tags: Any) -> Iterator[None]:
        yield
        with self.path.open("a") as out:
            out.write(f"{self.role} {os.getpid()} {tags['crmflow.trial']}\n")

    def log_metrics(self, metrics: Any, prefix: str = "") -> None:
        pass

    def worker(self) -> FakeLogger:
        return FakeLogger(self.path, "worker")


def stored(tuning: TuningSettings, stage: str = "segmentation") -> optuna.Study:
    storage = open_storage(tuning.storage, tuning)
    return optuna.load_study(study_name=f"{tuning.study_name}.{stage}", storage=storage)


def states(study: optuna.Study) -> dict[str, int]:
    found: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        found[trial.state.name] = found.get(trial.state.name, 0) + 1
    return found


@pytest.mark.parametrize("stored_study", [True, False], ids=["journal", "private-journal"])
def test_four_workers_reach_exactly_n_trials_with_no_duplicate_parameters(tmp_path: Path, stored_study: bool) -> None:
    storage = {"storage": f"journal:{tmp_path}/optuna.journal", "study_name": "crm"} if stored_study else {}
    tuning = settings(n_trials=24, n_workers=4, **storage)
    runs = tmp_path / "runs.txt"
    result = tune("segmentation", SPEC, evaluate, tuning, FakeLogger(runs), workdir=tmp_path)
    assert (result.n_complete, result.n_failed) == (24, 0)
    assert list(result.history["state"]) == ["COMPLETE"] * 24
    points = {(row.params_n_clusters, row.params_tol) for row in result.history.itertuples()}
    assert len(points) == 24
    lines = [line.split() for line in runs.read_text().splitlines()]
    assert sorted(int(trial) for _, _, trial in lines) == list(range(24))
    assert {role for role, _, _ in lines} == {"worker"} and len({pid for _, pid, _ in lines}) > 1
    assert os.getpid() not in {int(pid) for _, pid, _ in lines}  # the parent only waits
    if stored_study:
        study = stored(tuning)
        assert states(study) == {"COMPLETE": 24}
        assert {t.user_attrs["worker_host"] for t in study.trials} == {socket.gethostname()}
    else:
        assert not list(tmp_path.glob("crmflow-segmentation-*"))  # the private journal is scratch


@pytest.mark.parametrize("storage", ["journal:{tmp}/optuna.journal", "sqlite:///{tmp}/optuna.db"])
def test_one_worker_on_a_storage_matches_the_study_in_memory(tmp_path: Path, storage: str) -> None:
    in_memory = tune("segmentation", SPEC, evaluate, settings(n_trials=12), FakeLogger(tmp_path / "a"))
    tuning = settings(n_trials=12, storage=storage.format(tmp=tmp_path), study_name="same")
    on_disk = tune("segmentation", SPEC, evaluate, tuning, FakeLogger(tmp_path / "b"))
    assert on_disk.best_params == in_memory.best_params and on_disk.best_value == in_memory.best_value
    columns = ["value", "params_n_clusters", "params_tol"]
    assert on_disk.history[columns].equals(in_memory.history[columns])


def test_resume_finishes_the_total_and_add_runs_more(tmp_path: Path) -> None:
    storage = {"storage": f"journal:{tmp_path}/optuna.journal", "study_name": "resume"}
    log = FakeLogger(tmp_path / "runs.txt")
    first = tune("segmentation", SPEC, evaluate, settings(n_trials=3, **storage), log)
    assert first.n_complete == 3 and first.history.loc[0, "params_n_clusters"] == 4  # trial 0: the YAML's value
    before = {t.number: t.params for t in stored(settings(**storage)).trials}
    assert tune("segmentation", SPEC, evaluate, settings(n_trials=6, **storage), log).n_complete == 6
    assert tune("segmentation", SPEC, evaluate, settings(n_trials=6, **storage), log).n_complete == 6  # done
    assert tune("segmentation", SPEC, evaluate, settings(n_trials=3, resume="add", **storage), log).n_complete == 9
    study = stored(settings(**storage))
    assert states(study) == {"COMPLETE": 9}
    assert {n: study.trials[n].params for n in before} == before
    assert sum("fixed_params" in t.system_attrs for t in study.trials) == 1  # the YAML's trial, enqueued once


def test_resume_finish_counts_complete_trials_and_retries_failures(tmp_path: Path) -> None:
    calls = iter(range(100))

    def flaky(params: dict[str, Any]) -> dict[str, float]:
        if next(calls) % 3 == 1:
            raise RuntimeError("boom")
        return evaluate(params)

    tuning = settings(n_trials=6, storage=f"journal:{tmp_path}/j.journal", study_name="flaky")
    result = tune("segmentation", SPEC, flaky, tuning, FakeLogger(tmp_path / "runs.txt"))
    assert result.n_complete == 6 and result.n_failed == 3


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_running_trial_of_a_dead_process_is_failed_at_resume(tmp_path: Path, caplog) -> None:
    tuning = settings(n_trials=4, storage=f"journal:{tmp_path}/optuna.journal", study_name="dead")
    study = optuna.create_study(
        study_name="dead.segmentation", storage=open_storage(tuning.storage, tuning), direction="maximize"
    )
    orphan = study.ask()
    orphan.suggest_int("n_clusters", 2, 2000)
    orphan.set_user_attr("worker_host", socket.gethostname())
    orphan.set_user_attr("worker_pid", dead_pid())
    with caplog.at_level(logging.WARNING, logger="crmflow.studies"):
        result = tune("segmentation", SPEC, evaluate, tuning, FakeLogger(tmp_path / "runs.txt"))
    assert "trial 0 was left RUNNING by dead process" in caplog.text
    trials = stored(tuning).trials
    assert trials[0].state is TrialState.FAIL and "died" in trials[0].user_attrs["error"]
    assert states(stored(tuning)) == {"FAIL": 1, "COMPLETE": 4} and result.n_complete == 4
    retried = [t for t in trials if t.user_attrs.get("retry_of") == 0]  # its parameters, run once more
    assert len(retried) == 1 and retried[0].params["n_clusters"] == orphan.params["n_clusters"]


SCRIPT = """
import sys, time
from contextlib import nullcontext
from crmflow.config.components import parse_component
from crmflow.config.tuning import TuningSettings
from crmflow.tuning import tune
from test_parallel_tuning import NODE, evaluate

class Quiet:
    def child_run(self, name, params, tags):
        return nullcontext()
    def log_metrics(self, metrics, prefix=""):
        pass
    def worker(self):
        return self

def slow(params):
    time.sleep(0.15)
    return evaluate(params)

node = {"n_trials": 16, "seed": 0, "n_workers": 2, "storage": "journal:" + sys.argv[1], "study_name": "kill",
        "objectives": {"segmentation": {"metric": "score"}}}
result = tune("segmentation", parse_component(NODE, "segmentation"), slow, TuningSettings.parse(node, ["segmentation"]), Quiet())
print(result.n_complete)
"""


def test_kill_9_of_a_worker_loses_no_complete_trial(tmp_path: Path) -> None:
    journal = tmp_path / "optuna.journal"
    script = tmp_path / "study.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    process = subprocess.Popen([sys.executable, str(script), str(journal)], env=env, cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    tuning = settings(n_trials=16, storage=f"journal:{journal}", study_name="kill")
    deadline, victim, complete = time.monotonic() + 120, None, {}
    while victim is None and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
        if not journal.exists() or "kill.segmentation" not in optuna.get_all_study_names(
            open_storage(tuning.storage, tuning)
        ):
            continue
        trials = stored(tuning).trials
        complete = {t.number: (t.params, t.value) for t in trials if t.state is TrialState.COMPLETE}
        running = [t for t in trials if t.state is TrialState.RUNNING and "worker_pid" in t.user_attrs]
        if len(complete) >= 3 and running:
            victim = running[0]
            os.kill(victim.user_attrs["worker_pid"], signal.SIGKILL)
    assert victim is not None, process.communicate(timeout=60)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert out.strip() == "16"  # the surviving worker finished the study
    study = stored(tuning)
    pid = victim.user_attrs["worker_pid"]
    killed = [t for t in study.trials if t.user_attrs.get("worker_pid") == pid and t.state is TrialState.FAIL]
    assert len(killed) == 1 and "died" in killed[0].user_attrs["error"]
    assert {n: (study.trials[n].params, study.trials[n].value) for n in complete} == complete
    assert "RUNNING" not in states(study) and states(study)["COMPLETE"] == 16
    resumed = tune("segmentation", SPEC, evaluate, tuning, FakeLogger(tmp_path / "runs.txt"))
    assert resumed.n_complete == 16 and "RUNNING" not in states(stored(tuning))


def test_storage_refusals_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"tuning.n_workers: must be 1 with a SQLite storage; got 4; .*journal:PATH"):
        settings(storage="sqlite:///optuna.db", study_name="crm", n_workers=4)
    with pytest.raises(ConfigError, match=r"tuning.study_name: must be a non-empty str; got None; a study in"):
        settings(storage="journal:optuna.journal")
    with pytest.raises(ConfigError, match=r"tuning.storage: must be 'journal:PATH', .* got 'redis://h/0'"):
        settings(storage="redis://h/0", study_name="crm")
    with pytest.raises(ConfigError, match=r"got 'postgres://crm:\*\*\*@db/x'; did you mean 'postgresql'"):
        settings(storage="postgres://crm:s3cret@db/x", study_name="crm")
    with pytest.raises(ConfigError, match=r"tuning.grace_period: must be an int in the range \(60, inf\); got 30"):
        settings(grace_period=30)
    with pytest.raises(ConfigError, match=r"tuning.resume: .* got 'finsh'; did you mean 'finish'"):
        settings(resume="finsh")
    assert settings(storage="postgresql+psycopg://crm@db/x", study_name="crm", n_workers=4).n_workers == 4


def test_check_storage_redacts_the_password_of_a_database_it_cannot_reach() -> None:
    tuning = settings(storage="postgresql+psycopg://crm:s3cret@127.0.0.1:1/crm", study_name="crm")
    with pytest.raises(ConfigError) as caught:
        check_storage(tuning)
    message = str(caught.value)
    assert message.startswith("tuning.storage: cannot connect to postgresql+psycopg://crm:***@127.0.0.1:1/crm: ")
    assert "s3cret" not in message and "\n" not in message


def test_a_stored_study_with_another_direction_is_refused(tmp_path: Path) -> None:
    storage = {"storage": f"journal:{tmp_path}/optuna.journal", "study_name": "crm"}
    tune("segmentation", SPEC, evaluate, settings(n_trials=2, **storage), FakeLogger(tmp_path / "runs.txt"))
    check_storage(settings(**storage))
    other = settings(**storage, objectives={"segmentation": {"metric": "score", "direction": "minimize"}})
    with pytest.raises(ConfigError, match=r"tuning.study_name: the stored study 'crm.segmentation' is to maximize"):
        check_storage(other)
    with pytest.raises(ConfigError, match=r"tuning.study_name: .* asks to minimize score"):
        tune("segmentation", SPEC, evaluate, other, FakeLogger(tmp_path / "runs.txt"))


def first_draw(sampler: optuna.samplers.BaseSampler) -> float:
    return optuna.create_study(sampler=sampler).ask().suggest_float("x", 0, 1)


def test_workers_seed_their_samplers_from_the_seed_and_their_index() -> None:
    from crmflow.tuning import _sampler

    node = {"_target_": "optuna.samplers.RandomSampler", "seed": 7}
    draws = [first_draw(_sampler(settings(sampler=node), worker)) for worker in (0, 0, 1, 2)]
    assert draws == [first_draw(optuna.samplers.RandomSampler(seed=seed)) for seed in (7, 7, 8, 9)]
    assert first_draw(_sampler(settings(seed=3), 2)) == first_draw(optuna.samplers.TPESampler(seed=5))


@pytest.mark.slow
@pytest.mark.services
def test_workers_share_a_postgresql_study(postgres_url: str, tmp_path: Path) -> None:
    tuning = settings(n_trials=12, n_workers=3, storage=postgres_url, study_name=f"pg-{uuid.uuid4().hex[:8]}")
    check_storage(tuning)
    storage = open_storage(tuning.storage, tuning)
    assert (storage.heartbeat_interval, storage.grace_period) == (60, 120)
    assert isinstance(storage.get_heartbeat_stale_trial_callback(), optuna.storages.RetryHeartbeatStaleTrialCallback)
    result = tune("segmentation", SPEC, evaluate, tuning, FakeLogger(tmp_path / "runs.txt"), workdir=tmp_path)
    assert result.n_complete == 12
    study = stored(tuning)
    assert states(study) == {"COMPLETE": 12}
    assert len({tuple(sorted(t.params.items())) for t in study.trials}) == 12
    assert len({t.user_attrs["worker_pid"] for t in study.trials}) > 1


@pytest.mark.slow
def test_worker_trials_are_nested_child_runs_of_the_parent(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    from crmflow.tracking import Tracker

    tracker = Tracker(f"sqlite:///{tmp_path}/mlflow.db", "parallel-test")
    with tracker.parent_run("p", {}) as parent:
        result = tune("segmentation", SPEC, evaluate, settings(n_trials=6, n_workers=2), tracker, workdir=tmp_path)
    assert result.n_complete == 6
    children = MlflowClient(tracker.uri).search_runs(
        [tracker.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert sorted(run.info.status for run in children) == ["FINISHED"] * 6
    assert sorted(int(run.data.tags["crmflow.trial"]) for run in children) == list(range(6))
