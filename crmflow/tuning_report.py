"""What a tuned stage logs on the parent run: its history, the winner and what mattered, and the run's
`best_params.yaml` recipe that refits every stage's winner once (crmflow.best_recipe)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from crmflow.best_recipe import best_recipe, kept_override_keys, recipe_text
from crmflow.plots.importance import param_importance_bars, top_two_scatter
from crmflow.plots.pareto import pareto_front_plot
from crmflow.plots.tuning import optimization_history
from crmflow.stages.contract import TuningResult

__all__ = [
    "BEST_PARAMS_FILE",
    "best_params_text",
    "front_artifacts",
    "importance_artifacts",
    "log_history",
    "winner_records",
]

BEST_PARAMS_FILE = "best_params.yaml"
FRONT_TAG, SELECTED_TAG = "crmflow.pareto_front", "crmflow.selected"  # on a multi-objective study's trial runs


def winner_records(stage: str, tuned: TuningResult) -> tuple[dict[str, str], dict[str, float]]:
    """The parent run's tag `<stage>.best_run_id` (the best trial's child run) and metric `<stage>.best_value`."""
    tags = {f"{stage}.best_run_id": tuned.best_run_id} if tuned.best_run_id else {}
    return tags, {f"{stage}.best_value": tuned.best_value}


def front_artifacts(stage: str, tuned: TuningResult, folder: Path) -> tuple[list[Path], dict[str, dict[str, str]]]:
    """A multi-objective study's `<stage>_pareto_front.csv` and plot, and the tags of its trials' runs: every
    front member gets `crmflow.pareto_front=true`, the one refit also `crmflow.selected=true`."""
    front = tuned.front
    if front is None or front.empty:
        return [], {}
    csv_path = folder / f"{stage}_pareto_front.csv"
    front.to_csv(csv_path, index=False)
    selected = int(front.loc[front["selected"], "number"].iloc[0])
    title = f"{stage}: {int(front['on_front'].sum())} of {len(front)} complete trials on the Pareto front"
    plot = pareto_front_plot(front, tuned.goals, selected, title, folder / f"{stage}_pareto_front.png")
    tags = {}
    for row in front.loc[front["on_front"] & front["run_id"].notna()].itertuples():
        tags[row.run_id] = {FRONT_TAG: "true", **({SELECTED_TAG: "true"} if row.selected else {})}
    return [csv_path, plot], tags


def importance_artifacts(stage: str, tuned: TuningResult, folder: Path) -> list[Path]:
    """`<stage>_param_importances.csv`, its bar chart and the objective over the top two parameters; none when
    the study had too few trials or parameters (the reason was logged when it ended)."""
    importances = tuned.importances
    if importances is None:
        return []
    csv_path = folder / f"{stage}_param_importances.csv"
    importances.to_csv(csv_path, index=False)
    title = f"{stage}: parameter importance for {tuned.objective.metric}"
    bars = param_importance_bars(importances, title, folder / f"{stage}_param_importances.png")
    first, second = importances["parameter"].iloc[:2]
    top_two = top_two_scatter(
        tuned.history,
        first,
        second,
        tuned.objective.metric,
        tuned.objective.direction,
        folder / f"{stage}_top_two_params.png",
    )
    return [csv_path, bars, top_two]


def best_params_text(
    choices: Mapping[str, str],
    overrides: Iterable[str],
    recipe_keys: Iterable[str],
    config: Mapping[str, Any],
    best: Mapping[str, Mapping[str, Any]],
    run_id: str | None = None,
) -> str:
    """The run's `best_params.yaml`: its group choices, its plain overrides (and its recipe's keys) and every
    tuned stage's best parameters, with tuning off; secrets are left out."""
    kept = kept_override_keys(overrides, recipe_keys, config)
    return recipe_text(best_recipe(choices, kept, config, best), run_id)


def log_history(stage: str, tuned: TuningResult, artifact_dir: Path, tracker: Any) -> None:
    """The stage's study on the parent run: trial counts, the history CSV and plot, the winner's tags and value, a
    multi-objective front, and the parameter importances."""
    tracker.log_metrics(
        {"n_trials_complete": tuned.n_complete, "n_trials_failed": tuned.n_failed, "n_trials_pruned": tuned.n_pruned},
        prefix=f"{stage}.tuning.",
    )
    history = tuned.history
    csv_path = artifact_dir / f"{stage}_optuna_history.csv"
    history.to_csv(csv_path, index=False)
    values = history.loc[history["state"] == "COMPLETE"].set_index("number")["value"]
    title = f"{stage}: {tuned.objective.metric} per trial"
    plot = optimization_history(values, tuned.objective.direction, title, artifact_dir / f"{stage}_optuna_history.png")
    tags, best = winner_records(stage, tuned)
    tracker.set_tags(tracker.current_run_id, tags)  # the parent: other processes of a stored study may tag it too
    tracker.log_metrics(best)
    front, trial_tags = front_artifacts(stage, tuned, artifact_dir)
    for run_id, run_tags in trial_tags.items():
        tracker.set_tags(run_id, run_tags)
    artifacts = [csv_path, plot, *front, *importance_artifacts(stage, tuned, artifact_dir)]
    tracker.log_artifacts(artifacts, folder=f"{stage}/tuning")
