"""Per-segment rules within a memory budget: estimated before comparing, compared in passes, or refused."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import assert_one_line_error, run_cli

from crmflow.data.synthetic import SyntheticCRM
from crmflow.errors import DataError
from crmflow.rules import AssociationRules, Baskets
from crmflow.rules.baskets import baskets_from_transactions
from crmflow.rules.segment_cost import compare_memory_gib, compare_passes, least_gib
from crmflow.rules.segments import SegmentLimits, mine_per_segment

GIB = 2**30


def _rules(*pairs: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"antecedents": [frozenset(a) for a, _ in pairs], "consequents": [frozenset(c) for _, c in pairs]}
    )


# basket counts of the items (20 basket items in all) and five rules over them
COUNTS = {"x": 10, "y": 6, "z": 4}
RULES = _rules(("x", "y"), ("y", "x"), ("xy", "z"), ("xz", "y"), ("yz", "x"))


def test_the_comparison_is_estimated_by_hand() -> None:
    # encoding the baskets: 84 bytes x 20 items = 1680. Counting: each itemset once, in the first of
    # antecedents / consequents / both holding it: antecedents x, y, xy, xz, yz = 10+6+16+14+10 = 56
    # pairs; consequents only z = 4; both only xyz = 20. 16 x 20 + 28 x 56 = 1888 bytes.
    assert least_gib(20) == 1680 / GIB
    assert compare_memory_gib(RULES, COUNTS) == 1888 / GIB
    # within 1700 bytes the first four rules (46 antecedent pairs: 16x20 + 28x46 = 1608) share a pass
    assert [p.tolist() for p in compare_passes(RULES, COUNTS, 1700 / GIB)] == [[0, 1, 2, 3], [4]]
    assert [p.tolist() for p in compare_passes(RULES, COUNTS, 4.0)] == [[0, 1, 2, 3, 4]]
    assert compare_passes(RULES, COUNTS, 1600 / GIB) is None  # below what encoding the baskets needs


@pytest.fixture(scope="module")
def baskets() -> tuple[Baskets, Baskets, pd.Series]:
    everything = baskets_from_transactions(SyntheticCRM(n_customers=800, seed=5).load().transactions)
    ids = pd.unique(everything.customer_ids)
    train, holdout = everything.split_by_time(0.2)
    return train, holdout, pd.Series(np.arange(len(ids)) % 2, index=ids)


def _mine(baskets: tuple[Baskets, Baskets, pd.Series], budget_gib: float):
    train, holdout, labels = baskets
    miner = AssociationRules(min_support=0.02, min_threshold=0.1)
    return mine_per_segment(
        miner, train, holdout, labels, k=5, seed=0, limits=SegmentLimits(50, 10**5, 1000, budget_gib)
    )


def test_a_tight_budget_compares_in_passes_with_the_same_result(baskets: tuple[Baskets, Baskets, pd.Series]) -> None:
    roomy = _mine(baskets, 4.0)
    train, holdout, _ = baskets
    counts = Counter(itertools.chain.from_iterable(train.items + holdout.items))
    table = roomy.rules[roomy.rules["segment"] == 0].reset_index(drop=True)
    least, whole = least_gib(sum(counts.values())), compare_memory_gib(table, counts)
    assert least < whole
    tight = _mine(baskets, (least + whole) / 2)
    assert (roomy.segments["compare_passes"] == 1).all() and (tight.segments["compare_passes"] >= 2).all()
    pd.testing.assert_frame_equal(tight.rules, roomy.rules)
    assert tight.metrics == roomy.metrics


def test_a_segment_that_cannot_fit_is_skipped_with_the_estimate(baskets: tuple[Baskets, Baskets, pd.Series]) -> None:
    with pytest.raises(
        DataError, match=r"no segment could be mined \(not mined: comparing its \d+ rules with all"
    ) as e:
        _mine(baskets, 1e-6)
    assert "GiB in one pass and at least" in str(e.value)
    assert "above rules.settings.segment_memory_budget_gib=1e-06; raise" in str(e.value)


def test_the_cli_refuses_a_budget_no_pass_fits_before_any_run(tmp_path: Path) -> None:
    result = run_cli(
        "data.n_customers=800",
        "predictor=none",
        "tuning=off",
        "rules.settings.per_segment=true",
        "rules.settings.segment_memory_budget_gib=0.0001",
        cwd=tmp_path,
    )
    assert_one_line_error(
        result, "rules.settings.segment_memory_budget_gib: comparing each segment's rules with all ", tmp_path
    )
    assert "above the budget of 0.0001 GiB; raise" in result.stderr and "per_segment=false" in result.stderr
