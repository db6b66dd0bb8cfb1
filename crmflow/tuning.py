"""crmflow's own Optuna loop: one study per tuned stage, trials logged by `tracking.trials`, N worker processes.

With `tuning.n_workers: N > 1` the workers are forked (`multiprocessing.get_context("fork")`), so they inherit the
prepared stage data and the `evaluate` closure instead of rebuilding them; each opens its own storage, loads the
study (`load_if_exists`, as Optuna documents multi-process optimisation), seeds its sampler with the sampler's seed
(`${tuning.seed}`) plus its index, and logs through `tracker.worker()`. Worker 0 keeps the seed itself, so one
worker reproduces a single-process study exactly. See crmflow.studies for what counts towards `n_trials`.

Given a `closer` (crmflow's Tracker), `tune` ends KILLED the trial runs that dead workers left RUNNING, at its start
(a resume) and at its end (workers of this run or of another process that died meanwhile). A worker that loses its
database connection waits for it and goes on (crmflow.reconnect).
"""

from __future__ import annotations

import ctypes
import inspect
import logging
import math
import multiprocessing
import os
import signal
import tempfile
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

import optuna
from optuna.storages import BaseStorage

from crmflow.config.components import ComponentSpec, build_node, resolve_target
from crmflow.config.goals import Objective
from crmflow.config.tuning import TuningSettings
from crmflow.pruning import FoldPruned, FoldReporter, build_pruner
from crmflow.reconnect import Outage
from crmflow.redact import redact
from crmflow.stages.contract import TuningResult
from crmflow.storage import goals_record, open_storage, release_connections
from crmflow.studies import (
    STAGE_TAG,
    TRIAL_TAG,
    ClaimLock,
    RunCloser,
    Session,
    StudyPlace,
    describe,
    end_dead_runs,
    fail_dead_trials,
    load_study,
    start_from_config,
)
from crmflow.tracking.trials import trial_logger
from crmflow.tuning_progress import progress
from crmflow.tuning_result import study_result
from crmflow.workers import mark_worker

logger = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # prctl(2)
WORKER_GRACE_SECONDS = 10.0  # an interrupted worker's time to end its trial and MLflow run
Evaluate = Callable[..., dict[str, float]]  # (parameters) -> metrics; (parameters, fold report) with a pruner on


class TrialLogger(Protocol):
    """What a study needs from tracking: a run per trial, the trial's metrics logged in it, and a fresh logger
    for another process, attached to the same store and parent run."""

    def child_run(
        self, name: str, params: Mapping[str, Any], tags: Mapping[str, str]
    ) -> AbstractContextManager[Any]: ...

    def log_metrics(self, metrics: Mapping[str, float], prefix: str = "", step: int = 0) -> None: ...

    def worker(self) -> TrialLogger: ...


def _sampler(settings: TuningSettings, worker: int = 0) -> optuna.samplers.BaseSampler:
    """The configured sampler; worker i > 0 gets its seed + i when the sampler class takes a seed."""
    if settings.sampler is None:
        return optuna.samplers.TPESampler(seed=settings.seed + worker)
    node = dict(settings.sampler)
    if worker and "seed" in inspect.signature(resolve_target(node.get("_target_"), "tuning.sampler")).parameters:
        seed = node.get("seed", settings.seed)
        node["seed"] = None if seed is None else int(seed) + worker
    return build_node(node, "tuning.sampler")


@dataclass(frozen=True)
class _Job:
    """Everything a worker needs, inherited through fork: nothing here is pickled."""

    stage: str
    spec: ComponentSpec
    evaluate: Evaluate
    settings: TuningSettings
    goals: tuple[Objective, ...]  # one for a single-objective study
    place: StudyPlace
    session: Session


