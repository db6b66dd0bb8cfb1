"""Every command line of README.md's ```bash blocks that starts with `crmflow` (and the `mlflow models
predict` example) works pasted into bash: run through `bash -c`, it exits 0 (or the code in EXIT_CODES)
and prints no traceback.

All lines run in one temporary folder: its own MLflow store (./mlruns), feature cache, Hydra outputs and the
input files the lines name, which the `workspace` fixture makes. Each line is run as written with two changes,
made the same way for every line:

- Small data. Every line that starts a run gets `tuning.n_trials=2` appended (a later override wins in Hydra),
  and a run on the synthetic generator also `data.n_customers=200`. Recipes on real data (`+experiment=...`)
  read small copies of their datasets: CRMFLOW_DATA_DIR points at a folder of samples (SMALL_COPIES). The
  lines are about which options compose and run, not about how many trials or customers they use.
- Placeholders. README's stand-ins (`<run id>`, `<id>`, file names such as `new_customers.csv`) are replaced
  by what the workspace made (PLACEHOLDERS); add a row there when README gains a new one.

Lines needing what a test cannot make (a remote host, a PostgreSQL server, a package of the reader's own) are
listed in SKIPPED with the reason, and skipped with it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import data_file

from crmflow.data.synthetic import SyntheticCRM

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
N_CUSTOMERS = 200  # synthetic customers per run: a few seconds per line
SMALL = ("tuning.n_trials=2",)  # appended to every run line
SMALL_SYNTHETIC = (f"data.n_customers={N_CUSTOMERS}",)  # appended to every run line on the synthetic data
SUBCOMMANDS = ("compare", "predict", "report")  # crmflow's commands that start no run
LINE_TIMEOUT = 300
JOBS = int(os.environ.get("CRMFLOW_README_JOBS", "2"))  # lines run at once (a run uses about one core)

# A distinctive piece of a README line -> why it is skipped.
SKIPPED: dict[str, str] = {
    "tracking.uri=http://host:5000": "needs PostgreSQL and an MLflow server on a machine named `host`",
    "postgresql+psycopg://user@db/optuna": "needs a PostgreSQL server `db` (tests/test_services.py starts one)",
    "tracking_uri=http://127.0.0.1:5000": "needs an MLflow server on port 5000 (tests/test_compare.py uses one)",
    "my_crm.UpliftStage": "needs the reader's own package my_crm and its churn_uplift group (tests/test_stage_plugins.py)",
}
# A distinctive piece of a README line -> the exit code README says it ends with (default 0).
EXIT_CODES: dict[str, int] = {}


@dataclass
class Workspace:
    """The folder every line runs in, and what it made there for the placeholders."""

    folder: Path
    env: dict[str, str]
    run_id: str = ""
    sweep_id: str = ""
    value_model_id: str = ""


# README's stand-in -> its replacement. Files are made by `workspace`; ids come from its first sweep.
PLACEHOLDERS: dict[str, Callable[[Workspace], str]] = {
    "<run id>": lambda ws: ws.run_id,  # a parent run with a predictor model
    "sweep=<id>": lambda ws: f"sweep={ws.sweep_id}",  # the workspace's sweep
    "<value model id>": lambda ws: ws.value_model_id,  # the value model of the sweep's value=bg_nbd job
    "run=ID": lambda ws: f"run={ws.run_id}",  # e.g. a report of one run
    "register=NAME": lambda ws: "register=readme_model",
    # raw customers beside raw transactions; `input=new_customers.csv` is feature rows
    "customers=new_customers.csv": lambda ws: "customers=raw_customers.csv",
}


# --- README's lines -------------------------------------------------------------------------------------


def _strip_comment(line: str) -> str:
    """The line without a shell comment: a `#` starting a word outside quotes, and what follows."""
    quote = None
    for at, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (at == 0 or line[at - 1].isspace()):
            return line[:at].rstrip()
    return line.rstrip()


def readme_commands(text: str) -> list[str]:
    """The `crmflow ...` lines (and `... mlflow models predict ...`) of the ```bash blocks, `\\`
    continuations joined, comments dropped."""
    commands = []
    for block in re.findall(r"^[ \t]*```bash\n(.*?)^[ \t]*```", text, flags=re.DOTALL | re.MULTILINE):
        joined = re.sub(r"[ \t]*\\\n[ \t]*", " ", block)
        for line in joined.splitlines():
            line = _strip_comment(line.strip())
            if re.match(r"crmflow(\s|$)", line) or re.match(r"(\w+=\S+\s+)*mlflow models predict\s", line):
                commands.append(line)
    return commands


COMMANDS = readme_commands(README.read_text())


def _recipe(words: list[str]) -> str | None:
    return next((w.split("=", 1)[1] for w in words if w.startswith("+experiment=")), None)


def _real_recipe(words: list[str]) -> Path | None:
    """The crmflow recipe (experiments/NAME.yaml) a line runs, if any: those read real datasets."""
    name = _recipe(words)
    path = ROOT / "experiments" / f"{name}.yaml"
    return path if name and path.is_file() else None


def starts_run(command: str) -> bool:
    """Whether a line starts a crmflow run (not `compare`, `predict`, `--help` or another program)."""
    words = shlex.split(command)
    return words[0] == "crmflow" and "--help" not in words and (len(words) < 2 or words[1] not in SUBCOMMANDS)


def runnable(command: str, ws: Workspace) -> str:
    """The line as bash will run it: placeholders replaced and, on a run line, the small-data overrides."""
    for placeholder, value in PLACEHOLDERS.items():
        command = command.replace(placeholder, value(ws))
    if not starts_run(command):
        return command
    words = shlex.split(command)
    synthetic = not any(w.startswith("data=") for w in words) and _real_recipe(words) is None
    return " ".join([command, *SMALL, *(SMALL_SYNTHETIC if synthetic else ())])


# --- the workspace ----------------------------------------------------------------------------------


@dataclass
class Outcome:
    """How one line ended: exit code, stdout and stderr together, wall and CPU seconds (its processes)."""

    line: str
    returncode: int
    output: str
    wall: float
    cpu: float


def _run(line: str, ws: Workspace) -> Outcome:
    """`bash -c line` in the workspace; killed (its process group) after LINE_TIMEOUT seconds."""
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            ["bash", "-c", line],
            cwd=ws.folder,
            env=ws.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        timer = threading.Timer(LINE_TIMEOUT, os.killpg, (process.pid, signal.SIGKILL))
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)  # its own CPU time, even with other lines running
        finally:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        cpu = usage.ru_utime + usage.ru_stime
        return Outcome(line, process.returncode, out.read(), time.perf_counter() - started, cpu)


def _readme_yaml_files(folder: Path) -> None:
    """The files README's ```yaml blocks name on their first line (`# my_conf/segmentation/spectral.yaml`)."""
    for block in re.findall(r"^```yaml\n(.*?)^```", README.read_text(), flags=re.DOTALL | re.MULTILINE):
        for line in block.splitlines()[:2]:
            if found := re.match(r"# (my_conf/\S+\.yaml)", line):
                path = folder / found[1]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(block)


def _german(amount: float) -> str:
    return f"{amount:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")  # 1071.79 -> "1.071,79"


def _input_files(ws: Workspace) -> None:
    """The data files README's lines name, from a small synthetic log."""
    data = SyntheticCRM(n_customers=N_CUSTOMERS).load()
    tx, folder = data.transactions, ws.folder
    german = tx.assign(timestamp=tx["timestamp"].dt.strftime("%d.%m.%Y"), amount=(tx["amount"] * 1000).map(_german))
    german.rename(columns={"item": "product"})[["customer_id", "timestamp", "amount", "product"]].to_csv(
        folder / "sales.csv", sep=";", index=False
    )
    renamed = tx.rename(columns={"customer_id": "cust", "timestamp": "date", "amount": "revenue", "item": "sku"})
    renamed.to_parquet(folder / "sales.parquet")
    tx.to_csv(folder / "new_tx.csv", index=False)
    tx.to_csv(folder / "tx.csv", index=False)
    data.customers.to_csv(folder / "raw_customers.csv", index=False)
    customers = data.customers[["customer_id", "age"]].rename(columns={"customer_id": "id"})
    customers["income"] = customers["id"].map(tx.groupby("customer_id")["amount"].sum() * 100).fillna(0).round()
    customers["churned"] = (customers["income"].rank(pct=True) < 0.3).map({True: "yes", False: "no"})
    customers.to_csv(folder / "customers.csv", index=False)
    (folder / "studies").mkdir()


