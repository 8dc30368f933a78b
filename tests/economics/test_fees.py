"""Tests for economics.fees: inference fee, fee split, contributor payouts, fee routing."""

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
    Transfers,
    aggregate_inference_attribution,
    contributor_payouts,
    inference_fee_tokens,
    route_inference_fees,
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


# ---------------------------------------------------------------------------------------
# per-inference attribution
# ---------------------------------------------------------------------------------------


def test_aggregate_inference_attribution_hand_example():
    # inference 0 (fee 6): accounts 7,8 with weights 1,2; inference 1 (fee 4): 8 and a
    # poisoned 9 (negative); inference 2 (fee 5): only negative -> unattributed
    accounts, amounts, unattributed = aggregate_inference_attribution(
        inference=np.array([0, 0, 1, 1, 2]),
        account=np.array([7, 8, 8, 9, 7]),
        weight=np.array([1.0, 2.0, 3.0, -1.0, -2.0]),
        contributor_fee_tokens=np.array([6.0, 4.0, 5.0]),
    )
    np.testing.assert_array_equal(accounts, [7, 8, 9])
    np.testing.assert_allclose(amounts, [2.0, 8.0, 0.0], rtol=1e-15)
    assert unattributed == 5.0
    with pytest.raises(FeeError, match="out of range"):
        aggregate_inference_attribution(np.array([3]), np.array([1]), np.array([1.0]), [1.0])
    with pytest.raises(FeeError, match="same length"):
        aggregate_inference_attribution(np.array([0, 0]), np.array([1]), np.array([1.0]), [1.0])


def test_per_inference_attribution_routes_exactly_through_aggregate_weights():
    rng = np.random.default_rng(0)
    n_inf, k = 500, 5
    payer = rng.integers(0, 20, n_inf)
    builder = rng.integers(100, 103, n_inf)
    fee = rng.uniform(0.1, 2.0, n_inf)
    split = FeeSplit(0.3, 0.1, 0.5, 0.1)
    inf = np.repeat(np.arange(n_inf), k)
    acc = rng.integers(200, 260, n_inf * k)
    w = rng.uniform(0.0, 1.0, n_inf * k)
    accounts, amounts, unattributed = aggregate_inference_attribution(inf, acc, w, fee * 0.5)
    assert unattributed == 0.0
    t = route_inference_fees(
        payer, builder, fee, split,
        staker_accounts=[300], staker_weights=[1.0],
        contributor_accounts=accounts, contributor_weights=amounts,
    )  # fmt: skip
    # reference: each inference pays its contributors directly (dense, loop-free)
    expected = np.zeros(300)
    per_edge = fee[inf] * 0.5 * w / np.bincount(inf, weights=w)[inf]
    np.add.at(expected, acc, per_edge)
    got = np.zeros(301)
    np.add.at(got, t.dst, t.amount)
    np.testing.assert_allclose(got[200:260], expected[200:260], rtol=1e-10)


# ---------------------------------------------------------------------------------------
# routing
# ---------------------------------------------------------------------------------------


def _net(t: Transfers, n: int) -> np.ndarray:
    """Balance change per account after applying the transfers and the burns."""
    delta = np.zeros(n)
    np.add.at(delta, t.dst, t.amount)
    np.subtract.at(delta, t.src, t.amount)
    np.subtract.at(delta, t.burn_src, t.burn_amount)
    return delta


