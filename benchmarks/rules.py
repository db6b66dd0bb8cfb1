"""Benchmark: crmflow's rule mining side by side with mlxtend and (when installed) pyfim, on the same baskets.

Run on demand (not part of the tests): CRMFLOW_DATA_DIR=/path/to/data python benchmarks/rules.py [--only CASE]...
[--repeats 3] [--timeout 1800] [--scale] [--json PATH] [--with-engine-mlxtend]. Cases: groceries (the arules
settings: 5,668 rules), online_retail (baskets = invoices), synthetic_1m; synthetic_10m (long) only with --scale
or --only. Each measurement is a fresh subprocess, interleaved (repeat 1: crmflow, mlxtend, pyfim; repeat 2: ...),
that loads the baskets (lists of item names) into each library's input type, imports the library and warms it
up on three baskets (so lazy imports are not counted), untimed, then times the whole of
- crmflow: `AssociationRules(algorithm="fpgrowth", ...).fit(baskets)` from `Baskets` (the rules stage builds them
  once per run), i.e. encoding, itemsets, the rules table with exact-count metrics and the recommendation index;
  with --with-engine-mlxtend, also crmflow-mlxtend-engine: the same with engine="mlxtend";
- mlxtend: `TransactionEncoder(sparse=True)` + `fpgrowth` + `association_rules`, single-item consequents kept;
- pyfim (Borgelt's C library, `pip install pyfim`): `fim.fpgrowth(target="r")` at crmflow's exact thresholds.
Peak MB: the peak RSS (VmHWM) while timed above the RSS just before; VmHWM is reset first via /proc/self/clear_refs
(where the kernel refuses, "peak_reset": false in the JSON, it covers the loading too). Shown: median seconds over
--repeats, largest peak; DNF (did not finish): the subprocess failed, ran out of memory or outlasted --timeout.
"""

from __future__ import annotations

import argparse
import csv
import gc
import importlib
import importlib.metadata
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DATA_DIR = Path(os.environ.get("CRMFLOW_DATA_DIR", "data"))
Lap = Callable[[str], None]  # a miner calls it with the name of the part it has just finished


@dataclass(frozen=True)
class Case:
    data: str  # groceries, online_retail or synthetic
    min_support: float
    confidence: float
    max_len: int
    baskets: int | None = None  # synthetic cases only
    scale: bool = False  # run only with --scale or --only (long)


CASES = {
    "groceries": Case("groceries", 0.001, 0.5, 10),
    "online_retail": Case("online_retail", 0.01, 0.1, 10),
    "synthetic_1m": Case("synthetic", 0.002, 0.1, 4, 1_000_000),
    "synthetic_10m": Case("synthetic", 0.002, 0.1, 4, 10_000_000, scale=True),
}


def groceries() -> list[list[str]]:
    with (DATA_DIR / "groceries.csv").open(newline="") as handle:  # csv keeps trailing spaces in names
        return [row for row in csv.reader(handle)]


def online_retail() -> list[list[str]]:
    """Invoices of Online Retail: cancellations and missing descriptions left out."""
    lines = pd.read_parquet(DATA_DIR / "online_retail.parquet", columns=["InvoiceNo", "Description"])
    lines = lines[lines["Description"].notna() & (lines["Description"] != "Unknown")]
    lines = lines[~lines["InvoiceNo"].astype(str).str.startswith("C")].drop_duplicates()
    return [list(items) for items in lines.groupby("InvoiceNo", sort=False)["Description"].agg(list)]


def synthetic(n: int, seed: int = 0) -> list[list[str]]:
    """n baskets over 1,000 items with Zipf-like popularity and planted pairs and triples."""
    rng = np.random.default_rng(seed)
    names = np.array([f"item_{i:04d}" for i in range(1_000)])
    weights = 1.0 / np.arange(1, 1_001) ** 0.8
    sizes = np.clip(rng.poisson(3.5, n), 1, 30)
    flat = rng.choice(1_000, size=int(sizes.sum()), p=weights / weights.sum())
    baskets = [set(chunk) for chunk in np.split(flat, np.cumsum(sizes)[:-1])]
    for members, share in (((7, 140), 0.05), ((33, 260, 511), 0.02)):
        for i in np.flatnonzero(rng.random(n) < share):
            baskets[i].update(members)
    return [names[list(basket)].tolist() for basket in baskets]


