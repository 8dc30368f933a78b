"""The private unchecked kernels of ``economics.metrics`` (used by the simulator's KPI
collection on values it computed itself) give the public functions' results bit for bit."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerlab.economics import metrics as M

amounts = st.floats(min_value=0.0, max_value=1e15, allow_nan=False, allow_infinity=False)
rates = st.floats(min_value=-1.0, max_value=50.0, allow_nan=False, allow_infinity=False)


def same_bits(a: float, b: float) -> bool:
    """Equal as float64 bit patterns (NaN equals NaN, 0.0 differs from -0.0)."""
    return np.float64(a).tobytes() == np.float64(b).tobytes()


@settings(max_examples=300, deadline=None)
@given(amounts, amounts)
def test_ratio_is_the_metrics_ratio(num: float, den: float) -> None:
    with np.errstate(over="ignore"):  # a subnormal denominator overflows to inf in both
        expected = (M.staking_ratio(num, den), M.inflation(den, num))
    assert same_bits(M._ratio_unchecked(num, den), expected[0])
    assert same_bits(M._ratio_unchecked(num - den, den), expected[1])


@settings(max_examples=300, deadline=None)
@given(rates, st.sampled_from([1.0, 12.0, 52.0, 365.0, 365.25, 8766.0]))
def test_annualise_is_the_metrics_annualise(rate: float, epochs_per_year: float) -> None:
    with np.errstate(over="ignore"):
        expected = M.annualise(rate, epochs_per_year)
    assert same_bits(M._annualise_unchecked(rate, epochs_per_year), expected)


def test_annualise_reference_values() -> None:
    assert M._annualise_unchecked(0.0, 365.0) == 0.0
    assert math.copysign(1.0, M._annualise_unchecked(-0.0, 365.0)) == -1.0
    assert M._annualise_unchecked(-1.0, 12.0) == -1.0
    assert M._annualise_unchecked(0.01, 12.0) == M.annualise(0.01, 12.0)
    assert abs(M._annualise_unchecked(0.01, 12.0) - (1.01**12 - 1)) < 1e-15
    assert M._annualise_unchecked(1e3, 8766.0) == math.inf  # beyond float64, no warning


@settings(max_examples=200, deadline=None)
@given(st.lists(amounts, min_size=1, max_size=40), st.lists(amounts, min_size=1, max_size=40))
def test_held_sum_is_circulating_supply(balance: list[float], staked: list[float]) -> None:
    n = min(len(balance), len(staked))
    b, s = np.array(balance[:n]), np.array(staked[:n])
    bonded = s[::-1].copy()
    held = M._held_unchecked(b, s, bonded)
    assert float(held.sum()) == M.circulating_supply(b, s, bonded, np.zeros(n))
    np.testing.assert_array_equal(held, b + s + bonded)
