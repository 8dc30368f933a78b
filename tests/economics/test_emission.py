"""Tests for economics.emission: published reference figures, caps, and the
emitted/cumulative consistency of every schedule (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerlab.economics.emission import (
    KINDS,
    Constant,
    EmissionError,
    EmissionSchedule,
    ExponentialDecay,
    Halving,
    LinearDecay,
    PoolDrip,
    SupplyHalving,
    Table,
    make_schedule,
)

BITCOIN = Halving(initial_tokens_per_epoch=50, halving_interval_epochs=210_000)
BITTENSOR_DAILY = SupplyHalving(initial_tokens_per_epoch=7_200, cap_tokens=21_000_000)

# ---------------------------------------------------------------------------------------
# published reference values
# ---------------------------------------------------------------------------------------


def test_bitcoin_cumulative_supply_matches_published_figures() -> None:
    assert BITCOIN.cumulative(210_000) == 10_500_000.0
    assert BITCOIN.cumulative(420_000) == 15_750_000.0
    assert BITCOIN.cumulative(840_000) == 19_687_500.0
    assert BITCOIN.cap_tokens == 21_000_000.0
    assert BITCOIN.cumulative(10**9) == 21_000_000.0


def test_bitcoin_block_reward_halves_every_period() -> None:
    rewards = BITCOIN.emitted(np.array([0, 209_999, 210_000, 419_999, 420_000, 840_000]))
    np.testing.assert_array_equal(rewards, [50.0, 50.0, 25.0, 25.0, 12.5, 3.125])


def test_bitcoin_supply_converges_to_cap_without_exceeding_it() -> None:
    t = np.arange(0, 100 * 210_000, 997)
    cum = BITCOIN.cumulative(t)
    assert np.all(cum <= 21_000_000.0)
    assert np.all(np.diff(cum) >= 0)
    assert 21_000_000.0 - cum[-1] < 1e-9 * 21_000_000.0


def test_bittensor_daily_7200_then_3600_after_10_5_million() -> None:
    s = BITTENSOR_DAILY
    assert s.cap_tokens == 21_000_000.0
    # 10.5M / 7,200 = 1458 1/3 days: day 1457 is the last full day at 7,200.
    assert s.emitted(0) == 7_200.0
    assert s.emitted(1_457) == 7_200.0
    assert s.cumulative(1_458) == 7_200.0 * 1_458  # 10,497,600
    # Crossing day: 2,400 at 7,200/day (1/3 day), then 3,600/day for 2/3 day = 2,400.
    assert s.emitted(1_458) == pytest.approx(4_800.0, rel=1e-12)
    assert s.cumulative(1_459) == pytest.approx(10_502_400.0, rel=1e-12)
    assert s.emitted(1_459) == pytest.approx(3_600.0, rel=1e-12)
    assert s.emitted(2_915) == pytest.approx(3_600.0, rel=1e-12)


def test_bittensor_second_threshold_and_total_cap() -> None:
    s = BITTENSOR_DAILY
    # 3,600/day until 15.75M (= 10.5M + 5.25M), reached 1458 1/3 days after the first.
    assert s.cumulative(2_916) == pytest.approx(15_747_600.0, rel=1e-12)
    # day 2916: 2,400 at 3,600/day (2/3 day) + 1,800/day for 1/3 day = 600.
    assert s.emitted(2_916) == pytest.approx(3_000.0, rel=1e-12)
    assert s.emitted(2_917) == pytest.approx(1_800.0, rel=1e-12)
    assert s.cumulative(10**7) == 21_000_000.0
    assert np.all(s.cumulative(np.arange(0, 200_000, 13)) <= 21_000_000.0)


def test_bittensor_per_block_halves_exactly_at_10_5_million_blocks() -> None:
    per_block = SupplyHalving(initial_tokens_per_epoch=1.0, cap_tokens=21_000_000)
    np.testing.assert_array_equal(
        per_block.emitted(np.array([0, 10_499_999, 10_500_000])), [1.0, 1.0, 0.5]
    )
    assert per_block.cumulative(10_500_000) == 10_500_000.0
    assert per_block.cumulative(15_750_000) == pytest.approx(13_125_000.0, rel=1e-15)
    assert per_block.cap_tokens == 21_000_000.0


# ---------------------------------------------------------------------------------------
# caps and individual schedules
# ---------------------------------------------------------------------------------------


def test_capped_halving_issues_exact_remainder_then_nothing() -> None:
    s = Halving(50, 210_000, cap_tokens=15_000_010)
    # 10.5M after the first period, then 25/epoch: 15M at epoch 390,000, 10 left.
    assert s.cumulative(390_000) == 15_000_000.0
    assert s.emitted(390_000) == 10.0
    assert s.emitted(390_001) == 0.0
    assert s.cumulative(390_001) == 15_000_010.0
    assert s.cumulative(10**8) == 15_000_010.0


def test_halving_with_fractional_period_blends_the_crossing_epoch() -> None:
    s = Halving(initial_tokens_per_epoch=100, halving_interval_epochs=2.5)
    # epochs 0, 1 at 100; epoch 2 = half at 100 + half at 50; then 50 until t = 5.
    np.testing.assert_allclose(s.emitted(np.arange(6)), [100, 100, 75, 50, 50, 25], rtol=1e-15)
    assert s.cap_tokens == 500.0
    np.testing.assert_allclose(
        s.cumulative(np.arange(50)),
        SupplyHalving(initial_tokens_per_epoch=100, cap_tokens=500).cumulative(np.arange(50)),
        rtol=1e-15,
    )
    assert (
        Halving(50, 210_000.0).halving_interval_epochs == 210_000
    )  # whole periods stay exact integers


def test_constant_with_cap() -> None:
    s = Constant(tokens_per_epoch=3.0, cap_tokens=7.0)
    np.testing.assert_array_equal(s.emitted(np.arange(5)), [3.0, 3.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(s.cumulative(np.arange(5)), [0.0, 3.0, 6.0, 7.0, 7.0])
    assert Constant(2.5).cap_tokens == math.inf
    assert Constant(2.5).cumulative(1_000_000) == 2_500_000.0


def test_linear_decay_values_and_natural_cap() -> None:
    s = LinearDecay(10, 0, decay_epochs=5)
    np.testing.assert_allclose(s.emitted(np.arange(7)), [10, 8, 6, 4, 2, 0, 0])
    np.testing.assert_allclose(s.cumulative(np.arange(8)), [0, 10, 18, 24, 28, 30, 30, 30])
    assert s.cap_tokens == 30.0  # initial * (decay_epochs + 1) / 2
    floor = LinearDecay(10, 4, decay_epochs=3)
    np.testing.assert_allclose(floor.emitted(np.arange(5)), [10, 8, 6, 4, 4])
    assert floor.cap_tokens == math.inf


def test_exponential_decay_half_life_and_limit() -> None:
    s = ExponentialDecay(initial_tokens_per_epoch=100, half_life_epochs=3)
    assert s.emitted(3) == pytest.approx(50.0, rel=1e-14)
    assert s.emitted(6) == pytest.approx(25.0, rel=1e-14)
    q = 2 ** (-1 / 3)
    assert s.cap_tokens == pytest.approx(100 / (1 - q), rel=1e-14)
    assert s.cumulative(5) == pytest.approx(sum(100 * q**k for k in range(5)), rel=1e-14)
    assert s.cumulative(100_000) == pytest.approx(s.cap_tokens, rel=1e-14)


def test_table_is_piecewise_constant() -> None:
    s = Table(steps=[(2, 1.0), (5, 3.0)])
    np.testing.assert_array_equal(s.emitted(np.arange(7)), [0, 0, 1, 1, 1, 3, 3])
    np.testing.assert_array_equal(s.cumulative(np.arange(8)), [0, 0, 0, 1, 2, 3, 6, 9])
    finite = Table(((0, 5.0), (10, 0.0)))
    assert finite.cap_tokens == 50.0
    assert finite.cumulative(1_000) == 50.0


@pytest.mark.parametrize("shape", ["linear", "front_loaded"])
def test_pool_drip_releases_exactly_the_pool(shape: str) -> None:
    s = PoolDrip(pool_tokens=1_000_000_000, duration_epochs=48, shape=shape)
    released = s.emitted(np.arange(60))
    assert s.cap_tokens == 1_000_000_000.0
    assert s.cumulative(48) == 1_000_000_000.0
    assert s.cumulative(10_000) == 1_000_000_000.0
    assert np.all(released[48:] == 0.0)
    assert released.sum() == pytest.approx(1_000_000_000.0, rel=1e-12)


def test_pool_drip_shapes() -> None:
    linear = PoolDrip(pool_tokens=1_200, duration_epochs=12)
    np.testing.assert_array_equal(linear.emitted(np.arange(13)), [100.0] * 12 + [0.0])
    front = PoolDrip(pool_tokens=1_200, duration_epochs=12, shape="front_loaded")
    r = front.emitted(np.arange(12))
    assert np.all(np.diff(r) < 0)  # strictly decreasing
    assert r[0] > 100.0 > r[-1]
    assert front.half_life_epochs == 3.0  # default: a quarter of the duration
    assert r[3] / r[0] == pytest.approx(0.5, rel=1e-12)
    slower = PoolDrip(1_200, 12, shape="front_loaded", half_life_epochs=6)
    assert slower.emitted(0) < r[0]


def test_scalar_and_array_inputs() -> None:
    out = BITCOIN.cumulative(210_000)
    assert isinstance(out, np.float64)
    grid = np.array([[0, 1], [210_000, 420_000]])
    cum = BITCOIN.cumulative(grid)
    assert cum.shape == (2, 2) and cum.dtype == np.float64
    assert BITCOIN.emitted(np.int32(5)) == 50.0
    assert BITCOIN.cumulative(3.0) == 150.0  # integral floats are accepted


def test_epochs_before_zero_issue_nothing() -> None:
    np.testing.assert_array_equal(Constant(4).emitted([-3, -1, 0]), [0.0, 0.0, 4.0])
    np.testing.assert_array_equal(Constant(4).cumulative([-3, 0, 1]), [0.0, 0.0, 4.0])


def test_vectorised_over_a_million_epochs() -> None:
    t = np.arange(1_000_001)
    cum = BITCOIN.cumulative(t)
    assert cum.shape == t.shape
    assert cum[-1] == 50.0 * 210_000 * (1 + 0.5 + 0.25 + 0.125) + 3.125 * (1_000_000 - 840_000)


# ---------------------------------------------------------------------------------------
# properties over random schedules
# ---------------------------------------------------------------------------------------

amounts = st.floats(min_value=0.0, max_value=1e7, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=1e-3, max_value=1e7, allow_nan=False, allow_infinity=False)
epoch_counts = st.integers(min_value=1, max_value=5_000)
maybe_cap = st.none() | st.floats(min_value=0.0, max_value=1e9)


@st.composite
def tables(draw: st.DrawFn) -> Table:
    n = draw(st.integers(min_value=1, max_value=6))
    gaps = draw(st.lists(st.integers(1, 500), min_size=n, max_size=n))
    start = draw(st.integers(0, 50))
    epochs = np.cumsum([start, *gaps[1:]]).tolist()
    rates = draw(st.lists(amounts, min_size=n, max_size=n))
    return Table(tuple(zip(epochs, rates, strict=True)), cap_tokens=draw(maybe_cap))


schedules = st.one_of(
    st.builds(Constant, tokens_per_epoch=amounts, cap_tokens=maybe_cap),
    st.builds(
        LinearDecay,
        initial_tokens_per_epoch=amounts,
        final_tokens_per_epoch=amounts,
        decay_epochs=epoch_counts,
        cap_tokens=maybe_cap,
    ),
    st.builds(
        ExponentialDecay,
        initial_tokens_per_epoch=amounts,
        half_life_epochs=st.floats(min_value=0.1, max_value=5_000),
        cap_tokens=maybe_cap,
    ),
    st.builds(
        Halving,
        initial_tokens_per_epoch=amounts,
        halving_interval_epochs=epoch_counts,
        cap_tokens=maybe_cap,
    ),
    st.builds(
        Halving,
        initial_tokens_per_epoch=amounts,
        halving_interval_epochs=st.floats(min_value=0.05, max_value=5_000),
        cap_tokens=maybe_cap,
    ),
    st.builds(SupplyHalving, initial_tokens_per_epoch=positive, cap_tokens=positive),
    tables(),
    st.builds(
        PoolDrip,
        pool_tokens=amounts,
        duration_epochs=epoch_counts,
        shape=st.sampled_from(["linear", "front_loaded"]),
    ),
)
epoch_arrays = st.lists(st.integers(min_value=-5, max_value=200_000), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(schedule=schedules, ts=epoch_arrays)
def test_emitted_is_the_increment_of_cumulative(schedule: EmissionSchedule, ts: list[int]) -> None:
    t = np.array(ts)
    emitted = schedule.emitted(t)
    before = schedule.cumulative(t)
    after = schedule.cumulative(t + 1)
    scale = np.maximum(1.0, np.abs(after))
    np.testing.assert_allclose(emitted, after - before, rtol=0, atol=1e-9 * scale.max())
    assert np.all(emitted >= 0.0)
    assert np.all(after >= before)
    assert np.all(after <= schedule.cap_tokens)


@settings(max_examples=150, deadline=None)
@given(schedule=schedules, n=st.integers(min_value=0, max_value=3_000))
def test_sum_of_emissions_is_the_cumulative_total(schedule: EmissionSchedule, n: int) -> None:
    total = schedule.emitted(np.arange(n)).sum()
    expected = schedule.cumulative(n)
    assert total == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert expected <= schedule.cap_tokens


@settings(max_examples=100, deadline=None)
@given(
    initial=positive,
    period=epoch_counts,
    cap=st.floats(min_value=0.0, max_value=1e9),
)
def test_cap_is_reached_exactly_when_below_the_natural_limit(
    initial: float, period: int, cap: float
) -> None:
    s = Halving(initial, period, cap_tokens=cap)
    assert s.cap_tokens == min(cap, 2 * initial * period)
    t = np.arange(0, 4_000 * period + 1, max(1, period // 3))
    assert np.all(s.cumulative(t) <= s.cap_tokens)
    if cap < 2 * initial * period * (1 - 2.0**-40):
        assert s.cumulative(4_000 * period) == s.cap_tokens


# ---------------------------------------------------------------------------------------
# factory and errors
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "params", "expected"),
    [
        ("constant", {"tokens_per_epoch": 2.0}, Constant(2.0)),
        (
            "linear_decay",
            {"initial_tokens_per_epoch": 9, "final_tokens_per_epoch": 1, "decay_epochs": 4},
            LinearDecay(9, 1, 4),
        ),
        (
            "exponential_decay",
            {"initial_tokens_per_epoch": 9, "half_life_epochs": 4},
            ExponentialDecay(9, 4),
        ),
        ("halving", {"initial_tokens_per_epoch": 50, "halving_interval_epochs": 210_000}, BITCOIN),
        (
            "supply_halving",
            {"initial_tokens_per_epoch": 7_200, "cap_tokens": 21_000_000},
            BITTENSOR_DAILY,
        ),
        (
            "table",
            {"steps": [{"start_epoch": 0, "tokens_per_epoch": 2}, (3, 1)]},
            Table(((0, 2.0), (3, 1.0))),
        ),
        (
            "pool_drip",
            {"pool_tokens": 100, "duration_epochs": 10, "shape": "front_loaded"},
            None,
        ),
    ],
)
def test_make_schedule_builds_each_kind(kind: str, params: dict, expected: object) -> None:
    s = make_schedule(kind, **params)
    assert type(s) is KINDS[kind]
    assert s.KIND == kind
    if expected is not None:
        assert s == expected
    np.testing.assert_array_equal(
        s.cumulative(np.arange(20)), KINDS[kind](**params).cumulative(np.arange(20))
    )


def test_make_schedule_unknown_kind_lists_the_valid_ones() -> None:
    with pytest.raises(EmissionError, match=r"unknown emission schedule kind 'halvening'.*halving"):
        make_schedule("halvening", initial_tokens_per_epoch=50)


def test_make_schedule_unknown_or_missing_parameter() -> None:
    with pytest.raises(EmissionError, match=r"'halving': bad parameters.*halving_interval"):
        make_schedule("halving", initial_tokens_per_epoch=50, halving_interval=10)
    with pytest.raises(EmissionError, match="'constant': bad parameters"):
        make_schedule("constant")
    with pytest.raises(EmissionError, match="'pool_drip'"):
        make_schedule("pool_drip", pool_tokens=1, duration_epochs=2, cap_tokens=1)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (
            lambda: Constant(-1.0),
            r"Constant\.tokens_per_epoch must be a finite number >= 0, got -1\.0",
        ),
        (lambda: Constant(float("nan")), r"Constant\.tokens_per_epoch"),
        (lambda: Constant("5"), r"Constant\.tokens_per_epoch must be a number"),
        (lambda: Constant(1.0, cap_tokens=-3), r"Constant\.cap_tokens must be >= 0"),
        (lambda: LinearDecay(1, -2, 5), r"LinearDecay\.final_tokens_per_epoch"),
        (lambda: LinearDecay(1, 0, 0), r"LinearDecay\.decay_epochs must be a whole number"),
        (lambda: LinearDecay(1, 0, 2.5), r"LinearDecay\.decay_epochs"),
        (
            lambda: ExponentialDecay(1, 0),
            r"ExponentialDecay\.half_life_epochs must be a finite number > 0",
        ),
        (lambda: Halving(50, 0), r"Halving\.halving_interval_epochs must be a finite number > 0"),
        (lambda: Halving(-50, 10), r"Halving\.initial_tokens_per_epoch"),
        (
            lambda: SupplyHalving(0, 10),
            r"SupplyHalving\.initial_tokens_per_epoch must be a finite number > 0",
        ),
        (lambda: SupplyHalving(1, math.inf), r"SupplyHalving\.cap_tokens"),
        (lambda: Table([(0, 1.0), (5,)]), r"Table\.steps\[1\] must be"),
        (lambda: Table([]), r"at least one"),
        (lambda: Table([(3, 1), (3, 2)]), r"strictly increasing"),
        (
            lambda: Table([(-1, 1), (3, 2)]),
            r"Table\.steps\[0\]\.start_epoch must be a whole number >= 0",
        ),
        (lambda: Table([(0, 1), (3, -2)]), r"Table\.steps\[1\]\.tokens_per_epoch"),
        (lambda: PoolDrip(100, 10, "back_loaded"), r"PoolDrip\.shape must be one of"),
        (
            lambda: PoolDrip(100, 10, "linear", half_life_epochs=3),
            r"only applies to shape='front_loaded'",
        ),
        (lambda: PoolDrip(-1, 10), r"PoolDrip\.pool_tokens"),
    ],
)
def test_invalid_parameters_raise_emission_error(build, match: str) -> None:
    with pytest.raises(EmissionError, match=match) as info:
        build()
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", [1.5, [0, 2.5], "3", float("nan")])
def test_non_integer_epochs_are_rejected(bad: object) -> None:
    with pytest.raises(EmissionError, match=r"Halving\.cumulative: epochs must be"):
        BITCOIN.cumulative(bad)
    with pytest.raises(EmissionError, match=r"Halving\.emitted: epochs must be"):
        BITCOIN.emitted(bad)


def test_schedules_are_frozen_and_hashable() -> None:
    with pytest.raises(AttributeError):
        BITCOIN.initial_tokens_per_epoch = 25  # type: ignore[misc]
    assert len({BITCOIN, Halving(50, 210_000), Table(((0, 1.0),))}) == 2


# ---------------------------------------------------------------------------------------
# emitted_at: the per-block table a simulation reads, against emitted(t) bit for bit
# ---------------------------------------------------------------------------------------

TABLE_CASES = [
    Constant(tokens_per_epoch=1_000.0),
    Constant(tokens_per_epoch=0.1, cap_tokens=50.05),  # the cap binds inside a block
    LinearDecay(initial_tokens_per_epoch=1_000.0, final_tokens_per_epoch=0.0, decay_epochs=700),
    LinearDecay(initial_tokens_per_epoch=0.3, final_tokens_per_epoch=0.1, decay_epochs=333),
    ExponentialDecay(initial_tokens_per_epoch=1_000.0, half_life_epochs=180.0),
    ExponentialDecay(initial_tokens_per_epoch=7.0, half_life_epochs=90.5, cap_tokens=600.0),
    Halving(initial_tokens_per_epoch=50.0, halving_interval_epochs=210),
    Halving(initial_tokens_per_epoch=0.7, halving_interval_epochs=100.5),
    Halving(initial_tokens_per_epoch=50.0, halving_interval_epochs=64, cap_tokens=4_321.0),
    SupplyHalving(initial_tokens_per_epoch=7_200.0, cap_tokens=3_000_000.0),
    SupplyHalving(initial_tokens_per_epoch=1.1, cap_tokens=1_000.3),
    Table(steps=((3, 5.0), (517, 0.25), (1_030, 0.0))),
    Table(steps=((0, 1.0), (900, 2.0)), cap_tokens=1_234.5),
    PoolDrip(pool_tokens=1e6, duration_epochs=1_000),
    PoolDrip(pool_tokens=1e6, duration_epochs=999, shape="front_loaded"),
]
"""A schedule of every kind, caps binding mid-block, and blocks crossing segment ends."""


def _bits(x: float) -> int:
    return int(np.float64(x).view(np.uint64))


def test_table_cases_cover_every_kind() -> None:
    assert {type(s).KIND for s in TABLE_CASES} == set(KINDS)


@pytest.mark.parametrize("schedule", TABLE_CASES, ids=lambda s: repr(s)[:60])
def test_emitted_at_equals_emitted_bit_for_bit(schedule: EmissionSchedule) -> None:
    """Every epoch of three table blocks and a jump back and forth between blocks: the
    table gives each epoch exactly the bits of the scalar ``emitted(t)``."""
    from ledgerlab.economics.emission import TABLE_EPOCHS

    epochs = [*range(3 * TABLE_EPOCHS + 7), 5, 2_000, 1, 100_000, -1, -600]
    for t in epochs:
        got = schedule.emitted_at(t)
        assert isinstance(got, float)
        assert _bits(got) == _bits(float(schedule.emitted(t))), (t, got)


def test_emitted_at_leaves_equality_and_hash_alone() -> None:
    a, b = Constant(tokens_per_epoch=3.0), Constant(tokens_per_epoch=3.0)
    a.emitted_at(10)
    assert a == b and hash(a) == hash(b) and repr(a) == repr(b)
