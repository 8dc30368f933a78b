"""Tests for economics.defenses.validator_vote: Yuma κ-clipped consensus, votes, collusion."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ledgerlab.economics.defenses.base import DefenseInputError, DefenseParamError, ScreenResult
from ledgerlab.economics.defenses.validator_vote import (
    STAKE_RTOL,
    ValidatorVoteParams,
    approve,
    assign_colluders,
    screen,
    vote_and_screen,
    vote_submissions,
    yuma_consensus,
)

# ---------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------


def test_params_defaults():
    p = ValidatorVoteParams()
    assert (p.kappa, p.approve_threshold, p.colluding_fraction, p.noise_std) == (0.5, 0.5, 0.0, 0.1)
    assert ValidatorVoteParams(kappa=1).kappa == 1.0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kappa": 0.0}, "kappa"),
        ({"kappa": 1.5}, "kappa"),
        ({"approve_threshold": -0.1}, "approve_threshold"),
        ({"approve_threshold": 1.01}, "approve_threshold"),
        ({"colluding_fraction": 2.0}, "colluding_fraction"),
        ({"noise_std": -1.0}, "noise_std"),
        ({"noise_std": float("nan")}, "noise_std"),
    ],
)
def test_params_reject_bad_values(kwargs, field):
    with pytest.raises(DefenseParamError, match=f"ValidatorVoteParams.{field}"):
        ValidatorVoteParams(**kwargs)


# ---------------------------------------------------------------------------------------
# Yuma consensus: the hand-computed example (3 validators, 2 miners)
# ---------------------------------------------------------------------------------------

STAKE = np.array([0.5, 0.3, 0.2])
WEIGHTS = np.array(
    [
        [1.0, 0.2],  # validator 0, stake 0.5
        [0.8, 0.9],  # validator 1, stake 0.3
        [0.1, 1.0],  # validator 2, stake 0.2
    ]
)


def test_yuma_hand_computed_kappa_half():
    # κ = 0.5, ΣS = 1 → a score needs the support of at least 0.5 stake.
    # miner 0: votes in decreasing order 1.0 (S 0.5), 0.8 (0.3), 0.1 (0.2);
    #          cumulative stake 0.5, 0.8, 1.0 → 0.5 ≥ 0.5 already at 1.0 → c₀ = 1.0.
    # miner 1: votes 1.0 (S 0.2), 0.9 (0.3), 0.2 (0.5); cumulative 0.2, 0.5, 1.0
    #          → first reaches 0.5 at 0.9 → c₁ = 0.9.
    # clipped W' = min(W, c): miner 0 unchanged [1.0, 0.8, 0.1]; miner 1 [0.2, 0.9, 0.9].
    # ranks: r₀ = 0.5·1.0 + 0.3·0.8 + 0.2·0.1 = 0.76; r₁ = 0.5·0.2 + 0.3·0.9 + 0.2·0.9 = 0.55.
    # vote kept: validator 2 gave 1.1 and keeps 0.1 + 0.9 = 1.0 → 1/1.1; the others keep all.
    y = yuma_consensus(WEIGHTS, STAKE, 0.5)
    np.testing.assert_allclose(y.consensus, [1.0, 0.9], rtol=0, atol=1e-15)
    np.testing.assert_allclose(y.clipped_weights, [[1.0, 0.2], [0.8, 0.9], [0.1, 0.9]], atol=1e-15)
    np.testing.assert_allclose(y.ranks, [0.76, 0.55], rtol=1e-14)
    np.testing.assert_allclose(y.vote_kept, [1.0, 1.0, 1.0 / 1.1], rtol=1e-14)


@pytest.mark.parametrize(
    ("kappa", "consensus", "ranks"),
    [
        # κ = 0.6: miner 0 cumulative 0.5 < 0.6 at 1.0, 0.8 ≥ 0.6 at 0.8 → c₀ = 0.8;
        #          miner 1 cumulative 0.2, 0.5 < 0.6, 1.0 at 0.2 → c₁ = 0.2.
        #          r₀ = 0.5·0.8 + 0.3·0.8 + 0.2·0.1 = 0.66; r₁ = 0.2 (everyone clipped to 0.2).
        (0.6, [0.8, 0.2], [0.66, 0.2]),
        # κ = 1: the smallest vote of any staked validator: c = [0.1, 0.2], r = c.
        (1.0, [0.1, 0.2], [0.1, 0.2]),
        # κ = 0.2: miner 0 reaches 0.2 at 1.0; miner 1 reaches 0.2 at 1.0 (validator 2 alone).
        #          r = stake-weighted raw votes: [0.76, 0.1 + 0.27 + 0.2 = 0.57].
        (0.2, [1.0, 1.0], [0.76, 0.57]),
    ],
)
def test_yuma_hand_computed_other_kappas(kappa, consensus, ranks):
    y = yuma_consensus(WEIGHTS, STAKE, kappa)
    np.testing.assert_allclose(y.consensus, consensus, atol=1e-15)
    np.testing.assert_allclose(y.ranks, ranks, rtol=1e-14)


def test_yuma_zero_stake_validator_has_no_influence_and_scale_invariance():
    w = np.vstack([WEIGHTS, [[0.0, 0.0]]])  # a fourth validator without stake votes 0
    y = yuma_consensus(w, np.append(STAKE, 0.0), 0.5)
    np.testing.assert_allclose(y.consensus, [1.0, 0.9])
    y2 = yuma_consensus(WEIGHTS, STAKE * 1000.0, 0.5)  # stake in any unit
    np.testing.assert_allclose(y2.ranks, [0.76, 0.55], rtol=1e-14)
    empty = yuma_consensus(np.zeros((3, 0)), STAKE, 0.5)
    assert empty.consensus.shape == (0,) and empty.clipped_weights.shape == (3, 0)


def test_yuma_errors():
    with pytest.raises(DefenseInputError, match="2-D"):
        yuma_consensus([1.0, 0.5], [1.0, 1.0], 0.5)
    with pytest.raises(DefenseInputError, match=r"in \[0, 1\].*validator 1, submission 0"):
        yuma_consensus([[0.5], [1.5]], [1.0, 1.0], 0.5)
    with pytest.raises(DefenseInputError, match="stake has 2 entries"):
        yuma_consensus(WEIGHTS, [1.0, 1.0], 0.5)
    with pytest.raises(DefenseInputError, match="total stake must be > 0"):
        yuma_consensus(WEIGHTS, [0.0, 0.0, 0.0], 0.5)
    with pytest.raises(DefenseParamError, match="kappa"):
        yuma_consensus(WEIGHTS, STAKE, 0.0)


def _support(w_col: np.ndarray, s: np.ndarray, level: float) -> float:
    return float(s[w_col >= level].sum())


@settings(max_examples=80, deadline=None)
@given(
    w=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 7), st.integers(1, 5)),
        elements=st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.7, 0.9, 1.0]),  # ties are common
    ),
    stake_seed=st.integers(0, 2**32 - 1),
    kappa=st.floats(0.05, 1.0),
)
def test_yuma_consensus_is_the_largest_kappa_supported_score(w, stake_seed, kappa):
    s = np.random.default_rng(stake_seed).uniform(0.0, 10.0, size=w.shape[0])
    s[0] += 1.0  # total stake > 0
    y = yuma_consensus(w, s, kappa)
    need = kappa * s.sum() * (1 - STAKE_RTOL)
    for j in range(w.shape[1]):  # brute force over the (few) distinct votes of each column
        c = y.consensus[j]
        assert c in w[:, j]
        assert _support(w[:, j], s, c) >= need
        for level in np.unique(w[:, j][w[:, j] > c]):
            assert _support(w[:, j], s, level) < need
    np.testing.assert_array_equal(y.clipped_weights, np.minimum(w, y.consensus))
    np.testing.assert_allclose(y.ranks, s @ y.clipped_weights / s.sum(), rtol=1e-12)
    # validators' order does not matter; a larger κ never raises the consensus
    perm = np.random.default_rng(stake_seed).permutation(w.shape[0])
    np.testing.assert_array_equal(yuma_consensus(w[perm], s[perm], kappa).consensus, y.consensus)
    assert np.all(yuma_consensus(w, s, min(1.0, kappa + 0.2)).consensus <= y.consensus)


# ---------------------------------------------------------------------------------------
# votes and collusion
# ---------------------------------------------------------------------------------------


def test_vote_submissions_honest_and_colluding():
    q = np.array([0.2, 0.8, 0.5, 0.0])
    target = np.array([True, False, False, True])
    colluding = np.array([False, True, False])
    w0 = vote_submissions(q, target, colluding, 0.0, np.random.default_rng(1))
    np.testing.assert_array_equal(w0[[0, 2]], np.tile(q, (2, 1)))  # no noise: the quality
    np.testing.assert_array_equal(w0[1], [1.0, 0.8, 0.5, 1.0])  # colluder: 1.0 to its allies
    w = vote_submissions(q, target, colluding, 0.3, np.random.default_rng(2))
    assert w.shape == (3, 4) and w.min() >= 0.0 and w.max() <= 1.0
    # common random numbers: the honest scores do not depend on who colludes
    w_honest = vote_submissions(q, target, np.zeros(3, bool), 0.3, np.random.default_rng(2))
    np.testing.assert_array_equal(w[[0, 2]], w_honest[[0, 2]])
    np.testing.assert_array_equal(w[1, [1, 2]], w_honest[1, [1, 2]])
    assert np.all(w[1, [0, 3]] == 1.0)
    with pytest.raises(DefenseInputError, match="same length"):
        vote_submissions(q, target[:3], colluding, 0.1, np.random.default_rng(0))
    with pytest.raises(DefenseInputError, match="quality_signal"):
        vote_submissions([1.2], [True], colluding, 0.1, np.random.default_rng(0))


def _collusion_round(colluding_share_validators: int, noise_std: float, seed: int):
    """10 validators of equal stake, the first k collude; 20 honest submissions of quality
    0.8 and 10 farmer submissions of quality 0.2 allied with the colluders."""
    stake = np.ones(10)
    colluding = np.arange(10) < colluding_share_validators
    q = np.r_[np.full(20, 0.8), np.full(10, 0.2)]
    target = np.r_[np.zeros(20, bool), np.ones(10, bool)]
    params = ValidatorVoteParams(kappa=0.5, approve_threshold=0.5, noise_std=noise_std)
    return vote_and_screen(q, target, stake, colluding, params, np.random.default_rng(seed)), target


def test_colluding_minority_cannot_lift_its_farmers_but_a_majority_can():
    # no noise: honest validators all vote 0.2 for farmers, so a 30 % coalition (< κ = 50 %)
    # leaves the consensus exactly at the honest score; a 60 % coalition sets it to 1.0.
    minority, target = _collusion_round(3, 0.0, seed=0)
    np.testing.assert_array_equal(minority.yuma.consensus[target], 0.2)
    assert not minority.approved[target].any() and minority.approved[~target].all()
    # the colluders' excess votes are clipped away: they keep (20·0.8 + 10·0.2)/(20·0.8 + 10)
    np.testing.assert_allclose(minority.yuma.vote_kept[:3], 18.0 / 26.0)
    np.testing.assert_allclose(minority.yuma.vote_kept[3:], 1.0)
    majority, _ = _collusion_round(6, 0.0, seed=0)
    np.testing.assert_array_equal(majority.yuma.consensus[target], 1.0)
    assert majority.approved.all()


@pytest.mark.parametrize("seed", range(5))
def test_colluding_minority_bounded_by_honest_votes_with_noise(seed):
    minority, target = _collusion_round(4, 0.1, seed)
    honest_max = minority.weights[4:][:, target].max(axis=0)
    assert np.all(minority.yuma.consensus[target] <= honest_max)
    assert not minority.approved[target].any()
    majority, _ = _collusion_round(6, 0.1, seed)
    assert np.all(majority.yuma.consensus[target] == 1.0) and majority.approved[target].all()


def test_assign_colluders_respects_the_stake_share():
    stake = np.array([5.0, 1.0, 1.0, 2.0, 1.0])
    for seed in range(20):
        c = assign_colluders(stake, 0.3, np.random.default_rng(seed))
        assert stake[c].sum() <= 0.3 * stake.sum()
    a = assign_colluders(stake, 0.3, np.random.default_rng(7))
    np.testing.assert_array_equal(a, assign_colluders(stake, 0.3, np.random.default_rng(7)))
    assert not assign_colluders(stake, 0.0, np.random.default_rng(0)).any()
    assert assign_colluders(stake, 1.0, np.random.default_rng(0)).all()


# ---------------------------------------------------------------------------------------
# approval and screening
# ---------------------------------------------------------------------------------------


def test_approve_and_screen():
    c = np.array([0.9, 0.5, 0.2, 0.0])
    np.testing.assert_array_equal(approve(c, 0.5), [True, True, False, False])
    res = screen(c, 0.5)
    assert isinstance(res, ScreenResult) and res.defense == "validator_vote"
    np.testing.assert_array_equal(res.accept, [True, True, False, False])
    np.testing.assert_array_equal(res.flagged, [False, False, True, True])
    np.testing.assert_allclose(res.severity, [0.0, 0.0, 0.6, 1.0])
    assert res.counts()["vote"] == 2
    assert screen(c, 0.0).accept.all()
    with pytest.raises(DefenseParamError, match="threshold"):
        approve(c, 1.5)
