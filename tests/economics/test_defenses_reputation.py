"""Tests for economics.defenses.reputation: EMA update, reward multiplier, per-owner scores."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ledgerlab.economics.defenses import (
    DefenseInputError,
    DefenseParamError,
    ReputationParams,
    initial_reputation,
    owner_scores,
    reputation_multiplier,
    update_reputation,
)
from ledgerlab.economics.defenses.reputation import multiplier, update


def test_package_aliases_are_the_module_functions():
    assert update_reputation is update and reputation_multiplier is multiplier


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"decay": 1.0}, "decay"),
        ({"decay": -0.1}, "decay"),
        ({"gamma": -1.0}, "gamma"),
        ({"penalty_threshold": 1.2}, "penalty_threshold"),
        ({"initial_reputation": "high"}, "initial_reputation"),
    ],
)
def test_params_validation_names_the_field(kwargs, field):
    with pytest.raises(DefenseParamError, match=f"ReputationParams.{field}"):
        ReputationParams(**kwargs)


def test_sequence_by_hand():
    # λ = 0.5, start 0.5, scores 1, 0, 1: 0.75, 0.375, 0.6875 (all exact in binary)
    p = ReputationParams(decay=0.5, gamma=2.0, penalty_threshold=0.4, initial_reputation=0.5)
    r = initial_reputation(1, p)
    seen = []
    for s in (1.0, 0.0, 1.0):
        r = update(r, [s], [True], p)
        seen.append(float(r[0]))
    assert seen == [0.75, 0.375, 0.6875]


def test_update_only_where_observed_and_ignores_unobserved_scores():
    p = ReputationParams(decay=0.9)
    r = np.array([0.5, 0.5, 0.2])
    got = update(r, [1.0, np.nan, 0.0], [True, False, True], p)
    np.testing.assert_allclose(got, [0.55, 0.5, 0.18], rtol=1e-15)
    np.testing.assert_array_equal(r, [0.5, 0.5, 0.2])  # input untouched


def test_multiplier_by_hand_with_threshold():
    p = ReputationParams(gamma=2.0, penalty_threshold=0.4)
    got = multiplier([0.375, 0.6875, 1.0, 0.4, 0.0], p)
    np.testing.assert_allclose(got, [0.0, 0.47265625, 1.0, 0.16, 0.0], rtol=1e-15)
    flat = ReputationParams(gamma=0.0, penalty_threshold=0.0)
    np.testing.assert_array_equal(multiplier([0.0, 0.3, 1.0], flat), [1.0, 1.0, 1.0])


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (([1.2], [1.0], [True]), "r must be finite and in"),
        (([0.5], [1.5], [True]), "s \\(where observed\\)"),
        (([0.5, 0.5], [1.0], [True, True]), "same length"),
        (([0.5], [1.0], [1]), "boolean mask"),
    ],
)
def test_update_input_errors(args, match):
    with pytest.raises(DefenseInputError, match=match):
        update(*args, ReputationParams())


def test_owner_scores_by_hand():
    s, seen = owner_scores([0, 2, 2, 2, 0], [True, True, False, False, True], 4)
    np.testing.assert_allclose(s, [1.0, 0.0, 1.0 / 3.0, 0.0], rtol=1e-15)
    np.testing.assert_array_equal(seen, [True, False, True, False])
    s2, _ = owner_scores([1, 1], [0.25, 0.75], 2)  # partial credit
    np.testing.assert_array_equal(s2, [0.0, 0.5])
    with pytest.raises(DefenseInputError, match="n_accounts=2"):
        owner_scores([2], [True], 2)


unit = st.floats(0.0, 1.0)


@settings(max_examples=80, deadline=None)
@given(
    data=st.data(),
    n=st.integers(0, 30),
    lam=st.floats(0.0, 1.0, exclude_max=True),
    gamma=st.floats(0.0, 10.0),
    thr=unit,
    epochs=st.integers(1, 8),
)
def test_reputation_stays_in_unit_interval_and_moves_towards_the_score(
    data, n, lam, gamma, thr, epochs
):
    p = ReputationParams(decay=lam, gamma=gamma, penalty_threshold=thr)
    r = data.draw(hnp.arrays(np.float64, n, elements=unit))
    for _ in range(epochs):
        s = data.draw(hnp.arrays(np.float64, n, elements=unit))
        obs = data.draw(hnp.arrays(np.bool_, n))
        new = update(r, s, obs, p)
        assert np.all((new >= 0.0) & (new <= 1.0))
        np.testing.assert_array_equal(new[~obs], r[~obs])
        assert np.all(np.abs(new[obs] - s[obs]) <= np.abs(r[obs] - s[obs]) + 1e-15)
        m = multiplier(new, p)
        assert np.all((m >= 0.0) & (m <= 1.0))
        assert np.all(m[new < thr] == 0.0)
        r = new