SMALL_COPIES: dict[str, Callable[[Path, Path], None]] = {
    # every 10th customer's invoice lines (about 440 customers); the recipe's cutoff dates still fit
    "online_retail.parquet": lambda src, dst: _every_nth_customer(pd.read_parquet(src), "CustomerID", 10).to_parquet(
        dst
    ),
    "WA_Fn-UseC_-Telco-Customer-Churn.csv": lambda src, dst: dst.write_text(
        "".join(src.read_text().splitlines(keepends=True)[:601])  # header + 600 customers
    ),
    "CDNOW_sample.txt": lambda src, dst: shutil.copy(src, dst),  # already small: 2,357 customers
    "groceries.csv": lambda src, dst: shutil.copy(src, dst),  # 9,835 baskets: support 0.001 needs them all
}


def _every_nth_customer(frame: pd.DataFrame, column: str, n: int) -> pd.DataFrame:
    kept = sorted(frame[column].dropna().unique())[::n]
    return frame[frame[column].isin(kept)]


def _datasets(recipe: Path) -> list[str]:
    """The files under `data_dir` a recipe reads, also through the recipes in its defaults list."""
    text = recipe.read_text()
    parents = [ROOT / "experiments" / f"{name}.yaml" for name in re.findall(r"^  - (\w+)\s*$", text, re.MULTILINE)]
    inherited = [name for parent in parents if parent.is_file() for name in _datasets(parent)]
    return [*re.findall(r"\$\{data_dir\}/([\w.-]+)", text), *inherited]


