"""Stored studies: one with another search space is refused before any data is read, `tuning.storage` may be a
`_target_` node (the same study as its string), and each tracking store keeps its own MLflow parent of a study."""

from __future__ import annotations

import importlib
import logging
import socket
from pathlib import Path
from typing import Any

import optuna
import pytest
from helpers import assert_one_line_error, compose_config, run_cli
from mlflow.tracking import MlflowClient
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial
from test_parallel_tuning import FakeLogger

from crmflow.config.components import parse_component
from crmflow.config.search_space import parse_search_space
from crmflow.config.storage_url import JOURNAL_FILE_TARGETS, JOURNAL_TARGETS, RDB_TARGET
from crmflow.config.tuning import TuningSettings
from crmflow.errors import ConfigError
from crmflow.plan import plan_run
from crmflow.run import run
from crmflow.storage import check_storage, open_storage, search_distributions
from crmflow.study_run import PARENT_ATTR, parent_attr, store_identity, study_parent_run
from crmflow.tracking import Tracker
from crmflow.tuning import tune

N_CLUSTERS = {"n_clusters": {"type": "int", "low": 2, "high": 10}}  # conf/segmentation/kmeans.yaml's space
REFUSED = "tuning.study_name: the stored study 'crm.segmentation' has trials drawn from another search space than "
FIX = "choose another tuning.study_name (or delete the study)"


def settings(storage: Any, **tuning: Any) -> TuningSettings:
    node = {"n_trials": 2, "storage": storage, "study_name": "crm", "objectives": {"segmentation": {"metric": "score"}}}
    return TuningSettings.parse({**node, **tuning}, ["segmentation"])


def journal_node(path: Any, target: str = JOURNAL_TARGETS[0], backend: str = JOURNAL_FILE_TARGETS[0]) -> dict:
    return {"_target_": target, "log_storage": {"_target_": backend, "file_path": str(path)}}


def journal(path: Path) -> optuna.storages.BaseStorage:
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))


def store_study(path: Path, *distributions: dict[str, Any]) -> optuna.Study:
    """Study `crm.segmentation` in a journal at `path`, one COMPLETE trial per mapping of distributions."""
    study = optuna.create_study(study_name="crm.segmentation", storage=journal(path), direction="maximize")
    for drawn in distributions:
        params = {n: d.choices[0] if isinstance(d, CategoricalDistribution) else d.low for n, d in drawn.items()}
        study.add_trial(create_trial(params=params, distributions=drawn, value=0.5))
    return study


def space(node: dict[str, Any]) -> dict[str, Any]:
    return {"segmentation": parse_search_space(node, "segmentation.search_space")}


# --- 1. another search space --------------------------------------------------------------------------


TOL = {"type": "float", "low": 1.0e-5, "high": 1.0e-2, "log": True}
INT, FLOAT = IntDistribution(2, 10), FloatDistribution(1e-5, 1e-2, log=True)  # N_CLUSTERS's and TOL's
SHOWN_INT, SHOWN_FLOAT = "IntDistribution(low=2, high=10)", "FloatDistribution(low=1e-05, high=0.01, log=True)"


@pytest.mark.parametrize(
    ("stored", "configured", "difference"),
    [
        (
            {"n_clusters": INT},
            {"n_clusters": {**N_CLUSTERS["n_clusters"], "high": 20}},
            f"n_clusters: stored {SHOWN_INT}, configured IntDistribution(low=2, high=20)",
        ),
        ({"n_clusters": INT}, {**N_CLUSTERS, "tol": TOL}, f"tol: stored none (not tuned), configured {SHOWN_FLOAT}"),
        ({"n_clusters": INT, "tol": FLOAT}, N_CLUSTERS, f"tol: stored {SHOWN_FLOAT}, configured none (not tuned)"),
        (
            {"n_clusters": FloatDistribution(2, 10)},
            N_CLUSTERS,
            f"n_clusters: stored FloatDistribution(low=2.0, high=10.0), configured {SHOWN_INT}",
        ),
        (
            {"n_clusters": IntDistribution(2, 10, step=2)},
            N_CLUSTERS,
            f"n_clusters: stored IntDistribution(low=2, high=10, step=2), configured {SHOWN_INT}",
        ),
        (
            {"algorithm": CategoricalDistribution(["lloyd", "elkan"])},
            {"algorithm": {"type": "categorical", "choices": ["lloyd"]}},
            "algorithm: stored CategoricalDistribution(choices=('lloyd', 'elkan')), "
            "configured CategoricalDistribution(choices=('lloyd',))",
        ),
    ],
    ids=["another-range", "configured-has-more", "stored-has-more", "another-type", "another-step", "other-choices"],
)
def test_every_kind_of_difference_is_named(tmp_path: Path, stored: dict, configured: dict, difference: str) -> None:
    store_study(tmp_path / "study.log", stored)
    with pytest.raises(ConfigError) as caught:
        check_storage(settings(f"journal:{tmp_path}/study.log"), space(configured))
    assert str(caught.value) == f"{REFUSED}segmentation.search_space (parameter {difference}); {FIX}"


