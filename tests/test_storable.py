"""No crmflow model needs pickle: a segmenter skops cannot store (BIRCH) assigns by nearest training customer,
and a segmenter parameter skops refuses is stored as its class and plain parameters, rebuilt only for
crmflow or scikit-learn estimator classes."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import Birch, KMeans
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from crmflow.segmentation.assign import SegmentAssigner
from crmflow.storable import SPEC_KEY, as_storable, from_storable

CHECK_OUTPUT = "sklearn.utils._testing.check_output"


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return pd.DataFrame({"tenure": np.arange(40.0), "visits": np.arange(40.0) % 7})


def test_a_segmenter_skops_cannot_store_assigns_by_nearest_customer(rows: pd.DataFrame) -> None:
    import skops.io

    birch = SegmentAssigner(StandardScaler(), Birch(n_clusters=3)).fit(rows)
    assert isinstance(birch.assigner_, KNeighborsClassifier)
    expected = Birch(n_clusters=3).fit_predict(StandardScaler().fit_transform(rows))
    assert list(birch.transform(rows)["segment"]) == [f"segment_{label}" for label in expected]
    restored = skops.io.loads(skops.io.dumps(birch), trusted=skops.io.get_untrusted_types(data=skops.io.dumps(birch)))
    assert list(restored.transform(rows)["segment"]) == list(birch.transform(rows)["segment"])
    assert isinstance(SegmentAssigner(StandardScaler(), KMeans(3, n_init=2)).fit(rows).assigner_, KMeans)


def test_an_estimator_skops_refuses_is_stored_as_its_class_and_plain_parameters(rows: pd.DataFrame) -> None:
    stored = as_storable(Birch(n_clusters=4, threshold=0.3))
    assert stored == {
        SPEC_KEY: "sklearn.cluster._birch.Birch",
        "params": Birch(n_clusters=4, threshold=0.3).get_params(),
    }
    assert from_storable(stored).get_params() == Birch(n_clusters=4, threshold=0.3).get_params()
    assigner = SegmentAssigner(StandardScaler(), Birch(n_clusters=3)).fit(rows)
    copied = pickle.loads(pickle.dumps(assigner))  # joblib workers and caches pickle it the same way
    assert isinstance(copied.segmenter, Birch) and list(copied.transform(rows)["segment"]) == list(
        assigner.transform(rows)["segment"]
    )
    for name in (CHECK_OUTPUT, "numpy.memmap", "sklearn.utils._bunch.Bunch"):
        with pytest.raises(TypeError, match=f"refusing to rebuild '{name}'"):
            from_storable({SPEC_KEY: name, "params": {}})
    with pytest.raises(TypeError, match="parameters must be plain values or estimators"):
        from_storable({SPEC_KEY: "sklearn.cluster._birch.Birch", "params": {"n_clusters": [1, 2]}})
