"""Tests for economics.fees: inference fee, fee split, contributor payouts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerlab.economics.fees import (
    FeeError,
    FeeSplit,
    FeeSplitError,
    contributor_payouts,
    inference_fee_tokens,
    split_fees,
)

# ---------------------------------------------------------------------------------------
# inference fee
# ---------------------------------------------------------------------------------------


def test_inference_fee_formula():
    # 1,500 prompt tokens at 0.2/1k + 500 completion tokens at 0.6/1k + 0.01 flat
    assert inference_fee_tokens(1_500, 500, 0.2, 0.6, 0.01) == pytest.approx(0.61, rel=1e-15)
    assert inference_fee_tokens(0, 0, 5.0, 5.0, 0.0) == 0.0
    got = inference_fee_tokens(
        np.array([1_000, 2_000, 0]), np.array([0, 1_000, 3_000]), 1.0, np.array([2.0]), 0.5
    )
    np.testing.assert_allclose(got, [1.5, 4.5, 6.5], rtol=1e-15)


@pytest.mark.parametrize(
    ("args", "name"),
    [
        ((-1, 0, 1.0, 1.0, 0.0), "tokens_in"),
        ((1, math.nan, 1.0, 1.0, 0.0), "tokens_out"),
        ((1, 1, -1.0, 1.0, 0.0), "rate_in_per_1k"),
        ((1, 1, 1.0, math.inf, 0.0), "rate_out_per_1k"),
        ((1, 1, 1.0, 1.0, -0.01), "platform_fee_tokens"),
    ],
)
def test_inference_fee_rejects_bad_input(args, name):
    with pytest.raises(FeeError, match=name):
        inference_fee_tokens(*args)


# ---------------------------------------------------------------------------------------
# FeeSplit and split_fees
# ---------------------------------------------------------------------------------------


def test_fee_split_validation():
    FeeSplit(0.4, 0.2, 0.3, 0.1)
    FeeSplit(1.0, 0.0, 0.0, 0.0)
    FeeSplit(0.1, 0.2, 0.3, 0.4 + 5e-13)  # within 1e-12
    with pytest.raises(FeeSplitError) as err:
        FeeSplit(0.5, 0.3, 0.3, 0.0)
    msg = str(err.value)
    assert "builder=0.5" in msg and "contributors=0.3" in msg and "sum to 1.1" in msg
    with pytest.raises(FeeSplitError, match="sum to"):
        FeeSplit(0.1, 0.2, 0.3, 0.4 + 1e-9)
    with pytest.raises(FeeSplitError, match=r"stakers=-0.1 must be a fraction in \[0, 1\]"):
        FeeSplit(0.6, -0.1, 0.4, 0.1)
    with pytest.raises(FeeSplitError, match="burn=nan"):
        FeeSplit(0.5, 0.5, 0.0, math.nan)
    with pytest.raises(FeeSplitError, match=r"builder=1\.5"):
        FeeSplit(1.5, 0.0, 0.0, -0.5)
    assert issubclass(FeeSplitError, ValueError)


def test_split_fees_values():
    parts = split_fees(np.array([10.0, 0.0, 2.5]), FeeSplit(0.4, 0.2, 0.3, 0.1))
    assert set(parts) == {"builder", "stakers", "contributors", "burn"}
    np.testing.assert_allclose(parts["builder"], [4.0, 0.0, 1.0], rtol=1e-15)
    np.testing.assert_allclose(parts["stakers"], [2.0, 0.0, 0.5], rtol=1e-15)
    np.testing.assert_allclose(parts["contributors"], [3.0, 0.0, 0.75], rtol=1e-15)
    np.testing.assert_allclose(parts["burn"], [1.0, 0.0, 0.25], rtol=1e-15)
    with pytest.raises(FeeError, match="net_fee_tokens"):
        split_fees(np.array([1.0, -1.0]), FeeSplit(1.0, 0.0, 0.0, 0.0))


share = st.floats(min_value=0.0, max_value=1.0)


@st.composite
def fee_splits(draw):
    raw = np.array([draw(share) for _ in range(4)]) + 1e-3
    raw = raw / raw.sum()
    raw[3] = max(0.0, 1.0 - raw[:3].sum())
    return FeeSplit(*(float(v) for v in raw))


@settings(max_examples=100, deadline=None)
@given(
    fees=st.lists(st.floats(min_value=0.0, max_value=1e9, allow_subnormal=False), max_size=30),
    split=fee_splits(),
)
def test_split_fees_parts_sum_to_fee(fees, split):
    fee = np.array(fees, dtype=float)
    parts = split_fees(fee, split)
    total = parts["builder"] + parts["stakers"] + parts["contributors"] + parts["burn"]
    np.testing.assert_allclose(total, fee, rtol=1e-11, atol=0)
    assert all((p >= 0).all() for p in parts.values())


# ---------------------------------------------------------------------------------------
# contributor payouts
# ---------------------------------------------------------------------------------------


def test_contributor_payouts_positive_part_only():
    got = contributor_payouts(90.0, np.array([1.0, -5.0, 2.0, 0.0]))
    np.testing.assert_allclose(got, [30.0, 0.0, 60.0, 0.0], rtol=1e-15)
    np.testing.assert_array_equal(contributor_payouts(90.0, np.array([-1.0, 0.0])), [0.0, 0.0])
    assert contributor_payouts(5.0, np.zeros(0)).shape == (0,)
    with pytest.raises(FeeError, match="pool_tokens"):
        contributor_payouts(-1.0, np.array([1.0]))
    with pytest.raises(FeeError, match="shares_by_account"):
        contributor_payouts(1.0, np.array([1.0, math.nan]))
    with pytest.raises(FeeError, match="1-D"):
        contributor_payouts(1.0, np.ones((2, 2)))


@settings(max_examples=100, deadline=None)
@given(
    pool=st.floats(min_value=0.0, max_value=1e12, allow_subnormal=False),
    shares=st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_subnormal=False), max_size=40),
)
def test_contributor_payouts_properties(pool, shares):
    s = np.array(shares, dtype=float)
    got = contributor_payouts(pool, s)
    assert got.shape == s.shape
    assert (got >= 0).all()
    assert (got[s <= 0] == 0).all()
    if (s > 0).any():
        assert got.sum() == pytest.approx(pool, rel=1e-12, abs=0)
        # ordering follows the positive values
        pos = s > 0
        assert np.all(np.diff(got[pos][np.argsort(s[pos])]) >= -1e-9 * max(pool, 1.0))
    else:
        assert got.sum() == 0.0


def test_overflowing_fees_are_rejected():
    with pytest.raises(FeeError, match="overflows"):
        inference_fee_tokens(1e300, 0, 1e300, 0.0, 0.0)