def load(case: Case, synthetic_baskets: int | None) -> list[list[str]]:
    if case.data == "synthetic":
        return synthetic(synthetic_baskets or case.baskets or 0)
    return {"groceries": groceries, "online_retail": online_retail}[case.data]()


def as_input(rows: list[list[str]], implementation: str) -> Any:
    """The baskets as the implementation takes them: crmflow's `Baskets`, else the lists of items."""
    if not implementation.startswith("crmflow"):
        return rows
    from crmflow.rules import Baskets

    return Baskets(items=[frozenset(row) for row in rows])


def mine_crmflow(baskets: Any, case: Case, lap: Lap, engine: str | None = None) -> int:
    from crmflow.rules import AssociationRules

    estimator = AssociationRules(
        algorithm="fpgrowth", min_support=case.min_support, min_threshold=case.confidence, metric="confidence",
        max_len=case.max_len, min_len=2, single_consequent=True, max_itemsets=50_000_000,
        **({} if engine is None else {"engine": engine}),
    )  # fmt: skip
    n_rules = len(estimator.fit(baskets).rules_)
    lap("fit")
    return n_rules


def mine_mlxtend(rows: list[list[str]], case: Case, lap: Lap) -> int:
    with warnings.catch_warnings(action="ignore"):
        from mlxtend.frequent_patterns import association_rules, fpgrowth
        from mlxtend.preprocessing import TransactionEncoder

        encoder = TransactionEncoder()
        matrix = encoder.fit(rows).transform(rows, sparse=True)
        frame = pd.DataFrame.sparse.from_spmatrix(matrix, columns=encoder.columns_)
        lap("encode")
        itemsets = fpgrowth(frame, min_support=case.min_support, use_colnames=True, max_len=case.max_len)
        lap("itemsets")
        rules = association_rules(itemsets, num_itemsets=len(rows), metric="confidence", min_threshold=case.confidence)
        n_rules = int((rules["consequents"].map(len) == 1).sum())
    lap("rules")
    return n_rules


def mine_pyfim(rows: list[list[str]], case: Case, lap: Lap) -> int:
    """Rules body => one head item, of zmin..zmax items; mode "o": rule support is that of body u head (as arules).

    supp < 0 is a basket count, crmflow's ceil(min_support * n); conf (percent) goes in a hair low, then the rules
    are kept as crmflow keeps them, count(A u C) / count(A) >= conf in floats."""
    import fim

    min_count = max(1, math.ceil(round(case.min_support * len(rows), 9)))
    found = fim.fpgrowth(
        rows, target="r", supp=-min_count, conf=case.confidence * 100 * (1 - 1e-9),
        zmin=2, zmax=case.max_len, report="ab", mode="o",
    )  # fmt: skip
    lap("rules")
    n_rules = sum(1 for _, _, both, body in found if both / body >= case.confidence)
    lap("exact threshold")
    return n_rules


# implementation -> (miner, modules imported before the timing starts, so import time is not counted)
MINERS: dict[str, tuple[Callable[[Any, Case, Lap], int], list[str]]] = {
    "crmflow": (mine_crmflow, ["crmflow.rules"]),
    "crmflow-mlxtend-engine": (partial(mine_crmflow, engine="mlxtend"), ["crmflow.rules", "mlxtend.frequent_patterns"]),
    "mlxtend": (mine_mlxtend, ["mlxtend.frequent_patterns", "mlxtend.preprocessing"]),
    "pyfim": (mine_pyfim, ["fim"]),
}