def test_route_hand_example_with_burn_sink():
    split = FeeSplit(0.4, 0.2, 0.3, 0.1)
    t = route_inference_fees(
        np.array([1, 2, 1, 3]), np.array([10, 10, 11, 3]), np.array([1.0, 2.0, 3.0, 4.0]), split,
        staker_accounts=[20, 21], staker_weights=[1.0, 3.0],
        contributor_accounts=[30, 31, 32], contributor_weights=[1.0, -1.0, 2.0],
        burn_account=99,
    )  # fmt: skip
    assert t.src.dtype == np.int64 and t.dst.dtype == np.int64 and t.amount.dtype == np.float64
    assert len(t) == t.amount.shape[0]
    assert (t.amount > 0).all()
    delta = _net(t, 100)
    expected = np.zeros(100)
    expected[[1, 2, 3]] = [-4.0, -2.0, -4.0 + 1.6]  # 3 is payer and builder of its inference
    expected[10], expected[11] = 0.4 + 0.8, 1.2
    expected[20], expected[21] = 0.5, 1.5  # stakers' pool 2.0 by stake 1:3
    expected[30], expected[31], expected[32] = 1.0, 0.0, 2.0  # pool 3.0 by positive part
    np.testing.assert_allclose(delta, expected, rtol=1e-15, atol=1e-15)
    assert (t.builder_tokens, t.stakers_tokens, t.contributors_tokens) == pytest.approx(
        (4.0, 2.0, 3.0), rel=1e-15
    )
    assert t.burn_tokens == pytest.approx(1.0, rel=1e-15)
    np.testing.assert_array_equal(t.burn_src, [99])
    assert (t.dst == 99).sum() == 3  # one burn leg per payer
    assert t.unallocated_tokens == 0.0


def test_route_without_recipients_and_without_sink():
    split = FeeSplit(0.5, 0.2, 0.2, 0.1)
    payer, builder, fee = np.array([1, 1, 2]), np.array([5, 5, 5]), np.array([1.0, 1.0, 2.0])
    burn = route_inference_fees(
        payer, builder, fee, split,
        staker_accounts=[], staker_weights=[],
        contributor_accounts=[7], contributor_weights=[-3.0],
    )  # fmt: skip
    # no stakers, no positive attribution: both pools burn (from the payers: no sink given)
    assert burn.burn_tokens == pytest.approx(2.0, rel=1e-15)
    np.testing.assert_array_equal(burn.burn_src, [1, 2])
    np.testing.assert_allclose(burn.burn_amount, [1.0, 1.0], rtol=1e-15)
    np.testing.assert_allclose(_net(burn, 8)[[1, 2, 5, 7]], [-2.0, -2.0, 2.0, 0.0], rtol=1e-15)
    keep = route_inference_fees(
        payer, builder, fee, split,
        staker_accounts=[], staker_weights=[],
        contributor_accounts=[7], contributor_weights=[0.0],
        unallocated="payer",
    )  # fmt: skip
    assert keep.unallocated_tokens == pytest.approx(1.6, rel=1e-15)
    assert keep.burn_tokens == pytest.approx(0.4, rel=1e-15)
    np.testing.assert_allclose(_net(keep, 8)[[1, 2, 5]], [-1.2, -1.2, 2.0], rtol=1e-15)


def test_route_empty_batch():
    t = route_inference_fees(
        [], [], [], FeeSplit(0.25, 0.25, 0.25, 0.25),
        staker_accounts=[1], staker_weights=[1.0],
        contributor_accounts=[2], contributor_weights=[1.0], burn_account=0,
    )  # fmt: skip
    assert len(t) == 0 and t.burn_src.size == 0 and t.burn_tokens == 0.0


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"payer": np.array([1, 2])}, "same length"),
        ({"fee_tokens": np.array([1.0, -1.0, 1.0])}, "fee_tokens"),
        ({"payer": np.array([1.0, 2.0, 3.0])}, "integer account ids"),
        ({"builder": np.array([1, -2, 3])}, "builder must be account ids >= 0"),
        ({"staker_weights": [1.0, 2.0]}, "staker_weights has 2 entries for 1"),
        ({"staker_weights": [-1.0]}, "staker_weights"),
        ({"contributor_weights": [math.nan]}, "contributor_weights"),
        ({"contributor_accounts": [[1]]}, "1-D"),
        ({"unallocated": "keep"}, "unallocated"),
        ({"burn_account": -1}, "burn_account"),
    ],
)
def test_route_rejects_bad_input(override, match):
    kwargs = {
        "payer": np.array([1, 2, 3]),
        "builder": np.array([4, 4, 4]),
        "fee_tokens": np.array([1.0, 1.0, 1.0]),
        "split": FeeSplit(0.25, 0.25, 0.25, 0.25),
        "staker_accounts": [5],
        "staker_weights": [1.0],
        "contributor_accounts": [6],
        "contributor_weights": [1.0],
    }
    kwargs.update(override)
    with pytest.raises(FeeError, match=match):
        route_inference_fees(**kwargs)


