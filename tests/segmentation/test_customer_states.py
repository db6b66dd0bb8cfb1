"""Per-period activity on a hand-made log, and hidden Markov customer states on a planted two-regime log."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from crmflow.errors import ConfigError, DataError
from crmflow.segmentation.activity import ActivityPanel, period_activity
from crmflow.segmentation.hmm_states import CustomerStates, n_parameters, state_names

CUTOFF = pd.Timestamp("2024-04-01")


def tiny_log() -> pd.DataFrame:
    """a: two lines on one day in January, one in March; b: February, then only on/after the cutoff;
    c: one purchase on 31 January, then silent."""
    rows = [
        ("a", "2024-01-05 10:00", 10.0, "x"),
        ("a", "2024-01-05 16:00", 5.0, "y"),
        ("a", "2024-03-10", 20.0, "x"),
        ("b", "2024-02-01", 7.0, "z"),
        ("b", "2024-04-01", 50.0, "x"),  # on the cutoff: ignored
        ("b", "2024-05-03", 60.0, "x"),  # after it: ignored
        ("c", "2024-01-31 23:59", 3.0, "x"),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount", "item"])
    return frame.assign(timestamp=pd.to_datetime(frame["timestamp"], format="ISO8601"))


def test_period_activity_exact_panel():
    panel = period_activity(tiny_log(), CUTOFF, features=("purchases", "spend", "items"))
    expected = [[1, 15, 2], [0, 0, 0], [1, 20, 1], [1, 7, 1], [0, 0, 0], [1, 3, 1], [0, 0, 0], [0, 0, 0]]
    np.testing.assert_array_equal(panel.X, np.array(expected, dtype=float))
    np.testing.assert_array_equal(panel.lengths, [3, 2, 3])
    assert list(panel.customers) == ["a", "b", "c"]
    assert list(panel.periods.astype(str)) == ["2024-01", "2024-02", "2024-03"]
    assert panel.features == ("purchases", "spend", "items")
    assert panel.to_frame().loc[("c", pd.Period("2024-03", "M")), "spend"] == 0.0  # silent c ends with zeros
    np.testing.assert_array_equal(panel.last_rows(), [2, 4, 7])


def test_purchases_count_baskets_when_present_else_days():
    log = tiny_log().assign(basket_id=["k1", "k2", "k3", "k4", "k5", "k6", "k7"])
    assert period_activity(log, CUTOFF).X[0, 0] == 2.0  # two baskets on 5 January
    assert period_activity(tiny_log(), CUTOFF).X[0, 0] == 1.0  # one day
    assert period_activity(log.assign(basket_id=None), CUTOFF).X[0, 0] == 1.0


def test_only_complete_periods_before_the_cutoff():
    panel = period_activity(tiny_log(), pd.Timestamp("2024-03-15"))  # March is partial: left out
    np.testing.assert_array_equal(panel.X, [[1, 15], [0, 0], [1, 7], [1, 3], [0, 0]])
    np.testing.assert_array_equal(panel.lengths, [2, 1, 2])
    weekly = period_activity(tiny_log(), CUTOFF, period="W")  # 2024-04-01 is a Monday: 13 whole weeks
    assert str(weekly.periods[0]) == "2024-01-01/2024-01-07" and len(weekly.periods) == 13
    np.testing.assert_array_equal(weekly.lengths, [13, 9, 9])
    assert weekly.X[:, 1].sum() == 45.0


@pytest.mark.parametrize(
    ("kwargs", "error", "start", "part"),
    [
        ({"period": "D"}, ConfigError, "segmentation.period:", "'M'"),
        ({"features": ("spnd",)}, ConfigError, "segmentation.features:", "did you mean 'spend'"),
        ({"features": ("spend", "x")}, ConfigError, "segmentation.features:", "purchases, spend, items"),
        ({"features": ()}, ConfigError, "segmentation.features:", "non-empty"),
        ({"cutoff": pd.Timestamp("2024-01-20")}, DataError, "segmentation.period:", "no transaction"),
    ],
)
def test_period_activity_bad_input(kwargs, error, start, part):
    call = {"cutoff": CUTOFF, **kwargs}
    with pytest.raises(error) as caught:
        period_activity(tiny_log(), **call)
    message = str(caught.value)
    assert message.startswith(start) and part in message and "\n" not in message


def test_items_need_the_item_column():
    with pytest.raises(DataError, match=r"^segmentation\.features: 'items' needs"):
        period_activity(tiny_log().drop(columns="item"), CUTOFF, features=("items",))


def planted_log(n: int = 200, months: int = 24, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Active (2 + Poisson(3) purchases of ~50 a month) until a switch month, then dormant (a ~10 purchase
    in 10% of months); 30% never switch. Returns the log and the true regime (0 active, 1 dormant) by
    (customer, month)."""
    rng = np.random.default_rng(seed)
    rows, truth = [], {}
    for c in range(n):
        customer, first = f"c{c:03d}", int(rng.integers(0, 6))
        switch = months if rng.random() < 0.3 else int(rng.integers(first + 3, months))
        for m in range(first, months):
            month = pd.Timestamp("2022-01-01") + pd.DateOffset(months=m)
            active = m < switch
            truth[(customer, pd.Period(month, "M"))] = 0 if active else 1
            purchases = 2 + rng.poisson(3) if active else int(rng.random() < 0.1)
            for day in rng.choice(28, size=purchases, replace=False):
                amount = rng.lognormal(np.log(50 if active else 10), 0.4)
                rows.append((customer, month + pd.Timedelta(days=int(day)), round(float(amount), 2)))
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"]), truth