def test_the_same_space_passes_and_trials_without_all_distributions_are_not_a_difference(tmp_path: Path) -> None:
    configured = {**N_CLUSTERS, "tol": TOL}
    study = store_study(tmp_path / "study.log", search_distributions(space(configured)["segmentation"]))
    running = study.ask()  # a worker that has drawn one parameter so far (or died there)
    running.suggest_int("n_clusters", 2, 10)
    study.enqueue_trial({"n_clusters": 99})  # WAITING (as trial 0 of start_from_config): fixed params, no distributions
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING]
    check_storage(settings(f"journal:{tmp_path}/study.log"), space(configured))
    store_study(tmp_path / "new.log").enqueue_trial({"n_clusters": 3})  # only waiting: nothing drawn to compare
    check_storage(settings(f"journal:{tmp_path}/new.log"), space({"other": TOL}))


def test_a_stage_this_run_does_not_tune_is_not_compared(tmp_path: Path) -> None:
    store_study(tmp_path / "study.log", {"n_clusters": IntDistribution(2, 10)})
    other = space({"n_clusters": {"type": "int", "low": 3, "high": 10}})
    storage = f"journal:{tmp_path}/study.log"
    check_storage(settings(storage, stages={"segmentation": {"n_trials": 0}}), other)
    check_storage(settings(storage, objectives={}), other)
    check_storage(settings(storage), {"segmentation": parse_search_space({}, "segmentation.search_space")})
    check_storage(settings(storage))  # no spaces given: directions only, as before


def stored_run(tmp_path: Path) -> list[str]:
    """A run that tunes segmentation only (conf/segmentation/kmeans.yaml's space) on the study in tmp_path."""
    return ["rules=none", "predictor=none", f"tuning.storage=journal:{tmp_path}/study.log", "tuning.study_name=crm"]


def test_the_cli_refuses_another_space_with_exit_2_before_any_data_or_run(tmp_path: Path) -> None:
    store_study(tmp_path / "study.log", {"n_clusters": IntDistribution(2, 20)})
    result = run_cli(*stored_run(tmp_path), cwd=tmp_path)
    expected = (
        f"{REFUSED}segmentation.search_space (parameter n_clusters: stored IntDistribution(low=2, high=20), "
        f"configured IntDistribution(low=2, high=10)); {FIX}"
    )
    assert_one_line_error(result, expected, tmp_path)  # exit 2, one line, no MLflow store made


def test_run_refuses_before_loading_the_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store_study(tmp_path / "study.log", {"n_clusters": IntDistribution(2, 20)})
    monkeypatch.setattr("crmflow.run._load", lambda *args: pytest.fail("the data was loaded before the check"))
    cfg = compose_config([*stored_run(tmp_path), f"tracking.uri=sqlite:///{tmp_path}/mlruns/mlflow.db"])
    with pytest.raises(ConfigError, match=r"parameter n_clusters: stored IntDistribution\(low=2, high=20\)"):
        run(cfg)
    assert not (tmp_path / "mlruns").exists()
    assert len(optuna.load_study(study_name="crm.segmentation", storage=journal(tmp_path / "study.log")).trials) == 1


# --- 2. tuning.storage as a _target_ node -------------------------------------------------------------


@pytest.mark.parametrize("target", JOURNAL_TARGETS)
@pytest.mark.parametrize("backend", JOURNAL_FILE_TARGETS)
def test_a_journal_node_is_journal_path(tmp_path: Path, target: str, backend: str) -> None:
    assert settings(journal_node(tmp_path / "study.log", target, backend)) == settings(f"journal:{tmp_path}/study.log")
    assert all(isinstance(named_class(name), type) for name in (target, backend))  # names the installed Optuna has


