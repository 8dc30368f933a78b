"""Tests for economics.market: Uniswap V2 swap math, the constant-product pool, order flow."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerlab.economics.market import (
    ConstantProductPool,
    InsufficientLiquidityError,
    MarketError,
    MarketShock,
    OrderFlow,
    OrderFlowError,
    amount_in,
    amount_out,
    annuity_factor,
    arbitrage_order,
    buyback_usd,
    fundamental_value_usd,
    price_shock_order,
    reference_price_usd,
    shock_effects,
    value_trader_order,
)
from ledgerlab.scenarios import schema as S

# Uniswap V2 core, test/UniswapV2Pair.spec.ts "getInputPrice" cases:
# (swap amount, token0 reserve, token1 reserve, expected output), all in units of 1e18.
UNISWAP_V2_VECTORS = [
    (1, 5, 10, 1.662497915624478906),
    (1, 10, 5, 0.453305446940074565),
    (2, 5, 10, 2.851015155847869602),
    (2, 10, 5, 0.831248957812239453),
    (1, 10, 10, 0.906610893880149131),
    (1, 100, 100, 0.987158034397061298),
    (1, 1000, 1000, 0.996006981039903216),
]


# ---------------------------------------------------------------------------------------
# amount_out / amount_in
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("x", "r_in", "r_out", "expected"), UNISWAP_V2_VECTORS)
def test_amount_out_matches_uniswap_v2_pair_vectors(x, r_in, r_out, expected):
    got = amount_out(x, r_in, r_out)
    assert isinstance(got, float)
    assert got == pytest.approx(expected, rel=1e-12, abs=0)


def test_amount_out_vectorised_matches_vectors_and_broadcasts():
    x, r_in, r_out, expected = (
        np.array(c, dtype=float) for c in zip(*UNISWAP_V2_VECTORS, strict=True)
    )
    got = amount_out(x, r_in, r_out)
    assert isinstance(got, np.ndarray) and got.shape == (7,)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    # broadcasting: a column of inputs against a row of pools
    grid = amount_out(np.array([[1.0], [2.0]]), np.array([5.0, 10.0]), np.array([10.0, 5.0]))
    assert grid.shape == (2, 2)
    np.testing.assert_allclose(grid, [[1.662497915624478906, 0.453305446940074565],
                                      [2.851015155847869602, 0.831248957812239453]],
                               rtol=1e-12)  # fmt: skip


def test_amount_out_general_fee_formula():
    # fee = 0: plain x*R_out/(R_in + x)
    assert amount_out(1.0, 5.0, 10.0, fee=0.0) == pytest.approx(10.0 / 6.0, rel=1e-15)
    # fee = 1 %: x*0.99*R_out / (R_in + x*0.99)
    assert amount_out(2.0, 10.0, 5.0, fee=0.01) == pytest.approx(
        2 * 0.99 * 5 / (10 + 2 * 0.99), rel=1e-15
    )
    # a fee hair away from 0.3 % agrees with the 997/1000 form to rounding
    assert amount_out(1.0, 5.0, 10.0, fee=0.003 + 1e-18) == pytest.approx(
        1.662497915624478906, rel=1e-12
    )
    assert amount_out(0.0, 5.0, 10.0) == 0.0


def test_amount_in_is_getamountin_without_rounding():
    # getAmountIn = R_in*out*1000 / ((R_out-out)*997) (+1 wei on-chain, omitted here)
    assert amount_in(1.0, 10.0, 10.0) == pytest.approx(10_000.0 / 8_973.0, rel=1e-15)
    for x, r_in, r_out, out in UNISWAP_V2_VECTORS:
        assert amount_in(out, r_in, r_out) == pytest.approx(x, rel=1e-12)
    assert amount_in(1.0, 5.0, 10.0, fee=0.0) == pytest.approx(5.0 / 9.0, rel=1e-15)


reserve = st.floats(min_value=1e-3, max_value=1e12)
fees = st.sampled_from([0.0, 0.003, 0.01, 0.05])


@settings(max_examples=150, deadline=None)
@given(r_in=reserve, r_out=reserve, ratio=st.floats(min_value=1e-9, max_value=1e3), fee=fees)
def test_amount_in_inverts_amount_out(r_in, r_out, ratio, fee):
    x = ratio * r_in
    y = amount_out(x, r_in, r_out, fee)
    assert 0.0 <= y < r_out
    assert amount_in(y, r_in, r_out, fee) == pytest.approx(x, rel=1e-9)


@settings(max_examples=120, deadline=None)
@given(r_in=reserve, r_out=reserve, frac=st.floats(min_value=1e-9, max_value=0.999), fee=fees)
def test_amount_out_inverts_amount_in(r_in, r_out, frac, fee):
    y = frac * r_out
    x = amount_in(y, r_in, r_out, fee)
    assert amount_out(x, r_in, r_out, fee) == pytest.approx(y, rel=1e-9)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((1.0, 0.0, 10.0), "reserve_in"),
        ((1.0, 5.0, -1.0), "reserve_out"),
        ((1.0, math.inf, 10.0), "reserve_in"),
        ((-1.0, 5.0, 10.0), "amount_in"),
        ((math.nan, 5.0, 10.0), "amount_in"),
        ((np.array([1.0, -2.0]), 5.0, 10.0), r"-2\.0 at index \(1,\)"),
    ],
)
def test_amount_out_rejects_bad_inputs(args, match):
    with pytest.raises(MarketError, match=match):
        amount_out(*args)


@pytest.mark.parametrize("fee", [-0.1, 1.0, math.nan])
def test_bad_fee_rejected(fee):
    with pytest.raises(MarketError, match="fee"):
        amount_out(1.0, 5.0, 10.0, fee=fee)
    with pytest.raises(MarketError, match="fee"):
        ConstantProductPool(1.0, 1.0, fee=fee)


def test_overflow_is_a_market_error():
    with pytest.raises(MarketError, match="overflows"):
        amount_out(1e300, 1e300, 1e300)
    with pytest.raises(MarketError, match="overflows"):
        amount_in(1e300, 1e300, 1e308)


def test_amount_in_rejects_bad_inputs():
    with pytest.raises(InsufficientLiquidityError, match=r"amount_out=10\.0"):
        amount_in(10.0, 5.0, 10.0)
    with pytest.raises(InsufficientLiquidityError):
        amount_in(np.array([1.0, 11.0]), 5.0, 10.0)
    with pytest.raises(MarketError, match="amount_out"):
        amount_in(-1.0, 5.0, 10.0)
    with pytest.raises(MarketError, match="amount_out"):
        amount_in(math.nan, 5.0, 10.0)
    with pytest.raises(MarketError, match="reserve_in"):
        amount_in(1.0, 0.0, 10.0)
    assert issubclass(MarketError, ValueError)


# ---------------------------------------------------------------------------------------
# ConstantProductPool
# ---------------------------------------------------------------------------------------


def test_pool_state_buy_sell_and_counters():
    pool = ConstantProductPool(1_000.0, 500.0)
    assert pool.price == 0.5
    assert pool.k == 500_000.0
    with pytest.raises(MarketError, match="cash_reserve_usd"):
        ConstantProductPool(1.0, 0.0)
    quote = pool.quote_buy(100.0)
    assert pool.cash_reserve_usd == 500.0  # quotes do not trade
    got = pool.buy(100.0)
    assert got == quote == pytest.approx(amount_out(100.0, 500.0, 1_000.0), rel=1e-15)
    assert pool.cash_reserve_usd == 600.0
    assert pool.token_reserve_tokens == pytest.approx(1_000.0 - got, rel=1e-15)
    price_before_sell = pool.price
    q = pool.quote_sell(50.0)
    usd = pool.sell(50.0)
    assert usd == q == pytest.approx(amount_out(50.0, 1_000.0 - got, 600.0), rel=1e-15)
    # volume: cash of the buy + tokens of the sell at the pre-trade spot price
    assert pool.volume_usd == pytest.approx(100.0 + 50.0 * price_before_sell, rel=1e-15)
    assert pool.fees_usd == pytest.approx(0.003 * pool.volume_usd, rel=1e-15)
    assert pool.reset_counters() == (
        pytest.approx(pool.total_volume_usd),
        pytest.approx(pool.total_fees_usd),
    )
    assert pool.volume_usd == 0.0 and pool.fees_usd == 0.0
    assert pool.total_volume_usd > 0.0
    assert pool.buy(0.0) == 0.0 and pool.sell(0.0) == 0.0


def test_pool_rejects_bad_trades_without_changing_state():
    pool = ConstantProductPool(100.0, 100.0)
    before = pool.copy()
    for call, arg in [
        (pool.buy, -1.0),
        (pool.buy, math.nan),
        (pool.sell, math.inf),
        (pool.buy_tokens_exact, 100.0),
        (pool.buy_tokens_exact, 150.0),
        (pool.buy, 1e300),  # out rounds up to the whole reserve
    ]:
        with pytest.raises(MarketError):
            call(arg)
        assert (pool.token_reserve_tokens, pool.cash_reserve_usd, pool.volume_usd) == (
            before.token_reserve_tokens,
            before.cash_reserve_usd,
            before.volume_usd,
        )


def test_buy_tokens_exact_delivers_exact_tokens():
    pool = ConstantProductPool(1_000.0, 500.0)
    quote = pool.quote_buy_tokens_exact(10.0)
    cash = pool.buy_tokens_exact(10.0)
    assert cash == quote
    assert pool.token_reserve_tokens == 990.0
    assert cash == pytest.approx(amount_in(10.0, 500.0, 1_000.0), rel=1e-12)
    assert pool.k >= 500_000.0
    # buying those tokens with the same cash via buy() gives back (about) the same tokens
    fresh = ConstantProductPool(1_000.0, 500.0)
    assert fresh.buy(cash) == pytest.approx(10.0, rel=1e-12)


def test_execute_sequential_equals_manual_and_is_atomic():
    orders = np.array([100.0, -30.0, 0.0, 55.5, -200.0])
    pool = ConstantProductPool(1_000.0, 500.0)
    manual = ConstantProductPool(1_000.0, 500.0)
    out = pool.execute(orders)
    expected = [manual.buy(100.0), manual.sell(30.0), 0.0, manual.buy(55.5), manual.sell(200.0)]
    np.testing.assert_array_equal(out, expected)
    assert pool.token_reserve_tokens == manual.token_reserve_tokens
    assert pool.cash_reserve_usd == manual.cash_reserve_usd
    assert pool.volume_usd == manual.volume_usd

    before = pool.copy()
    with pytest.raises(InsufficientLiquidityError):
        pool.execute([10.0, 1e300])  # second order drains the pool
    assert pool.token_reserve_tokens == before.token_reserve_tokens
    assert pool.cash_reserve_usd == before.cash_reserve_usd
    assert pool.total_volume_usd == before.total_volume_usd
    with pytest.raises(MarketError, match="finite"):
        pool.execute([1.0, math.nan])
    with pytest.raises(MarketError, match="1-D"):
        pool.execute(np.ones((2, 2)))


def test_execute_shuffled_returns_outputs_in_original_order():
    orders = np.array([100.0, -30.0, 55.5, -200.0, 10.0, -1.0])
    pool = ConstantProductPool(1_000.0, 500.0)
    out = pool.execute_shuffled(orders, np.random.default_rng(7))
    perm = np.random.default_rng(7).permutation(orders.size)
    ref = ConstantProductPool(1_000.0, 500.0)
    ref_out = ref.execute(orders[perm])
    np.testing.assert_array_equal(out[perm], ref_out)
    assert pool.price == ref.price
    # same seed -> identical; the order matters for the outputs
    again = ConstantProductPool(1_000.0, 500.0).execute_shuffled(orders, np.random.default_rng(7))
    np.testing.assert_array_equal(out, again)
    unshuffled = ConstantProductPool(1_000.0, 500.0).execute(orders)
    assert not np.array_equal(out, unshuffled)


def test_execute_net_one_sided_is_one_aggregate_swap():
    buys = np.array([10.0, 30.0, 60.0])
    pool = ConstantProductPool(1_000.0, 500.0)
    tokens, usd = pool.execute_net(buys, np.zeros(0))
    total = amount_out(100.0, 500.0, 1_000.0)
    np.testing.assert_allclose(tokens, total * buys / 100.0, rtol=1e-15)
    assert usd.shape == (0,)
    sells = np.array([5.0, 15.0])
    pool2 = ConstantProductPool(1_000.0, 500.0)
    tokens2, usd2 = pool2.execute_net(np.zeros(2), sells)
    np.testing.assert_array_equal(tokens2, [0.0, 0.0])
    np.testing.assert_allclose(usd2, amount_out(20.0, 1_000.0, 500.0) * sells / 20.0, rtol=1e-15)


def test_execute_net_balanced_flow_crosses_at_spot_with_fee_both_sides():
    pool = ConstantProductPool(1_000.0, 500.0)  # price 0.5 USD/token
    tokens, usd = pool.execute_net(np.array([25.0, 25.0]), np.array([100.0]))
    np.testing.assert_allclose(tokens, [50.0 * 0.997, 50.0 * 0.997], rtol=1e-15)
    np.testing.assert_allclose(usd, [50.0 * 0.997], rtol=1e-15)
    assert pool.price == pytest.approx(0.5, rel=1e-15)
    assert pool.token_reserve_tokens == pytest.approx(1_000.3, rel=1e-15)
    assert pool.cash_reserve_usd == pytest.approx(500.15, rel=1e-15)
    assert pool.volume_usd == pytest.approx(100.0, rel=1e-15)


def test_execute_net_rejects_bad_input_atomically():
    pool = ConstantProductPool(100.0, 100.0)
    with pytest.raises(MarketError, match="buy_usd"):
        pool.execute_net(np.array([-1.0]), np.array([1.0]))
    with pytest.raises(MarketError, match="sell_tokens"):
        pool.execute_net(np.array([1.0]), np.array([math.nan]))
    with pytest.raises(MarketError, match="1-D"):
        pool.execute_net(np.ones((1, 2)), np.ones(1))
    with pytest.raises(InsufficientLiquidityError):
        pool.execute_net(np.array([1.0, 1e300]), np.array([1.0]))
    assert (pool.token_reserve_tokens, pool.cash_reserve_usd, pool.volume_usd) == (
        100.0,
        100.0,
        0.0,
    )


amounts = st.lists(st.floats(min_value=0.0, max_value=1e6), max_size=8)


@settings(max_examples=120, deadline=None)
@given(
    r_tok=st.floats(min_value=1.0, max_value=1e9),
    r_cash=st.floats(min_value=1.0, max_value=1e9),
    buys=amounts,
    sells=amounts,
    fee=fees,
)
def test_execute_net_conserves_tokens_and_cash(r_tok, r_cash, buys, sells, fee):
    pool = ConstantProductPool(r_tok, r_cash, fee)
    k0 = pool.k
    b, s = np.array(buys, dtype=float), np.array(sells, dtype=float)
    tokens, usd = pool.execute_net(b, s)
    assert (tokens >= 0).all() and (usd >= 0).all()
    scale_tok = max(r_tok, s.sum(), 1.0)
    scale_usd = max(r_cash, b.sum(), 1.0)
    # tokens: buyers get what sellers gave + what left the pool
    assert tokens.sum() == pytest.approx(
        s.sum() + (r_tok - pool.token_reserve_tokens), abs=1e-12 * scale_tok
    )
    # cash: sellers get what buyers gave - what entered the pool
    assert usd.sum() == pytest.approx(
        b.sum() - (pool.cash_reserve_usd - r_cash), abs=1e-12 * scale_usd
    )
    assert pool.k >= k0
    assert pool.token_reserve_tokens > 0 and pool.cash_reserve_usd > 0


operation = st.one_of(
    st.tuples(st.just("buy"), st.floats(min_value=0.0, max_value=1e12)),
    st.tuples(st.just("sell"), st.floats(min_value=0.0, max_value=1e12)),
    st.tuples(st.just("exact"), st.floats(min_value=0.0, max_value=1.0)),
    st.tuples(st.just("batch"), st.lists(st.floats(-1e6, 1e6), max_size=4)),
    st.tuples(st.just("net"), st.tuples(amounts, amounts)),
)


@settings(max_examples=120, deadline=None)
@given(
    r_tok=st.floats(min_value=1e-3, max_value=1e9),
    r_cash=st.floats(min_value=1e-3, max_value=1e9),
    fee=fees,
    ops=st.lists(operation, min_size=1, max_size=25),
)
def test_k_never_decreases_and_reserves_stay_positive(r_tok, r_cash, fee, ops):
    pool = ConstantProductPool(r_tok, r_cash, fee)
    for kind, arg in ops:
        k_before = pool.k
        before = (pool.token_reserve_tokens, pool.cash_reserve_usd, pool.total_volume_usd)
        try:
            if kind == "buy":
                pool.buy(arg)
            elif kind == "sell":
                pool.sell(arg)
            elif kind == "exact":
                pool.buy_tokens_exact(arg * pool.token_reserve_tokens * 0.999)
            elif kind == "batch":
                pool.execute(np.array(arg, dtype=float))
            else:
                pool.execute_net(np.array(arg[0], dtype=float), np.array(arg[1], dtype=float))
        except InsufficientLiquidityError:
            after = (pool.token_reserve_tokens, pool.cash_reserve_usd, pool.total_volume_usd)
            assert after == before
        assert pool.k >= k_before
        assert pool.token_reserve_tokens > 0.0 and pool.cash_reserve_usd > 0.0


# ---------------------------------------------------------------------------------------
# OrderFlow
# ---------------------------------------------------------------------------------------


def test_order_flow_deterministic_given_generator():
    flow = OrderFlow(1_000.0, growth_per_epoch=0.01, volatility=0.3, sell_share=0.4)
    a = flow.sample(200, np.random.default_rng(42))
    b = flow.sample(200, np.random.default_rng(42))
    c = flow.sample(200, np.random.default_rng(43))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.float64 and a.shape == (200,)
    assert flow.sample(0, np.random.default_rng(1)).shape == (0,)


def test_order_flow_zero_volatility_is_the_trend():
    flow = OrderFlow(100.0, growth_per_epoch=0.02)
    got = flow.sample(10, np.random.default_rng(0))
    np.testing.assert_allclose(got, 100.0 * np.exp(0.02 * np.arange(10)), rtol=1e-15)
    sells = OrderFlow(100.0, sell_share=1.0).sample(5, np.random.default_rng(0))
    np.testing.assert_array_equal(sells, -100.0)


def test_order_flow_iid_mean_and_sell_share():
    n = 200_000
    flow = OrderFlow(50.0, volatility=0.5, sell_share=0.25, persistent=False)
    x = flow.sample(n, np.random.default_rng(3))
    mag = np.abs(x)
    se = mag.std() / np.sqrt(n)
    assert abs(mag.mean() - 50.0) < 4 * se
    share = (x < 0).mean()
    assert abs(share - 0.25) < 4 * np.sqrt(0.25 * 0.75 / n)
    # log-magnitude is normal with sd = volatility
    assert np.log(mag).std() == pytest.approx(0.5, rel=0.01)


def test_order_flow_persistent_mean_follows_growth():
    flow = OrderFlow(10.0, growth_per_epoch=0.05, volatility=0.1, persistent=True)
    rng = np.random.default_rng(11)
    paths = np.stack([flow.sample(20, rng) for _ in range(3_000)])
    t = 19
    se = paths[:, t].std() / np.sqrt(paths.shape[0])
    assert abs(paths[:, t].mean() - 10.0 * np.exp(0.05 * t)) < 4 * se
    # random-walk noise: the log-level spread grows like sqrt(t+1)
    assert np.log(paths[:, t]).std() == pytest.approx(0.1 * np.sqrt(t + 1), rel=0.05)


def test_order_flow_shocks_multiply_single_epochs():
    base = OrderFlow(100.0, volatility=0.2, sell_share=0.3)
    shocked = OrderFlow(100.0, volatility=0.2, sell_share=0.3, shocks=[(3, 5.0), (3, 2.0), (7, 0.0),
                                                                       (99, 10.0)])  # fmt: skip
    assert shocked.shocks == ((3, 5.0, 0.0), (3, 2.0, 0.0), (7, 0.0, 0.0), (99, 10.0, 0.0))
    a = base.sample(10, np.random.default_rng(5))
    b = shocked.sample(10, np.random.default_rng(5))
    expected = np.ones(10)
    expected[3] = 10.0
    expected[7] = 0.0
    np.testing.assert_allclose(b, a * expected, rtol=1e-15)


def test_order_flow_shocks_add_their_net_flow_in_order():
    """A shock given as a scenario mapping adds its ``net_usd`` to its epoch's flow, after
    the multipliers, in the order listed; draw and sample agree."""
    base = OrderFlow(100.0, volatility=0.2, sell_share=0.3)
    shocks = [
        {"epoch": 2, "multiplier": 2.0, "net_usd": -50.0},
        {"epoch": 2, "multiplier": 1.0, "net_usd": 7.0},
        (4, 1.0, 1e3),
    ]
    shocked = OrderFlow(100.0, volatility=0.2, sell_share=0.3, shocks=shocks)
    a = base.sample(6, np.random.default_rng(5))
    b = shocked.sample(6, np.random.default_rng(5))
    assert b[2] == a[2] * 2.0 - 50.0 + 7.0
    assert b[4] == a[4] + 1e3
    np.testing.assert_array_equal(np.delete(b, [2, 4]), np.delete(a, [2, 4]))
    rng, walk, drawn = np.random.default_rng(5), 0.0, []
    for t in range(6):
        flow, walk = shocked.draw(t, rng, walk)
        drawn.append(flow)
    np.testing.assert_array_equal(drawn, b)


def test_order_flow_peak_log_trend_includes_growth_and_shock_multipliers():
    flow = OrderFlow(10.0, growth_per_epoch=0.5, shocks=[(1, 100.0), (9, 2.0), (1, 0.0)])
    assert flow.peak_log_trend(5) == pytest.approx(math.log(10.0) + 0.5 * 4)
    spiky = OrderFlow(10.0, growth_per_epoch=-1.0, shocks=[(2, 1e6)])
    assert spiky.peak_log_trend(5) == pytest.approx(math.log(10.0) - 2.0 + math.log(1e6))
    assert OrderFlow(0.0).peak_log_trend(5) == -math.inf


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"mean_usd_per_epoch": -1.0}, "mean_usd_per_epoch"),
        ({"mean_usd_per_epoch": math.nan}, "mean_usd_per_epoch"),
        ({"mean_usd_per_epoch": 1.0, "growth_per_epoch": math.inf}, "growth_per_epoch"),
        ({"mean_usd_per_epoch": 1.0, "volatility": -0.1}, "volatility"),
        ({"mean_usd_per_epoch": 1.0, "sell_share": 1.5}, "sell_share"),
        ({"mean_usd_per_epoch": 1.0, "shocks": ((-1, 2.0),)}, "shocks"),
        ({"mean_usd_per_epoch": 1.0, "shocks": ((1, -2.0),)}, "shocks"),
        ({"mean_usd_per_epoch": 1.0, "shocks": ((1.5, 2.0),)}, "shocks"),
        ({"mean_usd_per_epoch": 1.0, "shocks": (3,)}, "shocks"),
    ],
)
def test_order_flow_validation(kwargs, field):
    with pytest.raises(OrderFlowError, match=f"OrderFlow.{field}"):
        OrderFlow(**kwargs)


def test_order_flow_sample_errors():
    flow = OrderFlow(1.0, growth_per_epoch=50.0)
    with pytest.raises(OrderFlowError, match="overflows"):
        flow.sample(100, np.random.default_rng(0))
    with pytest.raises(OrderFlowError, match="epochs"):
        flow.sample(-1, np.random.default_rng(0))
    with pytest.raises(OrderFlowError, match="Generator"):
        flow.sample(3, 42)  # type: ignore[arg-type]
    assert issubclass(OrderFlowError, ValueError)


def test_order_flow_draw_carries_the_walk_and_checks_its_inputs():
    flow = OrderFlow(100.0, volatility=0.5, sell_share=0.5, persistent=True)
    rng = np.random.default_rng(1)
    value, walk = flow.draw(0, rng)
    assert np.isfinite(value) and value != 0 and np.isfinite(walk)
    # two normals per epoch, whatever the parameters: common random numbers across epochs
    a, b = np.random.default_rng(2), np.random.default_rng(2)
    OrderFlow(1.0, sell_share=0.0).draw(0, a)
    OrderFlow(5.0, volatility=2.0, sell_share=1.0).draw(0, b)
    assert a.random() == b.random()
    with pytest.raises(OrderFlowError, match="epoch"):
        flow.draw(-1, rng)
    with pytest.raises(OrderFlowError, match="Generator"):
        flow.draw(0, 42)  # type: ignore[arg-type]
    with pytest.raises(OrderFlowError, match="overflows"):
        OrderFlow(1.0, growth_per_epoch=50.0).draw(100, rng)


def test_set_token_reserve_adopts_the_ledger_figure_and_refuses_bad_values():
    pool = ConstantProductPool(1_000.0, 500.0)
    pool.set_token_reserve(999.9999999)
    assert pool.token_reserve_tokens == 999.9999999 and pool.cash_reserve_usd == 500.0
    assert pool.total_volume_usd == 0.0  # not a trade
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(MarketError, match="set_token_reserve"):
            pool.set_token_reserve(bad)
    assert pool.token_reserve_tokens == 999.9999999


# ---------------------------------------------------------------------------------------
# The market's two sides: noise, value trader, arbitrage, buyback, shocks
# ---------------------------------------------------------------------------------------


def test_default_order_flow_is_mean_zero_noise() -> None:
    """The schema's default flow sells with probability 1/2 and its magnitude does not
    depend on the sign, so its mean is 0 (within 4 standard errors of 200k draws), unlike
    the old default (sell_share 0.3: +0.4 × the mean magnitude)."""
    flow = OrderFlow(**S.OrderFlow().model_dump())
    assert flow.sell_share == 0.5
    x = flow.sample(200_000, np.random.default_rng(3))
    assert abs(x.mean()) < 4 * x.std() / math.sqrt(x.size)
    assert abs((x < 0).mean() - 0.5) < 0.005


def test_noise_round_trip_is_symmetric_in_log_price() -> None:
    """On a fee-less constant-product pool a buy of X USD and a sell of tokens worth X USD
    at spot move the cash reserve by the same log-amount ln(1 + X/C), so mean-zero USD
    noise is a driftless walk of the log-price (up to the fee)."""
    up = ConstantProductPool(1_000_000.0, 500_000.0, fee=0.0)
    up.buy(50_000.0)
    down = ConstantProductPool(1_000_000.0, 500_000.0, fee=0.0)
    down.sell(50_000.0 / down.price)
    assert math.log(up.cash_reserve_usd / 500_000.0) == pytest.approx(math.log(1.1), rel=1e-12)
    assert math.log(500_000.0 / down.cash_reserve_usd) == pytest.approx(math.log(1.1), rel=1e-12)


def test_annuity_factor_reference_values() -> None:
    # 20 %/year, yearly epochs, 4 years: 1/1.2 + 1/1.44 + 1/1.728 + 1/2.0736.
    assert annuity_factor(0.2, 4, 365.25) == pytest.approx(2.5887345679012346, rel=1e-12)
    assert annuity_factor(0.0, 1461, 1.0) == 1461.0
    # Daily epochs: per-epoch rate 1.2^(1/365.25) − 1; 1461 epochs ≈ 4 years.
    r = 1.2 ** (1 / 365.25) - 1
    assert annuity_factor(0.2, 1461, 1.0) == pytest.approx((1 - (1 + r) ** -1461) / r, rel=1e-10)
    with pytest.raises(MarketError):
        annuity_factor(-0.1, 10, 1.0)


def test_fundamental_value_reference_values() -> None:
    # 100 USD/epoch of fees, 1,000 tokens, 20 %/year over 4 yearly epochs.
    assert fundamental_value_usd(100.0, 1000.0, 0.2, 4, 365.25) == pytest.approx(
        0.25887345679012346, rel=1e-12
    )
    assert fundamental_value_usd(0.0, 1000.0, 0.2, 4, 365.25) == 0.0
    assert fundamental_value_usd(100.0, 0.0, 0.2, 4, 365.25) == 0.0


def test_value_trader_order_reference_values() -> None:
    # Price half the value: target share ln 2 of 1,000 USD wealth = 1,386.29… tokens at
    # 0.5 USD; a tenth of the gap is bought: 0.1 · 1386.29 · 0.5 = 69.3147… USD.
    buy, sell = value_trader_order(0.5, 1.0, 1000.0, 0.0, 1.0, 0.1)
    assert buy == pytest.approx(0.1 * math.log(2.0) * 1000.0, rel=1e-12)
    assert buy == pytest.approx(69.31471805599453, rel=1e-12)
    assert sell == 0.0
    # Above value: the target is no tokens; a tenth of the 100 held is sold.
    assert value_trader_order(2.0, 1.0, 0.0, 100.0, 1.0, 0.1) == (0.0, pytest.approx(10.0))
    # Holding 50 tokens at 0.5 with 75 USD cash, value e^0.5 · 0.5: share 0.5 of 100 USD
    # wealth = 100 tokens, gap 50 tokens, all of it at adjustment 1: 25 USD.
    buy, sell = value_trader_order(0.5, 0.5 * math.exp(0.5), 75.0, 50.0, 1.0, 1.0)
    assert (buy, sell) == (pytest.approx(25.0, rel=1e-12), 0.0)
    # The share is capped at 1: never more than the cash.
    assert value_trader_order(0.5, 50.0, 1000.0, 0.0, 10.0, 1.0) == (1000.0, 0.0)
    # No value (no fees): sell what it holds at the adjustment speed.
    assert value_trader_order(0.5, 0.0, 10.0, 40.0, 1.0, 0.25) == (0.0, 10.0)
    with pytest.raises(MarketError):
        value_trader_order(0.0, 1.0, 1.0, 0.0, 1.0, 0.1)


@given(
    price=st.floats(1e-6, 1e6),
    value=st.floats(0.0, 1e6),
    cash=st.floats(0.0, 1e9),
    inventory=st.floats(0.0, 1e9),
    aggressiveness=st.floats(0.0, 100.0),
    adjustment=st.floats(0.0, 1.0),
)
@settings(max_examples=300, deadline=None)
def test_value_trader_buys_only_below_value_and_within_its_means(
    price: float, value: float, cash: float, inventory: float, aggressiveness: float,
    adjustment: float,
) -> None:  # fmt: skip
    buy, sell = value_trader_order(price, value, cash, inventory, aggressiveness, adjustment)
    assert buy == 0.0 or sell == 0.0
    assert 0.0 <= buy <= cash
    assert 0.0 <= sell <= inventory
    if value <= price:
        assert buy == 0.0


def test_reference_price_interpolates_in_log() -> None:
    pts = ((10, 1.0), (20, 4.0))
    assert reference_price_usd(pts, 15, 0.5) == pytest.approx(2.0, rel=1e-12)
    assert reference_price_usd(pts, 0, 0.5) == 1.0  # flat before the first point
    assert reference_price_usd(pts, 99, 0.5) == 4.0  # and after the last
    assert reference_price_usd((), 7, 0.5) == 0.5


def test_arbitrage_order_reference_values() -> None:
    # Pool 100 USD · 100 tokens (price 1, k 10,000): price 4 at cash √40,000 = 200.
    assert arbitrage_order(1.0, 4.0, 100.0, 100.0, 0.5) == (pytest.approx(50.0), 0.0)
    # Price 1/4 at tokens √(10,000 · 4) = 200: sell half the way, 50 tokens.
    assert arbitrage_order(1.0, 0.25, 100.0, 100.0, 0.5) == (0.0, pytest.approx(50.0))
    # Inside twice the fee (|ln 1.005| < 0.006): no trade.
    assert arbitrage_order(1.0, 1.005, 100.0, 100.0, 1.0) == (0.0, 0.0)


def test_arbitrage_closes_the_gap_on_a_feeless_pool() -> None:
    pool = ConstantProductPool(100.0, 100.0, fee=0.0)
    buy, _ = arbitrage_order(
        pool.price, 4.0, pool.cash_reserve_usd, pool.token_reserve_tokens, 1.0, 0.0
    )
    pool.buy(buy)
    assert pool.price == pytest.approx(4.0, rel=1e-12)


def test_buyback_usd() -> None:
    assert buyback_usd(1000.0, 0.25) == 250.0
    assert buyback_usd(-5.0, 0.5) == 0.0


def test_shock_effects_reference_values() -> None:
    shocks = (
        MarketShock(at_epoch=10, kind="price", size=-0.3, duration_epochs=3),
        MarketShock(at_epoch=5, kind="demand", size=0.4, duration_epochs=10),
        MarketShock(at_epoch=8, kind="demand", size=2.0, duration_epochs=1),
    )
    assert shock_effects(shocks, 4) == (0.0, 1.0)
    assert shock_effects(shocks, 8) == (0.0, pytest.approx(0.8))
    assert shock_effects(shocks, 10) == (pytest.approx(-0.1), pytest.approx(0.4))
    assert shock_effects(shocks, 12) == (pytest.approx(-0.1), pytest.approx(0.4))
    assert shock_effects(shocks, 13) == (0.0, pytest.approx(0.4))
    assert shock_effects(shocks, 15) == (0.0, 1.0)


def test_price_shock_order_moves_the_price_by_the_square() -> None:
    pool = ConstantProductPool(1_000_000.0, 500_000.0, fee=0.0)
    buy, sell = price_shock_order(-0.3, pool.cash_reserve_usd, pool.token_reserve_tokens)
    assert (buy, sell) == (0.0, pytest.approx(300_000.0))
    pool.sell(sell)
    assert pool.price == pytest.approx(0.5 / 1.3**2, rel=1e-12)
    assert price_shock_order(0.2, 500_000.0, 1_000_000.0) == (pytest.approx(100_000.0), 0.0)


@pytest.mark.parametrize(
    "shock",
    [
        {"at_epoch": 0, "kind": "volume", "size": 1.0},
        {"at_epoch": -1, "kind": "price", "size": -0.3},
        {"at_epoch": 0, "kind": "price", "size": -0.3, "duration_epochs": 0},
        {"at_epoch": 0, "kind": "demand", "size": -0.5},
        {"at_epoch": 0, "kind": "price", "size": math.nan},
    ],
)
def test_market_shock_refuses_what_it_cannot_mean(shock: dict[str, object]) -> None:
    with pytest.raises(MarketError):
        MarketShock(**shock)  # type: ignore[arg-type]