@pytest.fixture(scope="module")
def planted():
    log, truth = planted_log()
    panel = period_activity(log, pd.Timestamp("2024-01-01"))
    regimes = np.array([truth[key] for key in panel.index])
    return panel, regimes, CustomerStates(n_states=2, random_state=0).fit(panel)


def test_states_recover_the_planted_regimes(planted):
    panel, regimes, states = planted
    assert states.state_names_ == ["active", "dormant"]
    assert (states.predict_paths(panel) == regimes).mean() >= 0.9
    current = states.predict_current(panel)
    assert current.index.equals(panel.customers)
    assert (current.to_numpy() == regimes[panel.last_rows()]).mean() >= 0.9
    assert current.equals(states.labels_)
    assert states.means_.loc["active", "spend"] > 100 > states.means_.loc["dormant", "spend"]
    shares = states.state_shares_
    assert shares.sum() == pytest.approx(1.0)
    assert shares["active"] == pytest.approx((regimes[panel.last_rows()] == 0).mean(), abs=0.05)


def test_bic_and_aic_count_the_free_parameters(planted):
    panel, _, states = planted
    p = (2 - 1) + 2 * 1 + 2 * 2 + 2 * 2  # start, transitions, means, diagonal variances: 2 states x 2 features
    assert states.n_parameters_ == p == 11
    n_rows = panel.X.shape[0]
    assert states.bic_ == pytest.approx(-2 * states.log_likelihood_ + p * np.log(n_rows))
    assert states.aic_ == pytest.approx(-2 * states.log_likelihood_ + 2 * p)
    assert states.bic_ == pytest.approx(states.model_.bic(states.scale(panel), panel.lengths))
    assert [n_parameters(3, 2, c) for c in ("diag", "spherical", "full", "tied")] == [20, 17, 23, 17]


def test_fits_are_reproducible(planted):
    panel, _, states = planted
    again = CustomerStates(n_states=2, random_state=0).fit(panel)
    assert again.labels_.equals(states.labels_)
    np.testing.assert_array_equal(again.predict_paths(panel), states.predict_paths(panel))
    assert again.log_likelihood_ == states.log_likelihood_


def test_states_are_ordered_and_probabilities_sum_to_one(planted):
    panel = planted[0]
    for states in (planted[2], CustomerStates(n_states=3, random_state=0).fit(panel)):
        assert np.allclose(states.transmat_.sum(axis=1), 1.0) and states.startprob_.sum() == pytest.approx(1.0)
        activity = states.model_.means_.mean(axis=1)
        assert np.all(np.diff(activity) <= 0)
        assert list(states.transmat_.index) == list(states.transmat_.columns) == states.state_names_
        assert states.means_.index.tolist() == states.state_names_
    assert states.state_names_ == ["active", "slowing", "dormant"]
    assert state_names(5) == ["active", "state 2", "state 3", "state 4", "dormant"]


def test_more_inits_never_lower_the_likelihood(planted):
    panel, _, states = planted
    best = CustomerStates(n_states=2, random_state=0, n_init=3).fit(panel)  # its first seed is the n_init=1 seed
    assert best.log_likelihood_ >= states.log_likelihood_ - 1e-9


def test_fit_is_quiet_and_flags_non_convergence(planted, caplog):
    panel = planted[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with caplog.at_level(logging.DEBUG):
            states = CustomerStates(n_states=2, n_iter=1, random_state=0).fit(panel)
    assert states.converged_ is False and planted[2].converged_ is True
    assert not [r for r in caplog.records if r.name.startswith("hmmlearn")]
    assert [r.getMessage() for r in caplog.records if r.name == "crmflow.segmentation.hmm_states"] == [
        "CustomerStates: EM did not converge in 1 iterations (tol 0.001)"
    ]


@pytest.mark.parametrize(
    ("params", "start", "part"),
    [
        ({"n_states": 1}, "segmentation.n_states:", "[2, inf)"),
        ({"covariance_type": "diagonal"}, "segmentation.covariance_type:", "did you mean 'diag'"),
        ({"n_init": 0}, "segmentation.n_init:", "[1, inf)"),
    ],
)
def test_bad_parameters_name_their_key(params, start, part):
    panel = period_activity(tiny_log(), CUTOFF)
    with pytest.raises(ConfigError) as caught:
        CustomerStates(**params).fit(panel)
    assert str(caught.value).startswith(start) and part in str(caught.value) and "\n" not in str(caught.value)


def test_too_few_periods_for_the_states():
    panel = period_activity(tiny_log(), CUTOFF)  # 8 customer-periods, the longest sequence 3
    with pytest.raises(DataError, match=r"^segmentation\.n_states: 4 states need at least 4 periods; .* 8 .* 3$"):
        CustomerStates(n_states=4).fit(panel)
    single = ActivityPanel(np.ones((1, 2)), np.array([1]), pd.Index(["a"]), panel.periods[-1:], panel.features)
    with pytest.raises(DataError, match=r"^segmentation\.n_states: 2 states"):
        CustomerStates(n_states=2).fit(single)


def test_prediction_needs_a_fit_on_the_same_features(planted):
    panel = period_activity(tiny_log(), CUTOFF, features=("purchases", "spend", "items"))
    with pytest.raises(NotFittedError):
        CustomerStates().predict_current(panel)
    with pytest.raises(DataError, match=r"^segmentation\.features: the model was fitted on"):
        planted[2].predict_current(panel)