def status_mb(field: str) -> float:
    """A field of /proc/self/status (VmRSS, VmHWM, ...) in MB."""
    lines = Path("/proc/self/status").read_text().splitlines()
    return int(next(line.split()[1] for line in lines if line.startswith(f"{field}:"))) / 1024


def reset_peak() -> bool:
    """Reset the peak RSS (VmHWM) to the current RSS; False where the kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


WARM_UP = [["a", "b"], ["a", "b", "c"], ["b", "c"]]


def measure(name: str, implementation: str, synthetic_baskets: int | None) -> dict[str, object]:
    """One measurement, in this (fresh) process."""
    case = CASES[name]
    rows = as_input(load(case, synthetic_baskets), implementation)
    miner, modules = MINERS[implementation]
    with warnings.catch_warnings(action="ignore"):
        for module in modules:
            importlib.import_module(module)
    miner(as_input(WARM_UP, implementation), Case("warm-up", 0.3, 0.1, case.max_len), lambda part: None)
    gc.collect()
    peak_reset = reset_peak()
    before = status_mb("VmRSS")
    marks = [("start", time.perf_counter())]
    n_rules = miner(rows, case, lambda part: marks.append((part, time.perf_counter())))
    peak = status_mb("VmHWM")
    parts = {part: end - begin for (_, begin), (part, end) in zip(marks, marks[1:])}
    return {"baskets": len(rows), "rules": n_rules, "seconds": marks[-1][1] - marks[0][1], "parts": parts,
            "rss_before_mb": before, "peak_mb": peak, "peak_over_start_mb": peak - before,
            "peak_reset": peak_reset}  # fmt: skip


def run_one(name: str, implementation: str, repeat: int, args: argparse.Namespace) -> dict[str, object]:
    """One measurement in a fresh subprocess; status ok, timeout or failed (with the exit code and error)."""
    size = ["--synthetic-baskets", str(args.synthetic_baskets)] if args.synthetic_baskets else []
    command = [sys.executable, __file__, "--measure", name, implementation, *size]
    record: dict[str, object] = {"case": name, "impl": implementation, "repeat": repeat}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return record | {"status": "timeout", "error": f"timeout after {args.timeout:g} s"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        reason = "killed, out of memory?" if done.returncode == -9 else last
        return record | {"status": "failed", "exit_code": done.returncode, "error": reason}
    return record | {"status": "ok"} | json.loads(done.stdout.strip().splitlines()[-1])


def environment() -> dict[str, object]:
    """Versions, cores and whether AssociationRules has the ``engine`` parameter (False if crmflow fails to load)."""
    installed = {dist.metadata["Name"].lower(): dist.version for dist in importlib.metadata.distributions()}
    packages = {package: installed.get(package, "not installed") for package in ("numpy", "pandas", "mlxtend", "pyfim")}
    try:  # crmflow may be mid-change; its measurements then report the failure
        engine = "engine" in importlib.import_module("crmflow.rules").AssociationRules().get_params()
    except Exception:
        engine = False
    return {"python": platform.python_version(), **packages, "cores": os.cpu_count(), "engine_param": engine}


@dataclass(frozen=True)
class Cell:
    """One (case, implementation) of the table; ``why`` it did not finish, else its figures."""

    why: str = ""
    baskets: int = 0
    rules: int = 0
    seconds: float = 0.0  # median over the repeats
    peak_mb: float = 0.0  # largest over the repeats


def summarise(runs: list[dict[str, Any]]) -> Cell:
    """The cell of a (case, implementation): did not finish when any of its runs did not."""
    failed = [run for run in runs if run["status"] != "ok"]
    if failed:
        code = f", exit code {failed[0]['exit_code']}" if "exit_code" in failed[0] else ""
        return Cell(why=f"did not finish ({failed[0]['error']}{code})")
    seconds = statistics.median(run["seconds"] for run in runs)
    return Cell("", runs[0]["baskets"], runs[0]["rules"], seconds, max(run["peak_over_start_mb"] for run in runs))


def times(slower: Cell | None, faster: Cell | None) -> str:
    if slower is None or faster is None or slower.why or faster.why:
        return "-"
    return f"{slower.seconds / max(faster.seconds, 1e-9):.1f}x"


def report(results: dict[str, dict[str, Cell]], impls: list[str]) -> None:
    short = [impl.replace("crmflow-mlxtend-engine", "crm-mlx") for impl in impls]
    seconds, peaks = ("".join(f"{name + unit:>12}" for name in short) for unit in (" s", " MB"))
    ratios = f"{'mlxtend/crmflow':>16}{'crmflow/pyfim':>16}"
    print(f"{'case':<15}{'baskets':>11}  {'rules ' + '/'.join(short):<28}{seconds}{peaks}{ratios}")
    for name, cells in results.items():
        done = [cells[impl] for impl in impls if not cells[impl].why]
        rules = "/".join("DNF" if cells[impl].why else f"{cells[impl].rules:,}" for impl in impls)
        seconds = "".join(f"{'DNF':>12}" if cells[i].why else f"{cells[i].seconds:>12.2f}" for i in impls)
        peaks = "".join(f"{'DNF':>12}" if cells[i].why else f"{cells[i].peak_mb:>12,.0f}" for i in impls)
        ratios = f"{times(cells['mlxtend'], cells['crmflow']):>16}{times(cells['crmflow'], cells.get('pyfim')):>16}"
        print(f"{name:<15}{f'{done[0].baskets:,}' if done else '?':>11}  {rules:<28}{seconds}{peaks}{ratios}")
    print("mlxtend/crmflow: how many times faster crmflow is than mlxtend; crmflow/pyfim: how many times faster")
    print("pyfim is than crmflow (below 1x: crmflow is the faster). s: median seconds; MB: peak RSS over the start.")
    for name, cells in results.items():
        print("".join(f"{name} {impl}: {cell.why}\n" for impl, cell in cells.items() if cell.why), end="")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(CASES), action="append", help="run only this case (repeatable)")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per case and implementation")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed to one measurement")
    parser.add_argument("--scale", action="store_true", help="also run synthetic_10m (long)")
    parser.add_argument("--json", type=Path, help="write every raw measurement to this file")
    parser.add_argument("--with-engine-mlxtend", action="store_true", help="also time crmflow with engine=mlxtend")
    parser.add_argument("--synthetic-baskets", type=int, help=argparse.SUPPRESS)  # smoke runs at a small size
    parser.add_argument("--measure", nargs=2, metavar=("CASE", "IMPL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure, args.synthetic_baskets)))
        return
    env = environment()
    print(", ".join(f"{key} {value}" for key, value in env.items()))
    if args.with_engine_mlxtend and not env["engine_param"]:
        print("AssociationRules has no engine parameter: crmflow-mlxtend-engine skipped")
    engine = ["crmflow-mlxtend-engine"] if args.with_engine_mlxtend and env["engine_param"] else []
    impls = ["crmflow", *engine, "mlxtend", *(["pyfim"] if env["pyfim"] != "not installed" else [])]
    names = args.only or [name for name, case in CASES.items() if args.scale or not case.scale]
    measurements: list[dict[str, object]] = []
    results: dict[str, dict[str, Cell]] = {}
    for name in names:
        for repeat in range(1, args.repeats + 1):
            for impl in impls:  # interleaved; one that did not finish is not tried again on this case
                if not any(m["case"] == name and m["impl"] == impl and m["status"] != "ok" for m in measurements):
                    measurements.append(run_one(name, impl, repeat, args))
        results[name] = {impl: summarise([m for m in measurements if m["case"] == name and m["impl"] == impl])
                         for impl in impls}  # fmt: skip
    report(results, impls)
    if args.json:
        cases = {name: asdict(CASES[name]) for name in names}
        args.json.write_text(json.dumps({"environment": env, "cases": cases, "measurements": measurements}, indent=1))


if __name__ == "__main__":
    main()