N_ACCOUNTS = 40
ids = st.integers(min_value=0, max_value=N_ACCOUNTS - 1)


@settings(max_examples=120, deadline=None)
@given(
    data=st.lists(
        st.tuples(ids, ids, st.floats(min_value=0.0, max_value=1e6)), min_size=0, max_size=60
    ),
    stakers=st.lists(st.tuples(ids, st.floats(min_value=0.0, max_value=1e9)), max_size=8),
    contributors=st.lists(st.tuples(ids, st.floats(min_value=-1e3, max_value=1e3)), max_size=12),
    split=fee_splits(),
    sink=st.sampled_from([None, N_ACCOUNTS]),
    unallocated=st.sampled_from(["burn", "payer"]),
)
def test_route_conserves_and_pays_everyone_their_share(
    data, stakers, contributors, split, sink, unallocated
):
    payer = np.array([d[0] for d in data], dtype=np.int64)
    builder = np.array([d[1] for d in data], dtype=np.int64)
    fee = np.array([d[2] for d in data], dtype=float)
    s_acc = np.array([s[0] for s in stakers], dtype=np.int64)
    s_w = np.array([s[1] for s in stakers], dtype=float)
    c_acc = np.array([c[0] for c in contributors], dtype=np.int64)
    c_w = np.array([c[1] for c in contributors], dtype=float)
    t = route_inference_fees(
        payer, builder, fee, split,
        staker_accounts=s_acc, staker_weights=s_w,
        contributor_accounts=c_acc, contributor_weights=c_w,
        burn_account=sink, unallocated=unallocated,
    )  # fmt: skip
    total = fee.sum()
    tol = 1e-12 * max(total, 1.0)
    assert (t.amount > 0).all()
    # conservation: routed (excluding legs into the burn sink) + burn + unallocated == fees
    to_sink = t.dst == sink if sink is not None else np.zeros(len(t), dtype=bool)
    routed = t.amount[~to_sink].sum()
    assert routed + t.burn_tokens + t.unallocated_tokens == pytest.approx(total, abs=10 * tol)
    assert t.burn_tokens == pytest.approx(t.burn_amount.sum(), abs=tol)
    if sink is not None:
        assert t.amount[to_sink].sum() == pytest.approx(t.burn_tokens, abs=tol)
    parts_sum = t.builder_tokens + t.stakers_tokens + t.contributors_tokens
    assert parts_sum + t.burn_tokens + t.unallocated_tokens == pytest.approx(total, abs=10 * tol)

    # each account's net change equals the direct (dense) formula
    parts = split_fees(fee, split)
    expected = np.zeros(N_ACCOUNTS + 1)
    np.add.at(expected, builder, parts["builder"])
    np.subtract.at(expected, payer, fee)
    stakers_ok = s_w.sum() > 0
    contributors_ok = (c_w > 0).any()
    if stakers_ok:
        np.add.at(expected, s_acc, s_w / s_w.sum() * parts["stakers"].sum())
    elif unallocated == "payer":
        np.add.at(expected, payer, parts["stakers"])
    if contributors_ok:
        pos = np.maximum(c_w, 0.0)
        np.add.at(expected, c_acc, pos / pos.sum() * parts["contributors"].sum())
    elif unallocated == "payer":
        np.add.at(expected, payer, parts["contributors"])
    np.testing.assert_allclose(_net(t, N_ACCOUNTS + 1), expected, rtol=0, atol=1e3 * tol)

    # the pooled payments are a sparse flow: at most payers + recipients - 1 rows
    builder_rows = np.unique(np.stack([payer, builder], axis=1), axis=0).shape[0] if len(t) else 0
    pool_rows = len(t) - int(to_sink.sum()) - builder_rows
    assert pool_rows <= max(len(set(payer.tolist())) + len(s_acc) + len(c_acc) - 1, 0)