def named_class(target: str) -> Any:
    module, _, name = target.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_a_node_on_the_command_line_tunes_the_study_of_journal_path(tmp_path: Path) -> None:
    log = tmp_path / "study.log"
    backend = f"{{_target_:optuna.storages.journal.JournalFileBackend,file_path:'{log}'}}"
    node = f"{{_target_:optuna.storages.JournalStorage,log_storage:{backend}}}"
    plan = plan_run(compose_config([f"tuning.storage={node}", "tuning.study_name=crm", "rules=none", "predictor=none"]))
    assert plan.tuning.storage == f"journal:{log}"
    spec = parse_component({"_target_": "sklearn.cluster.KMeans", "n_clusters": 4, "search_space": N_CLUSTERS}, "seg")
    by_node = settings(journal_node(log))
    tune("segmentation", spec, lambda p: {"score": -p["n_clusters"]}, by_node, FakeLogger(tmp_path / "runs"))
    by_string = settings(f"journal:{log}", n_trials=3)
    check_storage(by_string, {"segmentation": spec.search_space})
    tune("segmentation", spec, lambda p: {"score": -p["n_clusters"]}, by_string, FakeLogger(tmp_path / "runs"))
    study = optuna.load_study(study_name="crm.segmentation", storage=open_storage(by_string.storage, by_string))
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3  # resumed: 2 by the node, 1 more