def _objective(job: _Job, tracker: TrialLogger, lock: ClaimLock) -> Callable[[optuna.Trial], float | list[float]]:
    bounds = job.settings.bounds.get(job.stage, ())

    def trial_objective(trial: optuna.Trial) -> float | list[float]:
        lock.release()  # the trial exists (RUNNING, so counted): the next claim may go ahead
        mark_worker(trial)
        params = job.spec.search_space.suggest(trial)
        tags = {STAGE_TAG: job.stage, TRIAL_TAG: str(trial.number)}
        with tracker.child_run(f"{job.stage} · trial {trial.number}", params, tags) as run:
            run_id = getattr(getattr(run, "info", None), "run_id", None)
            if isinstance(run_id, str):
                trial.set_user_attr("mlflow_run_id", run_id)
            pruning = job.settings.pruner_of(job.stage) != "none"
            report = FoldReporter(trial, job.goals[0].metric, tracker) if pruning else None
            try:
                metrics = job.evaluate(params) if report is None else job.evaluate(params, report)
                tracker.log_metrics(metrics)
                values = [metrics[goal.metric] for goal in job.goals]
                for goal, value in zip(job.goals, values, strict=True):
                    if not math.isfinite(value):
                        raise ValueError(f"{goal.metric} is {value}")
            except FoldPruned as pruned:  # PRUNED in the study, its run KILLED with the reason
                trial.set_user_attr("pruned", str(pruned))
                raise
            except Exception as error:
                trial.set_user_attr("error", redact(f"{type(error).__name__}: {error}"))
                raise
        trial.set_user_attr("metrics", metrics)
        for bound in bounds:  # Optuna's constraint API: > 0 is infeasible, and an infeasible trial never wins
            trial.set_constraint(str(bound), bound.violation(metrics.get(bound.metric, math.nan)))
        return values[0] if len(values) == 1 else values

    return trial_objective


def _work(job: _Job, study: optuna.Study, storage: BaseStorage | None, tracker: TrialLogger) -> None:
    """Claim and run trials one at a time until the session's budget, failure limit or time is spent.

    Each trial is one `study.optimize(n_trials=1)` (Optuna's loop: heartbeat, stale-trial failing, `catch`);
    the claim lock is held from the budget check until the trial exists, so claims are exact (across machines with
    a database storage, on one host with a journal). A lost database connection is waited out (`Outage`).
    """
    lock = ClaimLock(job.place)
    trial_objective = _objective(job, tracker, lock)
    shown = progress(job.stage, job.goals, job.session, bar=job.settings.n_workers == 1)  # workers: log lines
    outage = Outage(job.settings.grace_period)
    after_trial = getattr(tracker, "after_trial", None)  # a logger that writes once the study stored the trial
    callbacks = [shown, *([after_trial] if after_trial else [])]
    try:
        while True:
            try:
                lock.acquire()
                try:
                    if not job.session.may_start(study, storage):
                        return
                    study.optimize(trial_objective, n_trials=1, catch=(Exception,), callbacks=callbacks)
                finally:
                    lock.release()
            except Exception as error:
                outage.recover(study, storage, error)  # re-raises all but a lost database connection
                continue
            outage.over()
    finally:
        shown.close()


