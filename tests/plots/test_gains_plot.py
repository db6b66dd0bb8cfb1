"""The cumulative gains table and curve, and the calibration table: hand-checked on tiny rankings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crmflow.prediction.gains import calibration_table, gains_curve, gains_table, ranking_artifacts

# 10 customers, 2 positives
ACTUAL = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0])


def test_a_perfect_ranking_finds_every_positive_in_the_first_fifth() -> None:
    probability = np.linspace(0.95, 0.05, 10)  # the two positives score highest
    table = gains_table(ACTUAL, probability, groups=5)  # 5 groups of 2 customers
    assert table["decile"].tolist() == [1, 2, 3, 4, 5]
    assert table["customers"].tolist() == [2, 2, 2, 2, 2]
    assert table["share_of_positives"].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert table["cumulative_gain"].tolist() == [1.0, 1.0, 1.0, 1.0, 1.0]
    # lift: gain / share targeted = 1/0.2, 1/0.4, 1/0.6, 1/0.8, 1/1
    np.testing.assert_allclose(table["lift"], [5.0, 2.5, 5 / 3, 1.25, 1.0])


def test_the_worst_ranking_finds_the_positives_last() -> None:
    probability = np.linspace(0.05, 0.95, 10)  # the two positives score lowest
    table = gains_table(ACTUAL, probability, groups=5)
    assert table["cumulative_gain"].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]
    assert table["lift"].iloc[0] == 0.0 and table["lift"].iloc[-1] == 1.0


def test_a_random_ranking_of_alternating_labels_has_lift_one() -> None:
    actual = np.array([1, 0] * 10)  # 20 customers, 10 positives, one in every pair
    table = gains_table(actual, np.linspace(1, 0, 20))  # deciles of 2: one positive each
    assert table["customers"].tolist() == [2] * 10
    np.testing.assert_allclose(table["share_of_positives"], [0.1] * 10)
    np.testing.assert_allclose(table["lift"], [1.0] * 10)


def test_uneven_deciles_and_fewer_customers_than_deciles() -> None:
    table = gains_table(np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]), np.linspace(1, 0, 12))
    assert table["customers"].tolist() == [2, 2, 1, 1, 1, 1, 1, 1, 1, 1]  # 12 customers in 10 groups
    assert table["share_of_positives"].iloc[:2].tolist() == [0.5, 0.5]
    assert len(gains_table(np.array([1, 0, 0]), np.array([0.9, 0.5, 0.1]))) == 3


def test_gains_curve_steps_at_each_positive() -> None:
    targeted, found = gains_curve(np.array([0, 1, 1, 0]), np.array([0.9, 0.8, 0.7, 0.1]))
    np.testing.assert_allclose(targeted, [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(found, [0, 0, 0.5, 1.0, 1.0])


def test_calibration_table_of_known_bins() -> None:
    # quantile bins of 4 customers each: probabilities 0.1 (1 positive in 4) and 0.7 (3 positives in 4)
    probability = np.array([0.1] * 4 + [0.7] * 4)
    actual = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    table = calibration_table(actual, probability, bins=2)
    np.testing.assert_allclose(table["mean_predicted"], [0.1, 0.7])
    np.testing.assert_allclose(table["observed_rate"], [0.25, 0.75])


def test_ranking_artifacts_write_the_table_and_both_plots(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    probability = rng.uniform(size=200)
    actual = (rng.uniform(size=200) < probability).astype(int)
    paths = ranking_artifacts(actual, probability, "holdout", tmp_path)
    assert [p.name for p in paths] == ["predictor_gains.csv", "predictor_gains.png", "predictor_calibration.png"]
    assert all(p.stat().st_size > 0 for p in paths)
    table = pd.read_csv(paths[0])
    assert list(table.columns) == ["decile", "customers", "share_of_positives", "cumulative_gain", "lift"]
    assert table["cumulative_gain"].iloc[-1] == pytest.approx(1.0)
    assert table["lift"].iloc[0] > 1.3  # probabilities that are the true rates rank well