def test_route_vectorised_over_a_large_batch():
    rng = np.random.default_rng(1)
    n = 200_000
    payer = rng.integers(0, 5_000, n)
    builder = rng.integers(5_000, 5_050, n)
    fee = inference_fee_tokens(
        rng.integers(10, 4_000, n), rng.integers(10, 1_000, n), 0.1, 0.3, 0.01
    )
    t = route_inference_fees(
        payer, builder, fee, FeeSplit(0.3, 0.2, 0.4, 0.1),
        staker_accounts=np.arange(6_000, 7_000), staker_weights=rng.uniform(0, 1e4, 1_000),
        contributor_accounts=np.arange(7_000, 9_000), contributor_weights=rng.normal(size=2_000),
        burn_account=9_999,
    )  # fmt: skip
    # rows: <= (payer, builder) pairs + payers + recipients - 1 + one burn leg per payer
    assert len(t) <= 5_000 * 50 + 5_000 + 3_000 + 5_000
    assert t.amount.sum() == pytest.approx(fee.sum(), rel=1e-12)
    delta = _net(t, 10_000)
    assert delta[:5_000].sum() == pytest.approx(-fee.sum(), rel=1e-12)
    assert delta[9_999] == pytest.approx(0.0, abs=1e-6)  # the sink burned what it received


def _settle_like_a_ledger(t: Transfers, balance: np.ndarray) -> np.ndarray:
    """Apply ``t`` with Ledger.transfer_many/burn_many semantics (simultaneous rows added in
    row order by np.bincount, strict no-overdraft); returns the new balances."""
    n = balance.shape[0]
    inc = np.bincount(t.dst, weights=t.amount, minlength=n)
    out = np.bincount(t.src, weights=t.amount, minlength=n)
    inflow = balance + inc
    assert (inflow >= out).all(), "transfer_many would overdraw"
    after = inflow - out
    burn = np.bincount(t.burn_src, weights=t.burn_amount, minlength=n)
    assert (after >= burn).all(), "burn_many would overdraw"
    return after - burn


skewed_fee = st.builds(
    lambda m, e: m * 10.0**e,
    st.floats(min_value=0.0, max_value=1.0),
    st.integers(min_value=-9, max_value=6),
)


@settings(max_examples=120, deadline=None)
@given(
    data=st.lists(st.tuples(ids, ids, skewed_fee), min_size=1, max_size=60),
    n_stakers=st.integers(min_value=0, max_value=6),
    contributors=st.lists(st.tuples(ids, st.floats(min_value=-1.0, max_value=1.0)), max_size=8),
    split=st.one_of(
        fee_splits(),
        st.sampled_from([FeeSplit(1.0, 0.0, 0.0, 0.0), FeeSplit(0.0, 0.5, 0.5, 0.0)]),
    ),
    sink=st.sampled_from([None, N_ACCOUNTS]),
)
def test_payers_funded_with_exactly_their_fees_can_always_settle(
    data, n_stakers, contributors, split, sink
):
    payer = np.array([d[0] for d in data], dtype=np.int64)
    builder = np.array([d[1] for d in data], dtype=np.int64)
    fee = np.array([d[2] for d in data], dtype=float)
    t = route_inference_fees(
        payer, builder, fee, split,
        staker_accounts=np.arange(n_stakers), staker_weights=np.ones(n_stakers),
        contributor_accounts=np.array([c[0] for c in contributors], dtype=np.int64),
        contributor_weights=np.array([c[1] for c in contributors], dtype=float),
        burn_account=sink,
    )  # fmt: skip
    funded = np.bincount(payer, weights=fee, minlength=N_ACCOUNTS + 1)
    np.testing.assert_array_equal(t.payer_accounts, np.unique(payer))
    np.testing.assert_array_equal(t.payer_fee_tokens, funded[t.payer_accounts])
    after = _settle_like_a_ledger(t, funded.copy())
    assert (after >= 0).all()
    assert after.sum() == pytest.approx(funded.sum() - t.burn_tokens, abs=1e-12 * funded.sum())
    if sink is not None:
        assert after[sink] == 0.0  # the sink burned exactly what it received