def _small_copy(name: str, ws: Workspace) -> None:
    """A small copy of the real dataset `name` in the workspace's data folder (skips when it is absent)."""
    target = Path(ws.env["CRMFLOW_DATA_DIR"]) / name
    if not target.exists():
        assert name in SMALL_COPIES, f"no small copy of {name} in SMALL_COPIES"
        SMALL_COPIES[name](data_file(name), target)


def _first_sweep(ws: Workspace) -> None:
    """A two-job sweep (with and without a value model): the ids the placeholders stand for, `churn_model`
    registered, and the feature rows of its model as new_customers.csv and rows.csv."""
    import mlflow
    from mlflow.tracking import MlflowClient

    sweep = f"crmflow --multirun value=none,bg_nbd {' '.join(SMALL + SMALL_SYNTHETIC)}"
    for command in (sweep, "crmflow compare metric=predictor.roc_auc register=churn_model"):
        result = _run(command, ws)
        assert result.returncode == 0, result.output[-3000:]
    uri = f"sqlite:///{ws.folder}/mlruns/mlflow.db"
    client = MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    parents = [run for run in client.search_runs(experiments) if "crmflow.sweep_id" in run.data.tags]
    models = {
        run.info.run_id: {
            m.name: m
            for m in client.search_logged_models(experiments, filter_string=f"source_run_id = '{run.info.run_id}'")
        }
        for run in parents
    }
    assert sorted("value_model" in found for found in models.values()) == [False, True], models
    ws.run_id = next(run_id for run_id, found in models.items() if "value_model" not in found)
    ws.value_model_id = next(found["value_model"].model_id for found in models.values() if "value_model" in found)
    ws.sweep_id = parents[0].data.tags["crmflow.sweep_id"]
    location = models[ws.run_id]["model"].artifact_location
    with contextlib.chdir(ws.folder):  # a local store's artifact root is relative to it, as for a user
        example = mlflow.artifacts.download_artifacts(f"{location}/input_example.json", dst_path=str(ws.folder))
    rows = pd.read_json(Path(example), orient="split")
    rows.to_csv(ws.folder / "new_customers.csv", index=False)
    # MLflow's CLI casts no int64 column to the signature's double: README says to write counts as 3.0
    rows.astype({c: "float64" for c in rows.select_dtypes("number").columns}).to_csv(
        ws.folder / "rows.csv", index=False
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    folder = tmp_path_factory.mktemp("readme")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env |= {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",  # this crmflow and mlflow
        "CRMFLOW_DATA_DIR": str(folder / "small_data"),
        "CRMFLOW_CACHE_DIR": str(folder / "cache"),
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",  # small data: threads cost more than they give, and JOBS lines share the cores
    }
    (folder / "small_data").mkdir()
    ws = Workspace(folder, env)
    _input_files(ws)
    _readme_yaml_files(folder)
    _first_sweep(ws)
    return ws


def _skip_reason(command: str, ws: Workspace) -> str | None:
    """Why a line is not run: SKIPPED, or a real dataset that is absent (its small copy made otherwise)."""
    if reason := next((why for piece, why in SKIPPED.items() if piece in command), None):
        return reason
    if recipe := _real_recipe(shlex.split(command)):
        try:
            for name in _datasets(recipe):
                _small_copy(name, ws)
        except pytest.skip.Exception as skipped:
            return str(skipped.msg)
    return None


@pytest.fixture(scope="module")
def outcomes(workspace: Workspace) -> dict[str, Outcome | str]:
    """Each line's outcome, or why it is skipped. JOBS lines run at once, starts a second apart (Hydra names its
    output folder by the second); the lines that only read the store run first, so a sweep running beside them
    cannot change what they read."""
    results: dict[str, Outcome | str] = {}
    todo = []
    for command in COMMANDS:
        try:
            reason = _skip_reason(command, workspace)
        except pytest.fail.Exception as failed:  # CRMFLOW_REQUIRE_DATA=1 and a dataset absent: the line fails
            results[command] = Outcome(command, -1, str(failed.msg), 0.0, 0.0)
            continue
        if reason is None:
            todo.append(command)
        else:
            results[command] = reason
    lock, last = threading.Lock(), [0.0]

    def run(command: str) -> Outcome:
        with lock:
            time.sleep(max(0.0, last[0] + 1.1 - time.monotonic()))
            last[0] = time.monotonic()
        return _run(runnable(command, workspace), workspace)

    with ThreadPoolExecutor(JOBS) as pool:
        for phase in ([c for c in todo if not starts_run(c)], [c for c in todo if starts_run(c)]):
            results.update(zip(phase, pool.map(run, phase)))
    timed = sorted((o for o in results.values() if isinstance(o, Outcome)), key=lambda o: -o.cpu)
    print(f"\nREADME lines, {JOBS} at a time (CPU s, wall s):")
    for outcome in timed:
        print(f"{outcome.cpu:6.1f} {outcome.wall:6.1f}  {outcome.line}")
    print(f"{sum(o.cpu for o in timed):6.1f} {sum(o.wall for o in timed):6.1f}  in all")
    return results


# --- the tests ----------------------------------------------------------------------------------------


def test_readme_has_the_lines_this_file_knows() -> None:
    assert len(COMMANDS) >= 50
    for piece in [*SKIPPED, *EXIT_CODES]:
        assert any(piece in command for command in COMMANDS), f"no README line has {piece!r} any more"


@pytest.mark.parametrize("command", COMMANDS, ids=[f"{n:02d}:{c[:60]}" for n, c in enumerate(COMMANDS, 1)])
@pytest.mark.slow
def test_readme_line_runs(command: str, outcomes: dict[str, Outcome | str], workspace: Workspace) -> None:
    outcome = outcomes[command]
    if isinstance(outcome, str):
        pytest.skip(outcome)
    shown = f"{outcome.line}\nexit {outcome.returncode} after {outcome.wall:.1f} s\n{outcome.output[-3000:]}"
    assert outcome.returncode == next((code for piece, code in EXIT_CODES.items() if piece in command), 0), shown
    assert "Traceback (most recent call last)" not in outcome.output, shown
    assert not (workspace.folder / "mlflow.db").exists(), f"a line left a stray ./mlflow.db; last: {outcome.line}"


def test_placeholders_and_small_overrides() -> None:
    ws = Workspace(Path("."), {}, run_id="R1", sweep_id="S1", value_model_id="m-9")
    assert runnable("crmflow segmentation=gmm tuning.n_trials=20", ws) == (
        f"crmflow segmentation=gmm tuning.n_trials=20 tuning.n_trials=2 data.n_customers={N_CUSTOMERS}"
    )
    assert runnable("crmflow data=csv data.transactions.path=sales.csv", ws).endswith("sales.csv tuning.n_trials=2")
    assert runnable("crmflow +experiment=telco_churn", ws) == "crmflow +experiment=telco_churn tuning.n_trials=2"
    assert runnable("crmflow compare sweep=<id> top=5", ws) == "crmflow compare sweep=S1 top=5"
    assert runnable("crmflow report run=ID", ws) == "crmflow report run=R1"
    assert runnable("crmflow predict model=runs:/<run id>/model customers=new_customers.csv", ws) == (
        "crmflow predict model=runs:/R1/model customers=raw_customers.csv"
    )
    assert readme_commands("```bash\ncrmflow a=1 \\\n  'b=#2'  # note\nmlflow ui\n```\n") == ["crmflow a=1 'b=#2'"]


def test_readme_yaml_files_are_written(tmp_path: Path) -> None:
    _readme_yaml_files(tmp_path)
    spectral = yaml.safe_load((tmp_path / "my_conf/segmentation/spectral.yaml").read_text())
    assert spectral["_target_"] == "sklearn.cluster.SpectralClustering"
    assert (tmp_path / "my_conf/experiment/my_recipe.yaml").is_file()