def _die_with_parent(parent: int) -> None:
    """Linux: this worker gets SIGTERM when the process that forked it dies (even by kill -9), so no worker
    goes on claiming trials for a run that is gone."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the parent's finally still stops its workers
        return
    if os.getppid() != parent:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _worker_main(job: _Job, tracker: TrialLogger, index: int, report: Connection, parent: int) -> None:
    """One forked worker: its own storage and sampler, its own tracker; an error is sent back to the parent."""
    message = ""
    _die_with_parent(parent)
    try:
        storage = open_storage(job.place.url, job.settings)
        sampler, pruner = _sampler(job.settings, index), build_pruner(job.settings.pruner_of(job.stage))
        study = load_study(
            job.place, job.goals, job.stage, storage, sampler, pruner, goals_record(job.settings, job.stage)
        )
        _work(job, study, storage, tracker.worker())
    except Exception as error:  # not swallowed: the parent raises it once every worker has ended
        logger.exception("%s: tuning worker %d failed", job.stage, index)
        message = f"{type(error).__name__}: {error}"
    except KeyboardInterrupt:  # Ctrl-C reaches every worker; its trial is FAIL and its run KILLED already
        message = "interrupted"
    report.send(message)
    report.close()


def _run_workers(job: _Job, study: optuna.Study, storage: BaseStorage | None, tracker: TrialLogger) -> None:
    """Fork `n_workers` workers and wait for them; trials of a worker that died are failed and, if the budget is
    not spent, a new round of workers finishes the study."""
    context = multiprocessing.get_context("fork")
    while True:
        release_connections(storage)
        workers = []
        for index in range(job.settings.n_workers):
            reader, writer = context.Pipe(duplex=False)
            args = (job, tracker, index, writer, os.getpid())
            process = context.Process(target=_worker_main, args=args, name=f"tune-{index}")
            process.start()
            writer.close()
            workers.append((index, process, reader))
        errors = _wait(job.stage, workers)
        if errors:
            raise RuntimeError(f"tuning {job.stage}: " + "; ".join(errors))
        if not (fail_dead_trials(study, storage) and job.session.may_start(study, storage)):
            return
        logger.warning("%s: starting the workers again to finish the study", job.stage)


def _wait(stage: str, workers: list[tuple[int, Any, Connection]]) -> list[str]:
    errors = []
    try:
        for index, process, reader in workers:
            try:
                message = reader.recv()
            except EOFError:  # it died without a word (killed)
                message = None
            process.join()
            if message:
                errors.append(f"worker {index}: {message}")
            elif message is None:
                code = process.exitcode
                logger.warning("%s: tuning worker %d (pid %d) died, exit code %s", stage, index, process.pid, code)
    finally:  # e.g. on Ctrl-C: each worker gets time to end its own trial and run, then none outlives the run
        for _, process, reader in workers:
            process.join(timeout=WORKER_GRACE_SECONDS)
            for stop in (process.terminate, process.kill):
                if process.is_alive():
                    stop()
                    process.join(timeout=5)
            reader.close()
    return errors


def tune(
    stage: str,
    spec: ComponentSpec,
    evaluate: Evaluate,
    settings: TuningSettings,
    tracker: TrialLogger,
    workdir: Path | None = None,
    closer: RunCloser | None = None,
) -> TuningResult:
    """Run the stage's study (resuming a stored one); with `tracking.trials: runs` each trial is a nested MLflow run
    that ends FINISHED or FAILED (KILLED, by `closer`, when its worker died); see crmflow.tracking.trials.

    `workdir` holds the run's scratch files (the private journal of several workers without a storage).
    """
    goals = settings.goals_of(stage)
    logged = trial_logger(tracker, stage, tuple(goal.metric for goal in goals))
    tracker = logged  # `closer` still ends trial runs an earlier `tracking.trials: runs` process left RUNNING
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # crmflow logs each trial, failures in one line
    with tempfile.TemporaryDirectory(prefix=f"crmflow-{stage}-", dir=workdir) as scratch:
        place = StudyPlace.of(settings, stage, Path(scratch))
        storage = open_storage(place.url, settings)
        pruner = build_pruner(settings.pruner_of(stage))
        study = load_study(place, goals, stage, storage, _sampler(settings), pruner, goals_record(settings, stage))
        if place.persistent:
            fail_dead_trials(study, storage)
            end_dead_runs(stage, study, closer)
        session = Session.begin(study, settings, stage, place)
        configured = spec.search_space.configured_point(spec.params)
        if settings.start_from_config and configured:  # trial 0: the YAML's values
            start_from_config(configured, study, place)
        job = _Job(stage, spec, evaluate, settings, goals, place, session)
        try:
            if settings.n_workers == 1:
                _work(job, study, storage, tracker)
            elif session.may_start(study, storage):
                logger.info("%s: %d workers on study %s", stage, settings.n_workers, describe(place))
                _run_workers(job, study, storage, tracker)
        finally:  # interrupted or not: runs of trials that did not end are ended KILLED
            end_dead_runs(stage, study, closer)
        return study_result(stage, spec, goals, settings.select_of(stage), study)
