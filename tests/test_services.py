"""Smoke tests of the real services: a shared Optuna study in PostgreSQL filled by two processes, and a
run tracked through `mlflow server` with a metric and an artifact read back."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from helpers import artifact_paths

pytestmark = [pytest.mark.services, pytest.mark.slow]

TRIALS_PER_WORKER = 4


def _add_trials(url: str, study_name: str, worker: int) -> None:
    """A worker process: load the shared study and add trials tagged with the worker's number."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=study_name, storage=optuna.storages.RDBStorage(url))

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker)
        return (trial.suggest_float("x", -10, 10) - 2) ** 2

    study.optimize(objective, n_trials=TRIALS_PER_WORKER)


def test_two_processes_share_an_optuna_study_in_postgres(postgres_url: str) -> None:
    import optuna

    storage = optuna.storages.RDBStorage(postgres_url)
    study = optuna.create_study(study_name="shared", storage=storage, direction="minimize")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_add_trials, args=(postgres_url, "shared", i)) for i in range(2)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
    assert [p.exitcode for p in workers] == [0, 0]

    trials = optuna.load_study(study_name="shared", storage=postgres_url).trials
    assert len(trials) == 2 * TRIALS_PER_WORKER
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert sorted(t.user_attrs["worker"] for t in trials) == [0] * TRIALS_PER_WORKER + [1] * TRIALS_PER_WORKER
    assert len({t.number for t in trials}) == len(trials), "trial numbers are unique across processes"
    assert study.best_value == min(t.value for t in trials)
    storage.engine.dispose()


def test_mlflow_server_tracks_a_metric_and_an_artifact(mlflow_server_url: str, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server_url)
    experiment_id = client.create_experiment("services-smoke")
    run = client.create_run(experiment_id)
    run_id = run.info.run_id
    for step, value in enumerate([0.5, 0.75]):
        client.log_metric(run_id, "auc", value, step=step)
    report = tmp_path / "report.txt"
    report.write_text("segments: 3\n")
    client.log_artifact(run_id, str(report), artifact_path="reports")
    client.set_terminated(run_id)

    fetched = client.get_run(run_id)
    assert fetched.info.status == "FINISHED"
    assert fetched.info.artifact_uri.startswith("mlflow-artifacts:"), "artifacts go through the server's proxy"
    assert fetched.data.metrics == {"auc": 0.75}
    assert [(m.step, m.value) for m in client.get_metric_history(run_id, "auc")] == [(0, 0.5), (1, 0.75)]
    assert artifact_paths(client, run_id) == {"reports/report.txt"}
    downloaded = Path(client.download_artifacts(run_id, "reports/report.txt", str(tmp_path / "back")))
    assert downloaded.read_text() == "segments: 3\n"
