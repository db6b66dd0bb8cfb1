"""SyntheticCRM: schema, determinism, validation, and recovery of the planted ground truth."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from crmflow.data.base import CRMData
from crmflow.data.synthetic import SyntheticCRM
from crmflow.errors import ConfigError

TX_COLUMNS = ["customer_id", "basket_id", "timestamp", "item", "quantity", "amount"]
CUSTOMER_COLUMNS = ["customer_id", "age", "region", "channel", "signup_date"]


@cache
def load(seed: int = 0, **params: object) -> CRMData:
    """Default-size data per seed, generated once per test session (tests must not mutate it)."""
    return SyntheticCRM(seed=seed, **params).load()


@pytest.fixture(scope="module")
def data() -> CRMData:
    return load(0)


def basket_item_matrix(tx: pd.DataFrame) -> pd.DataFrame:
    """Boolean basket x item table."""
    return pd.crosstab(tx["basket_id"], tx["item"]) > 0


def customer_features(tx: pd.DataFrame) -> pd.DataFrame:
    """log1p of baskets, mean basket amount and mean items per basket, one row per customer."""
    baskets = tx.groupby("basket_id").agg(
        customer_id=("customer_id", "first"), amount=("amount", "sum"), items=("item", "size")
    )
    per_customer = baskets.groupby("customer_id").agg(
        n_baskets=("amount", "size"), mean_amount=("amount", "mean"), mean_items=("items", "mean")
    )
    return np.log1p(per_customer)


# --- schema -------------------------------------------------------------------------------


def test_load_returns_named_crmdata_without_target(data: CRMData) -> None:
    assert isinstance(data, CRMData)
    assert data.name == "synthetic"
    assert data.target is None
    assert data.has_column("item") and data.has_column("basket_id")


def test_transaction_columns_and_dtypes(data: CRMData) -> None:
    tx = data.transactions
    assert list(tx.columns) == TX_COLUMNS
    for column in ("customer_id", "basket_id", "item"):
        assert pd.api.types.is_string_dtype(tx[column]), column
    assert tx["timestamp"].dtype == np.dtype("datetime64[ns]")
    assert tx["quantity"].dtype == np.int64
    assert tx["amount"].dtype == np.float64
    assert not tx.isna().any().any()


def test_default_size_is_in_the_stated_range(data: CRMData) -> None:
    assert 40_000 <= len(data.transactions) <= 120_000
    assert len(data.customers) == len(data.truth) == 3000
    assert data.transactions["item"].nunique() == 40


def test_amounts_are_positive_cents_and_quantities_in_one_to_three(data: CRMData) -> None:
    tx = data.transactions
    assert (tx["amount"] > 0).all()
    assert np.allclose(tx["amount"], tx["amount"].round(2))
    assert tx["quantity"].between(1, 3).all()


def test_rows_are_sorted_by_timestamp_then_basket(data: CRMData) -> None:
    tx = data.transactions
    expected = tx.sort_values(["timestamp", "basket_id"], kind="stable").reset_index(drop=True)
    assert_frame_equal(tx, expected)


def test_each_basket_has_one_customer_one_timestamp_and_distinct_items(data: CRMData) -> None:
    tx = data.transactions
    per_basket = tx.groupby("basket_id").agg(
        customers=("customer_id", "nunique"),
        times=("timestamp", "nunique"),
        lines=("item", "size"),
        items=("item", "nunique"),
    )
    assert (per_basket["customers"] == 1).all()
    assert (per_basket["times"] == 1).all()
    assert (per_basket["lines"] >= 1).all()
    assert (per_basket["lines"] == per_basket["items"]).all()
    assert tx["basket_id"].str.fullmatch(r"B\d{6}").all()


def test_timestamps_lie_inside_the_history_and_after_signup(data: CRMData) -> None:
    tx = data.transactions
    start = pd.Timestamp("2023-01-01")
    assert tx["timestamp"].min() >= start
    assert tx["timestamp"].max() < start + pd.Timedelta(days=730)
    first = tx.groupby("customer_id")["timestamp"].min()
    signup = data.customers.set_index("customer_id")["signup_date"]
    assert (first >= signup.loc[first.index]).all()


def test_customers_carry_attributes_but_no_leaking_columns(data: CRMData) -> None:
    customers = data.customers
    assert list(customers.columns) == CUSTOMER_COLUMNS
    assert customers["customer_id"].is_unique
    assert customers["customer_id"].str.fullmatch(r"C\d{5}").all()
    assert customers["age"].dtype == np.int64 and customers["age"].between(18, 85).all()
    assert customers["region"].nunique() == 4
    assert set(customers["channel"]) == {"web", "store", "app"}
    assert customers["signup_date"].dtype == np.dtype("datetime64[ns]")


def test_every_customer_has_a_transaction_and_ids_agree(data: CRMData) -> None:
    ids = set(data.customers["customer_id"])
    assert set(data.transactions["customer_id"]) == ids
    assert set(data.truth["customer_id"]) == ids


def test_truth_holds_segments_and_churn_times(data: CRMData) -> None:
    truth = data.truth
    assert list(truth.columns) == ["customer_id", "segment", "segment_name", "churn_time"]
    assert set(truth["segment"]) == {0, 1, 2, 3}
    assert (truth.groupby("segment")["segment_name"].nunique() == 1).all()
    assert truth["churn_time"].dtype == np.dtype("datetime64[ns]")
    shares = truth["segment"].value_counts(normalize=True)
    assert shares.min() >= 0.1
    assert shares.max() - shares.min() > 0.05  # unequal sizes


def test_item_names_are_unique_readable_and_hold_the_rule_items() -> None:
    generator = SyntheticCRM(n_items=200)
    names = generator.item_names()
    assert len(names) == len(set(names)) == 200
    assert names[:3] == ["pasta", "tomato sauce", "bread"]
    rule_items = {i for ante, cons in generator.planted_rules() for i in (*ante, cons)}
    assert rule_items <= set(SyntheticCRM(n_items=20).item_names())


# --- determinism and the constructor -------------------------------------------------------


def test_same_parameters_give_identical_frames() -> None:
    first = SyntheticCRM(n_customers=400, seed=5).load()
    second = SyntheticCRM(n_customers=400, seed=5).load()
    for name in ("transactions", "customers", "truth"):
        assert_frame_equal(getattr(first, name), getattr(second, name))


def test_a_different_seed_gives_different_data() -> None:
    first = SyntheticCRM(n_customers=400, seed=5).load()
    second = SyntheticCRM(n_customers=400, seed=6).load()
    assert not first.transactions.equals(second.transactions)
    assert not first.truth["segment"].equals(second.truth["segment"])


def test_init_only_stores_its_arguments() -> None:
    generator = SyntheticCRM(n_customers=-5, start="nonsense")  # validated in load, not here
    assert generator.n_customers == -5 and generator.start == "nonsense"
    assert generator.association_strength == 0.7 and generator.seed == 0


def test_planted_rules_are_deterministic_frozensets() -> None:
    rules = SyntheticCRM().planted_rules()
    assert rules == SyntheticCRM(seed=9).planted_rules()
    assert len(rules) == 5
    assert all(isinstance(ante, frozenset) and isinstance(cons, str) for ante, cons in rules)
    assert any(len(ante) == 2 for ante, _ in rules)


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"n_customers": 3}, "n_customers"),
        ({"n_customers": 10.5}, "n_customers"),
        ({"n_customers": True}, "n_customers"),
        ({"n_segments": 7}, "n_segments"),
        ({"n_items": 5}, "n_items"),
        ({"days": 10}, "days"),
        ({"churn_rate": 1.5}, "churn_rate"),
        ({"churn_rate": "0.3"}, "churn_rate"),
        ({"association_strength": -0.1}, "association_strength"),
        ({"association_strength": float("nan")}, "association_strength"),
        ({"seed": -1}, "seed"),
        ({"start": "not a date"}, "start"),
        ({"start": ""}, "start"),
        ({"start": 2023}, "start"),
    ],
)
def test_invalid_parameters_raise_config_error_naming_them(params: dict[str, object], name: str) -> None:
    with pytest.raises(ConfigError, match=f"The '{name}' parameter of SyntheticCRM must be"):
        SyntheticCRM(**params).load()


def test_validation_message_reads_like_scikit_learn() -> None:
    message = (
        "data.n_customers: The 'n_customers' parameter of SyntheticCRM must be an int in the range [10, inf). "
        "Got 3 instead."
    )
    with pytest.raises(ConfigError) as info:
        SyntheticCRM(n_customers=3).load()
    assert str(info.value) == message


def test_all_six_segments_can_be_generated() -> None:
    data = SyntheticCRM(n_customers=600, n_segments=6, n_items=64).load()
    assert data.truth["segment"].nunique() == data.truth["segment_name"].nunique() == 6
    assert data.transactions["item"].nunique() == 64


# --- planted structure --------------------------------------------------------------------


def test_planted_rules_have_support_confidence_and_lift(data: CRMData) -> None:
    baskets = basket_item_matrix(data.transactions)
    for antecedent, consequent in SyntheticCRM().planted_rules():
        has_antecedent = baskets[sorted(antecedent)].all(axis=1)
        support = (has_antecedent & baskets[consequent]).mean()
        confidence = support / has_antecedent.mean()
        lift = confidence / baskets[consequent].mean()
        assert support >= 0.01, (antecedent, consequent, support)
        assert confidence > 0.5, (antecedent, consequent, confidence)
        assert lift > 2, (antecedent, consequent, lift)


def test_zero_association_strength_plants_nothing() -> None:
    data = SyntheticCRM(n_customers=1000, association_strength=0.0).load()
    baskets = basket_item_matrix(data.transactions)
    for antecedent, consequent in SyntheticCRM().planted_rules():
        has_antecedent = baskets[sorted(antecedent)].all(axis=1)
        confidence = (has_antecedent & baskets[consequent]).mean() / has_antecedent.mean()
        assert confidence < 0.4, (antecedent, consequent, confidence)


@pytest.mark.parametrize("seed", [0, 1])
def test_kmeans_recovers_the_segments(seed: int) -> None:
    data = load(seed)
    features = customer_features(data.transactions)
    truth = data.truth.set_index("customer_id").loc[features.index, "segment"]
    scaled = StandardScaler().fit_transform(features)
    labels = KMeans(n_clusters=4, n_init=10, random_state=0).fit_predict(scaled)
    assert adjusted_rand_score(truth, labels) >= 0.8


def test_december_is_busier_than_the_average_day(data: CRMData) -> None:
    baskets = data.transactions.drop_duplicates("basket_id")
    per_day = baskets.set_index("timestamp").resample("D").size()
    december = per_day[per_day.index.month == 12].mean()
    summer = per_day[per_day.index.month.isin([6, 7])].mean()
    assert december > 1.1 * per_day.mean()
    assert summer < per_day.mean()


def test_churners_buy_nothing_after_their_churn_time(data: CRMData) -> None:
    joined = data.transactions.merge(data.truth, on="customer_id")
    churners = joined[joined["churn_time"].notna()]
    assert not churners.empty
    assert (churners["timestamp"] < churners["churn_time"]).all()


def test_churn_share_is_near_churn_rate_and_hits_the_least_engaged_most(data: CRMData) -> None:
    truth = data.truth
    assert 0.2 <= truth["churn_time"].notna().mean() <= 0.4
    by_segment = truth.groupby("segment_name")["churn_time"].apply(lambda s: s.notna().mean())
    assert by_segment["champions"] < by_segment["occasional big spenders"]


def test_purchases_slow_down_before_churn(data: CRMData) -> None:
    baskets = data.transactions.drop_duplicates("basket_id")
    churn = data.truth.set_index("customer_id")["churn_time"].dropna()
    churn = churn[churn >= pd.Timestamp("2023-01-01") + pd.Timedelta(days=200)]
    signup = data.customers.set_index("customer_id")["signup_date"].loc[churn.index]
    churn = churn[churn - signup >= pd.Timedelta(days=200)]
    rows = baskets[baskets["customer_id"].isin(churn.index)]
    days_before = (rows["customer_id"].map(churn) - rows["timestamp"]).dt.days
    last_60 = days_before.between(0, 59).sum()
    earlier_60 = days_before.between(120, 179).sum()
    assert last_60 < 0.7 * earlier_60


def test_planted_sequences_follow_in_the_next_basket_never_the_same() -> None:
    plain = SyntheticCRM(n_customers=400, seed=3).load().transactions
    assert_frame_equal(SyntheticCRM(n_customers=400, seed=3, sequence_strength=0.0).load().transactions, plain)
    source = SyntheticCRM(n_customers=400, seed=3, sequence_strength=0.9)
    assert source.planted_sequences() == [("flour", "sugar"), ("beef", "wine")]
    tx = source.load().transactions
    baskets = tx.groupby("basket_id")["item"].agg(frozenset)
    owner = tx.groupby("basket_id")[["customer_id", "timestamp"]].first().sort_values("timestamp", kind="stable")
    for first, then in source.planted_sequences():
        assert not any(first in b and then in b for b in baskets)
        follows = []
        for _, rows in owner.groupby("customer_id"):
            items = baskets.loc[rows.index].tolist()
            follows += [then in nxt for cur, nxt in zip(items, items[1:]) if first in cur and first not in nxt]
        assert np.mean(follows) > 0.85  # the strength, plus the few who buy it anyway