JOURNAL_FORM = (  # written out by hand: what each message tells the user to write
    "{_target_: optuna.storages.JournalStorage, log_storage: "
    "{_target_: optuna.storages.journal.JournalFileBackend, file_path: PATH}}"
)
RDB_FORM = "{_target_: optuna.storages.RDBStorage, url: URL}"
REDIS = "optuna.storages.journal.JournalRedisBackend"


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (
            {"_target_": "optuna.storages.InMemoryStorage"},
            "tuning.storage._target_: expected optuna.storages.JournalStorage or optuna.storages.RDBStorage; "
            f"got 'optuna.storages.InMemoryStorage'; write {JOURNAL_FORM} or {RDB_FORM}",
        ),
        (
            {"_target_": "optuna.storages.RDBStorage"},
            "tuning.storage.url: expected a database URL such as 'postgresql+psycopg://USER@HOST/DB'; got None; "
            f"write {RDB_FORM}",
        ),
        (
            {"_target_": "optuna.storages.RDBStorage", "url": "sqlite:///x.db", "engine_kwargs": {}},
            f"tuning.storage: unknown key 'engine_kwargs' for optuna.storages.RDBStorage; write {RDB_FORM}",
        ),
        (
            {"_target_": "optuna.storages.JournalStorage", "log_storage": {"_target_": JOURNAL_FILE_TARGETS[0]}},
            f"tuning.storage.log_storage.file_path: expected the journal file's path; got None; write {JOURNAL_FORM}",
        ),
        (
            journal_node("x", backend=REDIS),
            "tuning.storage.log_storage._target_: expected optuna.storages.journal.JournalFileBackend or "
            f"optuna.storages.JournalFileStorage; got '{REDIS}'; write {JOURNAL_FORM}",
        ),
    ],
    ids=["other-target", "no-url", "extra-key", "no-file-path", "other-backend"],
)
def test_a_bad_node_is_one_line_naming_tuning_storage(node: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(node)
    assert str(caught.value) == expected


def test_an_rdb_node_is_its_url_checked_like_the_string_password_hidden(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/optuna.db"
    assert settings({"_target_": "optuna.storages.RDBStorage", "url": url}).storage == url
    assert named_class(RDB_TARGET) is optuna.storages.RDBStorage
    with pytest.raises(ConfigError, match=r"^tuning\.storage: must be 'journal:PATH', .*; got 'redis://u:\*\*\*@h/0'$"):
        settings({"_target_": "optuna.storages.RDBStorage", "url": "redis://u:pw@h/0"})


def test_the_cli_refuses_a_bad_target_with_exit_2(tmp_path: Path) -> None:
    result = run_cli("tuning.storage={_target_:optuna.storages.InMemoryStorage}", "tuning.study_name=crm", cwd=tmp_path)
    assert_one_line_error(result, "tuning.storage._target_: expected optuna.storages.JournalStorage or", tmp_path)


# --- 3. one parent per tracking store -----------------------------------------------------------------


def run_level_attrs(path: Path) -> dict[str, Any]:
    return optuna.load_study(study_name="crm", storage=journal(path)).user_attrs


def parent_of(tuning: TuningSettings, tracker: Tracker) -> str:
    with study_parent_run(tuning, tracker, "kmeans", {}) as parent:
        return parent.info.run_id


def test_two_tracking_stores_on_one_study_each_keep_their_own_parent(tmp_path: Path, caplog) -> None:
    tuning = settings(f"journal:{tmp_path}/study.log")
    uri_a, uri_b = f"sqlite:///{tmp_path}/a/mlflow.db", f"sqlite:///{tmp_path}/b/mlflow.db"
    with caplog.at_level(logging.INFO, logger="crmflow.study_run"):
        first_a, first_b = parent_of(tuning, Tracker(uri_a, "e")), parent_of(tuning, Tracker(uri_b, "e"))
        again = [parent_of(tuning, Tracker(uri, "e")) for uri in (uri_a, uri_b, uri_a, uri_b)]
    assert first_a != first_b and again == [first_a, first_b, first_a, first_b]
    attrs = {parent_attr(uri_a, "e"): first_a, parent_attr(uri_b, "e"): first_b}
    assert run_level_attrs(tmp_path / "study.log") == attrs  # none overwritten, no unkeyed one
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert caplog.text.count("created its MLflow parent run") == 2
    other_experiment = parent_of(tuning, Tracker(uri_a, "f"))
    assert other_experiment not in (first_a, first_b)
    assert MlflowClient(uri_a).get_run(other_experiment).data.tags["crmflow.study_name"] == "crm"


def test_the_key_is_the_store_and_experiment_without_the_password() -> None:
    key = parent_attr("http://alice:one@host:5000", "crm")
    assert key == parent_attr("http://alice:two@host:5000", "crm") and key.startswith(f"{PARENT_ATTR}:")
    assert len({key, parent_attr("http://alice:one@other:5000", "crm"), parent_attr("http://host:5000", "x")}) == 3


def test_a_local_store_is_told_apart_by_host_and_absolute_path(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    here = store_identity("sqlite:///mlruns/mlflow.db")
    assert here == f"{socket.gethostname()}:{tmp_path.resolve()}/mlruns/mlflow.db"
    assert store_identity(f"sqlite:///{tmp_path}/mlruns/mlflow.db") == here  # relative or absolute: one store
    assert store_identity("mlruns") == store_identity(f"file://{tmp_path}/mlruns")
    monkeypatch.setattr(socket, "gethostname", lambda: "another-machine")
    assert store_identity("sqlite:///mlruns/mlflow.db") != here  # the same default on another machine


def test_a_study_recorded_before_the_key_keeps_its_parent_in_its_own_store(tmp_path: Path, caplog) -> None:
    tuning = settings(f"journal:{tmp_path}/study.log")
    uri_a, uri_b = f"sqlite:///{tmp_path}/a/mlflow.db", f"sqlite:///{tmp_path}/b/mlflow.db"
    with Tracker(uri_a, "e").parent_run("old crmflow", {}) as old:  # what an older crmflow recorded: no key
        pass
    study = optuna.create_study(study_name="crm", storage=journal(tmp_path / "study.log"))
    study.set_user_attr(PARENT_ATTR, old.info.run_id)
    with caplog.at_level(logging.WARNING):
        assert parent_of(tuning, Tracker(uri_b, "e")) != old.info.run_id  # another store: its own, quietly
        assert parent_of(tuning, Tracker(uri_a, "e")) == old.info.run_id  # the store that has it: attached
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    attrs = run_level_attrs(tmp_path / "study.log")
    assert attrs[PARENT_ATTR] == attrs[parent_attr(uri_a, "e")] == old.info.run_id
    assert parent_of(tuning, Tracker(uri_a, "e")) == old.info.run_id


def test_a_parent_deleted_from_its_store_is_replaced_with_a_warning(tmp_path: Path, caplog) -> None:
    tuning = settings(f"journal:{tmp_path}/study.log")
    uri = f"sqlite:///{tmp_path}/a/mlflow.db"
    first = parent_of(tuning, Tracker(uri, "e"))
    MlflowClient(uri).delete_run(first)
    with caplog.at_level(logging.WARNING, logger="crmflow.study_run"):
        second = parent_of(tuning, Tracker(uri, "e"))
    assert second != first and run_level_attrs(tmp_path / "study.log") == {parent_attr(uri, "e"): second}
    assert f"records parent run {first} for experiment 'e' of sqlite:///{tmp_path}/a/mlflow.db" in caplog.text
