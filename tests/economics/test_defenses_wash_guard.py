"""Tests for economics.defenses.wash_guard: independence, attributable fees, the reward cap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerlab.economics.defenses.base import DefenseInputError, DefenseParamError
from ledgerlab.economics.defenses.sybil_graph import funding_clusters
from ledgerlab.economics.defenses.wash_guard import (
    WashGuardParams,
    attributed_independent_fees,
    cap_rewards,
    independent_fees,
    independent_mask,
)

# ---------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------


def test_params():
    assert WashGuardParams().multiplier == 1.0
    assert WashGuardParams(multiplier=3).multiplier == 3.0


@pytest.mark.parametrize("m", [0.0, -1.0, float("nan"), float("inf"), "2", True])
def test_params_reject_bad_multiplier(m):
    with pytest.raises(DefenseParamError, match=r"WashGuardParams\.multiplier"):
        WashGuardParams(multiplier=m)


# ---------------------------------------------------------------------------------------
# independence
# ---------------------------------------------------------------------------------------

# accounts: 0 = model owner / contributor, 2 was funded by 0 (same cluster), 1, 3, 4 unrelated
CLUSTERS = funding_clusters([0], [2], 7)  # [0, 1, 0, 3, 4, 5, 6]


def test_independent_mask_by_hand():
    payer = [1, 0, 2, 3]
    recipient = [0, 0, 0, 0]
    np.testing.assert_array_equal(independent_mask(payer, recipient), [True, False, True, True])
    np.testing.assert_array_equal(
        independent_mask(payer, recipient, CLUSTERS), [True, False, False, True]
    )


def test_independent_fees_by_hand():
    # rows (payer → model owner, fee): 1→0 5 (independent), 0→0 3 (self-dealing),
    # 2→0 4 (2 funded by 0: same cluster, wash), 3→4 1 (independent)
    res = independent_fees([1, 0, 2, 3], [0, 0, 0, 4], [5.0, 3.0, 4.0, 1.0], 7, CLUSTERS)
    np.testing.assert_array_equal(res.independent, [True, False, False, True])
    np.testing.assert_allclose(res.independent_tokens, [5.0, 0, 0, 0, 1.0, 0, 0])
    np.testing.assert_allclose(res.wash_tokens, [7.0, 0, 0, 0, 0, 0, 0])
    # without cluster information only the identity rule applies: 2→0 now counts
    res = independent_fees([1, 0, 2, 3], [0, 0, 0, 4], [5.0, 3.0, 4.0, 1.0], 7)
    np.testing.assert_allclose(res.independent_tokens, [9.0, 0, 0, 0, 1.0, 0, 0])
    np.testing.assert_allclose(res.wash_tokens, [3.0, 0, 0, 0, 0, 0, 0])


def test_attributed_independent_fees_by_hand():
    # inference 0: payer 5, fee 6, credits 1 (w 2) and 2 (w 1) → 4 to account 1, 2 to account 2
    # inference 1: payer 1, fee 3, credits 1 (w 1) and 2 (w 1) → 1.5 each; account 1 paid
    #              for it itself, so only account 2's 1.5 is independent
    # inference 2: payer 6, fee 10, credits 2 (w −1 → 0) and 3 (w 1) → 10 to account 3
    payer, fee = [5, 1, 6], [6.0, 3.0, 10.0]
    inf, acc, w = [0, 0, 1, 1, 2, 2], [1, 2, 1, 2, 2, 3], [2.0, 1.0, 1.0, 1.0, -1.0, 1.0]
    got = attributed_independent_fees(payer, fee, inf, acc, w, 7)
    np.testing.assert_allclose(got, [0, 4.0, 3.5, 10.0, 0, 0, 0])
    # with clusters where 6 was funded by 3, account 3's credit from payer 6 is not independent
    cid = funding_clusters([3], [6], 7)
    got = attributed_independent_fees(payer, fee, inf, acc, w, 7, cid)
    np.testing.assert_allclose(got, [0, 4.0, 3.5, 0.0, 0, 0, 0])


@settings(max_examples=40, deadline=None)
@given(
    triples=st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 9), st.floats(-1.0, 5.0)),
        min_size=1,
        max_size=30,
    ),
    fees=st.lists(st.floats(0.0, 100.0), min_size=5, max_size=5),
)
def test_attributed_fees_split_each_fee_by_positive_weight_when_all_payers_independent(
    triples, fees
):
    inf = np.array([t[0] for t in triples])
    acc = np.array([t[1] for t in triples])
    w = np.array([t[2] for t in triples])
    payer = np.full(5, 10)  # account 10 never receives credit: always independent
    got = attributed_independent_fees(payer, fees, inf, acc, w, 11)
    expected = np.zeros(11)
    unattributed = 0.0
    for i, fee in enumerate(fees):  # the definition, inference by inference
        mine = inf == i
        pos = np.maximum(w[mine], 0.0)
        if pos.sum() > 0:
            np.add.at(expected, acc[mine], pos / pos.sum() * fee)
        else:
            unattributed += fee
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert math.isclose(got.sum() + unattributed, sum(fees), rel_tol=1e-12, abs_tol=1e-9)


def test_input_errors():
    with pytest.raises(DefenseInputError, match="same length"):
        independent_fees([1, 2], [0], [1.0, 1.0], 3)
    with pytest.raises(DefenseInputError, match="n_accounts=3"):
        independent_fees([1], [5], [1.0], 3)
    with pytest.raises(DefenseInputError, match="fee_tokens"):
        independent_fees([1], [0], [-1.0], 3)
    with pytest.raises(DefenseInputError, match="cluster_id must have one entry per account"):
        independent_fees([1], [0], [1.0], 3, cluster_id=[0, 1])
    with pytest.raises(DefenseInputError, match="out of range for 1 inferences"):
        attributed_independent_fees([1], [1.0], [1], [0], [1.0], 3)
    with pytest.raises(DefenseInputError, match="account"):
        attributed_independent_fees([1], [1.0], [0], [4], [1.0], 3)
    with pytest.raises(DefenseInputError, match="weight"):
        attributed_independent_fees([1], [1.0], [0], [0], [float("nan")], 3)


# ---------------------------------------------------------------------------------------
# the cap
# ---------------------------------------------------------------------------------------


def test_cap_rewards_by_hand():
    # m = 2: caps = 2·[2, 10, 0, 3] = [4, 20, 0, 6]
    # rewards [10, 5, 8, 0] → capped [4, 5, 0, 0]; returned (10−4) + (8−0) = 14
    capped, returned = cap_rewards([10.0, 5.0, 8.0, 0.0], [2.0, 10.0, 0.0, 3.0], 2.0)
    np.testing.assert_allclose(capped, [4.0, 5.0, 0.0, 0.0])
    assert returned == pytest.approx(14.0)
    capped, returned = cap_rewards([10.0], [2.0], WashGuardParams(multiplier=10.0).multiplier)
    assert capped.tolist() == [10.0] and returned == 0.0


def test_wash_farmer_self_dealing_earns_nothing():
    # account 3 runs a model and pays for inference on it from itself and from a wallet it
    # funded (account 4); account 0 is an honest builder with one independent consumer (1)
    cid = funding_clusters([3], [4], 5)
    fees = independent_fees([3, 4, 4, 1], [3, 3, 3, 0], [50.0, 50.0, 50.0, 2.0], 5, cid)
    rewards = np.array([3.0, 0.0, 0.0, 100.0, 0.0])
    capped, returned = cap_rewards(rewards, fees.independent_tokens, 2.0)
    np.testing.assert_allclose(capped, [3.0, 0.0, 0.0, 0.0, 0.0])
    assert returned == pytest.approx(100.0)
    assert fees.wash_tokens[3] == pytest.approx(150.0)


def test_cap_rewards_errors():
    with pytest.raises(DefenseInputError, match="same length"):
        cap_rewards([1.0, 2.0], [1.0], 1.0)
    with pytest.raises(DefenseInputError, match="rewards_by_account"):
        cap_rewards([-1.0], [1.0], 1.0)
    with pytest.raises(DefenseParamError, match="multiplier"):
        cap_rewards([1.0], [1.0], 0.0)


@settings(max_examples=60, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.floats(0, 1e6), st.floats(0, 1e6)), min_size=1, max_size=30),
    m=st.floats(0.01, 100.0),
)
def test_cap_rewards_properties(pairs, m):
    r = np.array([p[0] for p in pairs])
    f = np.array([p[1] for p in pairs])
    capped, returned = cap_rewards(r, f, m)
    assert np.all(capped <= r) and np.all(capped <= m * f) and np.all(capped >= 0)
    assert np.all((capped == r) | (capped == m * f))
    assert math.isclose(capped.sum() + returned, r.sum(), rel_tol=1e-12, abs_tol=1e-9)
    capped2, _ = cap_rewards(r, f, 2 * m)  # a looser cap never pays less
    assert np.all(capped2 >= capped)
