"""Benchmark: crmflow's rule mining against calling mlxtend directly, on the same baskets.

Run on demand (not part of the tests):  python benchmarks/rules.py [--baskets 1000000] [--only NAME]
Cases: Groceries (groceries.csv, the arules settings), Online Retail (baskets = invoices), and a
synthetic log of --baskets baskets. Each (case, implementation) runs in its own process, which
first builds the baskets (a list of item lists) and then mines them; the figures cover mining only:
- crmflow: `AssociationRules(...).fit(baskets)` as the rules stage calls it (sparse encoding,
  itemsets, single-consequent rules with exact thresholds, the recommendation index);
- mlxtend: `TransactionEncoder(sparse=True)`, the mlxtend miner, `association_rules`, then the
  single-item consequents kept.
Peak memory is the process's peak RSS above its RSS before mining. Target: crmflow within 10% of
mlxtend's wall time.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

DATA_DIR = Path(os.environ.get("CRMFLOW_DATA_DIR", "data"))
# case -> mining parameters (crmflow names); the same thresholds go to mlxtend
CASES: dict[str, dict[str, object]] = {
    "groceries/apriori": {"algorithm": "apriori", "min_support": 0.001, "min_threshold": 0.5, "max_len": 10},
    "groceries/fpgrowth": {"algorithm": "fpgrowth", "min_support": 0.001, "min_threshold": 0.5, "max_len": 10},
    "online_retail/fpgrowth": {"algorithm": "fpgrowth", "min_support": 0.01, "min_threshold": 0.1, "max_len": None},
    "synthetic/fpgrowth": {"algorithm": "fpgrowth", "min_support": 0.002, "min_threshold": 0.1, "max_len": 4},
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


def load(case: str, n: int) -> list[list[str]]:
    name = case.split("/")[0]
    return synthetic(n) if name == "synthetic" else {"groceries": groceries, "online_retail": online_retail}[name]()


def mine_crmflow(rows: list[list[str]], params: dict[str, object]) -> int:
    from crmflow.rules import AssociationRules, Baskets

    baskets = Baskets(items=[frozenset(row) for row in rows])
    return len(AssociationRules(**params, max_itemsets=10_000_000).fit(baskets).rules_)  # type: ignore[arg-type]


def mine_mlxtend(rows: list[list[str]], params: dict[str, object]) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mlxtend import frequent_patterns
        from mlxtend.preprocessing import TransactionEncoder

        encoder = TransactionEncoder()
        matrix = encoder.fit(rows).transform(rows, sparse=True)
        frame = pd.DataFrame.sparse.from_spmatrix(matrix, columns=encoder.columns_)
        options = {"low_memory": True} if params["algorithm"] == "apriori" else {}
        miner = getattr(frequent_patterns, str(params["algorithm"]))
        itemsets = miner(
            frame, min_support=params["min_support"], use_colnames=True, max_len=params["max_len"], **options
        )
        rules = frequent_patterns.association_rules(
            itemsets, num_itemsets=len(rows), metric="confidence", min_threshold=params["min_threshold"]
        )
    return int((rules["consequents"].map(len) == 1).sum())


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(case: str, implementation: str, n: int) -> dict[str, object]:
    rows = load(case, n)
    before = rss_mb()
    start = time.perf_counter()
    n_rules = {"crmflow": mine_crmflow, "mlxtend": mine_mlxtend}[implementation](rows, CASES[case])
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"case": case, "impl": implementation, "baskets": len(rows), "rules": n_rules,
            "seconds": round(seconds, 2), "peak_mb_over_start": round(peak - before)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baskets", type=int, default=1_000_000, help="baskets in the synthetic case")
    parser.add_argument("--only", choices=sorted(CASES), action="append", help="run only these cases")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--impl", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(measure(args.case, args.impl, args.baskets)))
        return
    header = (
        f"{'case':<24}{'baskets':>10}{'rules c/m':>14}{'crmflow s':>11}{'mlxtend s':>11}{'overhead':>10}"
        f"{'crmflow MB':>12}{'mlxtend MB':>12}"
    )
    print(header)
    for case in args.only or list(CASES):
        result = {}
        for implementation in ("crmflow", "mlxtend"):
            command = [
                sys.executable,
                __file__,
                "--case",
                case,
                "--impl",
                implementation,
                "--baskets",
                str(args.baskets),
            ]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            result[implementation] = json.loads(done.stdout.strip().splitlines()[-1])
        ours, theirs = result["crmflow"], result["mlxtend"]
        overhead = ours["seconds"] / theirs["seconds"] - 1
        print(
            f"{case:<24}{ours['baskets']:>10,}{ours['rules']:>7,}/{theirs['rules']:<6,}{ours['seconds']:>11.2f}"
            f"{theirs['seconds']:>11.2f}{overhead:>+10.0%}{ours['peak_mb_over_start']:>12,}"
            f"{theirs['peak_mb_over_start']:>12,}"
        )


if __name__ == "__main__":
    main()
