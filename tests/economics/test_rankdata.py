"""``economics.metrics.rankdata`` (numpy) gives scipy's average ranks exactly: the metrics
no longer import ``scipy.stats`` (a third of a run's start-up)."""

from __future__ import annotations

import numpy as np
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ledgerlab.economics.metrics import rankdata


@settings(max_examples=200, deadline=None)
@given(
    x=arrays(
        np.float64,
        st.integers(1, 60),
        elements=st.sampled_from([-2.5, -1.0, 0.0, 0.5, 1.0, 3.0, 1e300, -1e-300]),
    )
    | arrays(np.float64, st.integers(1, 60), elements=st.floats(-1e6, 1e6))
)
def test_average_ranks_equal_scipys(x: np.ndarray) -> None:
    np.testing.assert_array_equal(rankdata(x), scipy.stats.rankdata(x))


def test_reference_values() -> None:
    np.testing.assert_array_equal(rankdata(np.array([3.0, 1.0, 3.0, 2.0])), [3.5, 1, 3.5, 2])
    np.testing.assert_array_equal(rankdata(np.array([7.0])), [1.0])
