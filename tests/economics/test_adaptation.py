"""Tests of the Hedge learner (``economics.adaptation``): exact values of each step, and
properties: probabilities are a distribution over the open strategies with the
exploration floor, a better estimated return never loses probability, and Hedge on fixed
gains converges on the best strategy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ledgerlab.economics import adaptation as H

NEG_INF = -np.inf


def test_realised_return_exact() -> None:
    income = np.array([3.0, 0.0, 100.0, 1.0, 5.0])
    cost = np.array([2.0, 4.0, 1.0, 0.0, 5.0])
    out = H.realised_return(income, cost, cap=5.0)
    np.testing.assert_array_equal(out[[0, 1, 2, 4]], [0.5, -1.0, 5.0, 0.0])
    assert math.isnan(out[3])  # nothing spent: no observation


def test_update_estimates_keeps_unobserved() -> None:
    est = np.array([[0.0, 1.0, -0.5, np.nan, np.nan]])
    obs = np.array([[1.0, np.nan, -1.0, -0.25, np.nan]])
    np.testing.assert_array_equal(
        H.update_estimates(est, obs, 0.5), [[0.5, 1.0, -0.75, -0.25, np.nan]]
    )
    np.testing.assert_array_equal(
        H.update_estimates(est, obs, 1.0), [[1.0, 1.0, -1.0, -0.25, np.nan]]
    )


def test_hedge_update_exact() -> None:
    lw = np.array([[0.0, -1.0, 0.0, -2.0]])
    gains = np.array([[1.0, 2.0, np.nan, 7.0]])
    opened = np.array([True, True, True, False])
    out = H.hedge_update(lw, gains, opened, learning_rate=0.5)
    # log w + η·g = [0.5, 0.0, 0.0 (NaN gain = 0), closed], then the max (0.5) subtracted
    np.testing.assert_array_equal(out, [[0.0, -0.5, -0.5, NEG_INF]])


def test_hedge_probabilities_exact() -> None:
    lw = np.array([[0.0, math.log(3.0), 5.0]])
    opened = np.array([True, True, False])
    p = H.hedge_probabilities(lw, opened, exploration=0.2)
    # softmax over the open two: 1/4, 3/4; mixed with 0.2 spread evenly: 0.1 each
    np.testing.assert_allclose(p, [[0.8 * 0.25 + 0.1, 0.8 * 0.75 + 0.1, 0.0]], rtol=1e-15)
    none_open = H.hedge_probabilities(lw, np.zeros(3, bool), exploration=0.2)
    np.testing.assert_array_equal(none_open, [[0.0, 0.0, 0.0]])


def test_initial_log_weights_exact() -> None:
    opened = np.array([[True, True, True, False], [True, False, True, True]])
    lw = H.initial_log_weights(np.array([1, -1]), opened, initial_share=0.7)
    p = H.hedge_probabilities(lw, opened, exploration=0.0)
    np.testing.assert_allclose(p, [[0.15, 0.7, 0.15, 0.0], [1 / 3, 0.0, 1 / 3, 1 / 3]])


def test_sample_strategies_follows_probabilities() -> None:
    rng = np.random.default_rng(5)
    p = np.tile([0.5, 0.0, 0.3, 0.2], (40_000, 1))
    code = H.sample_strategies(p, rng)
    freq = np.bincount(code, minlength=4) / code.size
    assert freq[1] == 0.0
    np.testing.assert_allclose(freq, [0.5, 0.0, 0.3, 0.2], atol=0.01)
    assert H.sample_strategies(np.zeros((2, 3)), rng).tolist() == [-1, -1]
    a = H.sample_strategies(p[:50], np.random.default_rng(1))
    b = H.sample_strategies(p[:50], np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)  # same seed, same draws


def test_sample_never_lands_on_a_closed_top_column() -> None:
    p = np.array([[0.25, 0.75, 0.0]])

    class Top:  # a uniform at the very top of the unit interval
        def random(self, n: int) -> np.ndarray:
            return np.full(n, np.nextafter(1.0, 0.0))

    assert H.sample_strategies(p, Top()).tolist() == [1]  # type: ignore[arg-type]


def test_params_are_checked() -> None:
    with pytest.raises(ValueError, match="exploration"):
        H.HedgeParams(exploration=1.0)
    with pytest.raises(ValueError, match="learning_rate"):
        H.HedgeParams(learning_rate=-1.0)
    with pytest.raises(ValueError, match="estimate_weight"):
        H.HedgeParams(estimate_weight=0.0)
    with pytest.raises(ValueError, match="return_cap"):
        H.HedgeParams(return_cap=0.0)


_LW = arrays(np.float64, (3, 5), elements=st.floats(-30, 30))
_OPEN = arrays(np.bool_, 5).filter(lambda m: bool(m.any()))


@settings(max_examples=100, deadline=None)
@given(lw=_LW, opened=_OPEN, gamma=st.floats(0, 0.99))
def test_probabilities_are_a_distribution_with_a_floor(
    lw: np.ndarray, opened: np.ndarray, gamma: float
) -> None:
    p = H.hedge_probabilities(lw, opened, gamma)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    assert (p[:, ~opened] == 0).all()
    assert (p[:, opened] >= gamma / opened.sum() * (1 - 1e-12)).all()


@settings(max_examples=100, deadline=None)
@given(
    lw=_LW,
    gains=arrays(np.float64, (3, 5), elements=st.floats(-1, 5)),
    eta=st.floats(0.01, 10),
)
def test_a_better_return_never_loses_ground(lw: np.ndarray, gains: np.ndarray, eta: float) -> None:
    """After a step, strategy i's odds against j grow by exp(η·(g_i − g_j)): a strategy
    with the higher gain gains probability relative to the other."""
    opened = np.ones(5, bool)
    before = H.hedge_probabilities(lw, opened, 0.0)
    after = H.hedge_probabilities(H.hedge_update(lw, gains, opened, eta), opened, 0.0)
    keep = (before[:, 0] > 1e-250) & (before[:, 1] > 1e-250)
    keep &= (after[:, 0] > 1e-250) & (after[:, 1] > 1e-250)
    odds_change = np.log(after[keep, 0] / after[keep, 1]) - np.log(
        before[keep, 0] / before[keep, 1]
    )
    np.testing.assert_allclose(odds_change, eta * (gains[keep, 0] - gains[keep, 1]), atol=1e-7)


def test_hedge_converges_on_the_best_strategy() -> None:
    """Fixed gains, 20 steps of η = 1: the best strategy's weight is e^{20·Δ} times the
    others', so it is played with probability (1 − γ)·1/(1 + 2e^{-20·0.5}) + γ/3."""
    opened = np.ones(3, bool)
    lw = np.zeros((1, 3))
    gains = np.array([[0.0, 0.5, 0.0]])
    for _ in range(20):
        lw = H.hedge_update(lw, gains, opened, 1.0)
    p = H.hedge_probabilities(lw, opened, 0.06)
    best = 0.94 / (1 + 2 * math.exp(-10.0)) + 0.02
    np.testing.assert_allclose(p[0, 1], best, rtol=1e-12)
