"""Excess share and overpayment: bounded, additive, and ranking defences the right way."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ledgerlab.economics import metrics as M


def test_excess_share_exact_values() -> None:
    r = [60.0, 30.0, 10.0]
    v = [10.0, 50.0, 40.0]
    adv = [True, False, False]
    assert M.excess_share(r, v, adv) == pytest.approx(0.6 - 0.1)
    assert M.overpayment(r, v, adv) == pytest.approx(100.0 * 0.5)
    # negative values count as zero value (v⁺)
    assert M.excess_share(r, [-5.0, 50.0, 50.0], adv) == pytest.approx(0.6)


def test_excess_share_is_nan_without_rewards_or_value() -> None:
    assert np.isnan(M.excess_share([0.0, 0.0], [1.0, 1.0], [True, False]))
    assert np.isnan(M.excess_share([1.0, 1.0], [-1.0, 0.0], [True, False]))
    assert M.overpayment([0.0, 0.0], [1.0, 1.0], [True, False]) == 0.0
    assert np.isnan(M.overpayment([1.0, 0.0], [0.0, 0.0], [True, False]))


def test_a_vanishing_fair_share_does_not_explode_excess_share() -> None:
    """Capture divides by the adversaries' fair share; excess share subtracts it."""
    r = np.array([3.6e-3, 1.0 - 3.6e-3])
    adv = np.array([True, False])
    for tiny in (1e-3, 1e-6, 0.0):
        assert M.excess_share(r, [tiny, 1.0], adv) == pytest.approx(3.6e-3, abs=1e-3)


amounts = arrays(np.float64, 6, elements=st.floats(0, 1e6, allow_subnormal=False))
flags = arrays(np.bool_, 6)


@given(amounts, amounts, flags)
def test_excess_share_is_bounded_and_overpayment_is_its_multiple(r, v, adv) -> None:
    e = M.excess_share(r, v, adv)
    if np.isnan(e):
        return
    assert -1.0 <= e <= 1.0
    assert M.overpayment(r, v, adv) == pytest.approx(r.sum() * e, rel=1e-9, abs=1e-6)


@given(amounts, amounts, flags, st.floats(0.0, 1.0))
def test_paying_adversaries_less_never_raises_excess_share(r, v, adv, cut) -> None:
    """A defence that withholds part of the adversaries' rewards (and nothing else) cannot
    look worse by this metric — the property adversary capture lacked."""
    cut_r = np.where(adv, r * cut, r)
    before, after = M.excess_share(r, v, adv), M.excess_share(cut_r, v, adv)
    if np.isnan(before) or np.isnan(after):
        return
    assert after <= before + 1e-12


def test_overpayment_is_additive_over_epochs() -> None:
    """Each epoch's rewards split fairly: the run's overpayment is the sum of its epochs'."""
    rng = np.random.default_rng(3)
    adv = np.array([True, True, False, False, False])
    total = 0.0
    for _ in range(5):
        r = rng.uniform(0, 10, 5)
        fair = rng.uniform(0, 1, 5)
        fair *= r.sum() / fair.sum()  # fair rewards split what was paid
        total += M.overpayment(r, fair, adv)
        expected_epoch = r[adv].sum() - fair[adv].sum()
        assert M.overpayment(r, fair, adv) == pytest.approx(expected_epoch)
    assert np.isfinite(total)