def test_burn_account_must_be_a_dedicated_sink():
    with pytest.raises(FeeError, match="burn_account=4 also appears in builder"):
        route_inference_fees(
            [1], [4], [1.0], FeeSplit(0.25, 0.25, 0.25, 0.25),
            staker_accounts=[5], staker_weights=[1.0],
            contributor_accounts=[6], contributor_weights=[1.0], burn_account=4,
        )  # fmt: skip


def test_route_with_sparse_huge_account_ids_matches_dense_ids():
    rng = np.random.default_rng(2)
    n = 300
    payer, builder = rng.integers(0, 30, n), rng.integers(30, 35, n)
    fee = rng.uniform(0.0, 3.0, n)
    kw = {"split": FeeSplit(0.3, 0.2, 0.4, 0.1), "staker_weights": [1.0, 2.0]}
    kw["contributor_weights"] = [1.0, -1.0, 4.0]
    dense = route_inference_fees(
        payer, builder, fee, staker_accounts=[40, 41], contributor_accounts=[50, 51, 52],
        burn_account=60, **kw,
    )  # fmt: skip
    big = 10**12  # far beyond the bincount fast path: exercised through sorting
    sparse = route_inference_fees(
        payer * big, builder * big, fee, staker_accounts=[40 * big, 41 * big],
        contributor_accounts=[50 * big, 51 * big, 52 * big], burn_account=60 * big, **kw,
    )  # fmt: skip
    np.testing.assert_array_equal(sparse.src, dense.src * big)
    np.testing.assert_array_equal(sparse.dst, dense.dst * big)
    np.testing.assert_array_equal(sparse.amount, dense.amount)
    np.testing.assert_array_equal(sparse.payer_accounts, dense.payer_accounts * big)


def test_overflowing_fees_are_rejected():
    with pytest.raises(FeeError, match="overflows"):
        inference_fee_tokens(1e300, 0, 1e300, 0.0, 0.0)
    with pytest.raises(FeeError, match="overflows"):
        route_inference_fees(
            [1, 2], [3, 3], [1e308, 1e308], FeeSplit(1.0, 0.0, 0.0, 0.0),
            staker_accounts=[], staker_weights=[],
            contributor_accounts=[], contributor_weights=[],
        )  # fmt: skip


def test_subnormal_fees_still_settle():
    # Found by hypothesis: relative scaling cannot shave subnormal amounts, so a payer
    # funded with exactly a 2.2e-315-token fee used to make the router give up.
    fee = np.array([2.22507386e-315])
    t = route_inference_fees(
        np.array([0]), np.array([0]), fee, FeeSplit(0.2004717275461432, 0.3985848173615704,
        0.0007986921416181004, 0.40014476295066825),
        staker_accounts=np.arange(1), staker_weights=np.ones(1),
        contributor_accounts=np.array([], dtype=np.int64), contributor_weights=np.array([]),
        burn_account=N_ACCOUNTS,
    )  # fmt: skip
    funded = np.bincount(np.array([0]), weights=fee, minlength=N_ACCOUNTS + 1)
    assert (_settle_like_a_ledger(t, funded.copy()) >= 0).all()
