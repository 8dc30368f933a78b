"""Tests of the chain model (sim/chain.py): EIP-1559 base fee, mempool, latency, payouts."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerlab.sim.chain import (
    Chain,
    ChainError,
    ChainParams,
    ChainParamsError,
    base_fee_path_tokens,
    payout_tx_count,
)
from ledgerlab.sim.chain import _uniform_mixture_stats as uniform_mixture_stats


def small_params(**kw: object) -> ChainParams:
    """A 4-block epoch of 1-second blocks with capacity 10 and one tip level per kind."""
    base: dict[str, object] = {
        "block_time_seconds": 1.0,
        "epoch_seconds": 4.0,
        "block_capacity_tx": 10,
        "initial_base_fee_tokens": 1.0,
        "min_base_fee_tokens": 0.0,
        "max_base_fee_tokens": math.inf,
        "tip_buckets": 1,
        "tip_tokens": 0.0,
        "blocks_per_event": 1,
        "arrivals": "uniform",
    }
    base.update(kw)
    return ChainParams(**base)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# an independent per-block reference: one Python step per block, a sorted pool of cells


def reference_run(
    params: ChainParams, epochs: list[dict[str, tuple[int, float]]]
) -> list[dict[str, float]]:
    """Per-block simulation of uniform arrivals with one tip level per kind.

    ``epochs[e][kind] = (count, tip)``. The count n at each tip level (kinds with equal
    tips pooled) is spread over the epoch's N blocks as floor(n*k/N) - floor(n*(k-1)/N)
    (the "uniform" arrival rule); a transaction
    arriving before block k (uniformly within that block interval) is eligible for it.
    Each block takes the highest tips first, the oldest first within a tip.
    """
    n_blocks = params.blocks_per_epoch
    bt = params.block_time_seconds
    cap = params.block_capacity_tx
    target = cap * params.target_fullness
    fee = params.initial_base_fee_tokens
    pool: list[list[float]] = []  # [tip, arrival block (global), count]
    out = []
    for e, demand in enumerate(epochs):
        backlog_start = sum(int(c[2]) for c in pool)
        burned = tips = 0.0
        included = 0
        cells: list[tuple[float, float, int]] = []
        by_tip: dict[float, int] = {}
        for n, tip in demand.values():
            by_tip[tip] = by_tip.get(tip, 0) + n
        for k in range(1, n_blocks + 1):
            g = e * n_blocks + k
            for tip, n in by_tip.items():
                arrived = (n * k) // n_blocks - (n * (k - 1)) // n_blocks
                if arrived:
                    pool.append([tip, g, arrived])
            pool.sort(key=lambda c: (-c[0], c[1]))
            room = cap
            used = 0
            for cell in pool:
                if room == 0:
                    break
                take = min(room, int(cell[2]))
                if take:
                    cell[2] -= take
                    room -= take
                    used += take
                    tips += take * cell[0]
                    wait = (g - cell[1]) * bt
                    cells.append((wait, wait + bt, take))
            pool = [c for c in pool if c[2] > 0]
            burned += fee * used
            included += used
            fee = fee * (1 + params.base_fee_max_change * (used - target) / target)
            fee = min(max(fee, params.min_base_fee_tokens), params.max_base_fee_tokens)
        w = np.array([c[2] for c in cells], dtype=float)
        if w.sum() > 0:
            lo = np.array([c[0] for c in cells])
            hi = np.array([c[1] for c in cells])
            mean = float(np.dot(w, (lo + hi) / 2) / w.sum())
            p95 = bisect_quantile(lo, hi, w, 0.95)
        else:
            mean = p95 = math.nan
        out.append(
            {
                "submitted": sum(n for n, _ in demand.values()),
                "included": included,
                "backlog_start": backlog_start,
                "backlog": sum(int(c[2]) for c in pool),
                "burned": burned,
                "tips": tips,
                "fee_end": fee,
                "mean_latency": mean,
                "p95_latency": p95,
            }
        )
    return out


def bisect_quantile(lo: np.ndarray, hi: np.ndarray, w: np.ndarray, q: float) -> float:
    """q-quantile of a mixture of uniforms by bisection on its CDF (reference)."""

    def cdf(x: float) -> float:
        return float(np.dot(w, np.clip((x - lo) / (hi - lo), 0.0, 1.0)) / w.sum())

    a, b = float(lo.min()), float(hi.max())
    for _ in range(200):
        mid = (a + b) / 2
        if cdf(mid) < q:
            a = mid
        else:
            b = mid
    return (a + b) / 2


def run_chain(
    params: ChainParams, epochs: list[dict[str, tuple[int, float]]], seed: int = 0
) -> list:
    chain = Chain(params, np.random.default_rng(seed))
    return [
        chain.settle(e, {k: n for k, (n, _) in d.items()}, tips={k: t for k, (_, t) in d.items()})
        for e, d in enumerate(epochs)
    ]


def assert_matches_reference(stats: list, ref: list[dict[str, float]], latency: bool) -> None:
    for s, r in zip(stats, ref, strict=True):
        assert s.tx_submitted == r["submitted"]
        assert s.tx_included == r["included"]
        assert s.backlog_start_tx == r["backlog_start"]
        assert s.backlog_tx == r["backlog"]
        assert s.base_fee_burned_tokens == pytest.approx(r["burned"], rel=1e-9, abs=1e-12)
        assert s.tips_tokens == pytest.approx(r["tips"], rel=1e-12, abs=1e-12)
        assert s.base_fee_end_tokens == pytest.approx(r["fee_end"], rel=1e-9, abs=1e-300)
        if latency:
            if math.isnan(r["mean_latency"]):
                assert math.isnan(s.mean_latency_seconds)
                assert math.isnan(s.p95_latency_seconds)
            else:
                assert s.mean_latency_seconds == pytest.approx(r["mean_latency"], rel=1e-9)
                assert s.p95_latency_seconds == pytest.approx(r["p95_latency"], rel=1e-6)


# ---------------------------------------------------------------------------------------
# base fee: EIP-1559 (BASE_FEE_MAX_CHANGE_DENOMINATOR = 8, i.e. ±12.5 % per block)


def test_full_blocks_raise_base_fee_by_exactly_one_eighth_per_block() -> None:
    chain = Chain(small_params(), np.random.default_rng(0))
    s = chain.settle(0, {"fee": 40})  # 10 per block = capacity = 2 × target
    assert s.tx_included == 40 and s.backlog_tx == 0 and s.blocks == 4
    assert s.mean_fullness == 1.0
    # 1, 1.125, 1.265625, 1.423828125 → 1.601806640625 (= 1.125**4)
    assert s.base_fee_end_tokens == pytest.approx(1.601806640625, rel=1e-14)
    assert s.base_fee_burned_tokens == pytest.approx(10 * 4.814453125, rel=1e-14)
    assert s.base_fee_burned_tokens == pytest.approx(48.14453125, rel=1e-14)


def test_empty_blocks_lower_base_fee_by_exactly_one_eighth_and_stop_at_floor() -> None:
    chain = Chain(small_params(), np.random.default_rng(0))
    s = chain.settle(0, {})
    assert s.tx_included == 0 and s.base_fee_burned_tokens == 0.0
    assert s.base_fee_end_tokens == pytest.approx(0.586181640625, rel=1e-14)  # 0.875**4
    assert math.isnan(s.mean_latency_seconds) and math.isnan(s.p95_latency_seconds)
    floored = Chain(small_params(min_base_fee_tokens=0.7), np.random.default_rng(0))
    # 1 → 0.875 → 0.765625 → 0.669921875 clamped to 0.7 → 0.6125 clamped to 0.7
    assert floored.settle(0, {"x": 0}).base_fee_end_tokens == pytest.approx(0.7, rel=1e-14)


def test_partially_filled_blocks_move_fee_in_proportion_to_distance_from_target() -> None:
    chain = Chain(small_params(), np.random.default_rng(0))
    s = chain.settle(0, {"fee": 28})  # 7 per block, target 5 → factor 1 + 0.125 * 2/5 = 1.05
    assert s.base_fee_end_tokens == pytest.approx(1.21550625, rel=1e-14)
    assert s.base_fee_burned_tokens == pytest.approx(7 * 4.310125, rel=1e-14)
    at_target = Chain(small_params(), np.random.default_rng(0)).settle(0, {"fee": 20})
    assert at_target.base_fee_end_tokens == pytest.approx(1.0, rel=1e-14)
    under = Chain(small_params(), np.random.default_rng(0)).settle(0, {"fee": 8})
    assert under.base_fee_end_tokens == pytest.approx(
        0.925**4, rel=1e-14
    )  # 2 per block: 1 - 0.125 * 3/5


def test_overload_keeps_blocks_full_then_backlog_drains_and_fee_falls() -> None:
    chain = Chain(small_params(), np.random.default_rng(0))
    s0 = chain.settle(0, {"fee": 60})  # 15 per block, capacity 10
    assert (s0.tx_included, s0.backlog_tx) == (40, 20)
    assert s0.base_fee_end_tokens == pytest.approx(1.125**4, rel=1e-14)
    s1 = chain.settle(1, {})
    assert (s1.backlog_start_tx, s1.tx_included, s1.backlog_tx) == (20, 20, 0)
    # blocks 10, 10, 0, 0: ×1.125, ×1.125, ×0.875, ×0.875
    assert s1.base_fee_end_tokens == pytest.approx(1.125**6 * 0.875**2, rel=1e-14)
    assert s1.base_fee_burned_tokens == pytest.approx(10 * (1.125**4 + 1.125**5), rel=1e-14)
    # The drained transactions waited across the epoch boundary.
    assert s1.mean_latency_seconds > s0.mean_latency_seconds
    assert s1.mean_latency_seconds > 1.0


def test_base_fee_capped_at_max() -> None:
    chain = Chain(small_params(max_base_fee_tokens=1.2), np.random.default_rng(0))
    s = chain.settle(0, {"fee": 40})
    assert s.base_fee_end_tokens == pytest.approx(1.2, rel=1e-14)
    assert s.base_fee_burned_tokens == pytest.approx(10 * (1 + 1.125 + 1.2 + 1.2), rel=1e-14)


def sequential_fee_path(
    f0: float, used: np.ndarray, target: float, m: float, lo: float, hi: float
) -> np.ndarray:
    out = [f0]
    for u in used:
        out.append(min(max(out[-1] * (1 + m * (u - target) / target), lo), hi))
    return np.array(out)


@settings(max_examples=150, deadline=None)
@given(
    used=st.lists(st.integers(0, 20), min_size=0, max_size=300),
    f0=st.floats(0.01, 100.0),
    lo=st.floats(0.0, 1.0),
    span=st.floats(1.0, 1e4),
    m=st.floats(0.01, 0.9),
    target=st.integers(1, 10),
)
def test_base_fee_path_matches_sequential_rule(
    used: list[int], f0: float, lo: float, span: float, m: float, target: int
) -> None:
    hi = max(lo, 0.01) * span
    f0 = min(max(f0, lo), hi)
    u = np.minimum(np.array(used, dtype=np.int64), 2 * target)
    got = base_fee_path_tokens(
        f0, u, target_tx=target, max_change=m, min_base_fee_tokens=lo, max_base_fee_tokens=hi
    )
    want = sequential_fee_path(f0, u, target, m, lo, hi)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-300)
    assert np.all(got >= lo) and np.all(got <= hi)


def test_base_fee_path_rejects_bad_arguments() -> None:
    with pytest.raises(ChainError, match="target_tx"):
        base_fee_path_tokens(1.0, np.ones(3), target_tx=0, max_change=0.125)
    with pytest.raises(ChainError, match="max_change"):
        base_fee_path_tokens(1.0, np.ones(3), target_tx=5, max_change=1.5)
    with pytest.raises(ChainError, match="used_tx"):
        base_fee_path_tokens(1.0, np.array([-1.0]), target_tx=5, max_change=0.125)


# ---------------------------------------------------------------------------------------
# the whole chain against the per-block reference


demand_strategy = st.lists(
    st.dictionaries(
        st.sampled_from(["fee", "payout", "swap", "stake"]),
        st.tuples(st.integers(0, 120), st.sampled_from([0.0, 0.5, 1.0, 2.0])),
        max_size=4,
    ),
    min_size=1,
    max_size=3,
)


@settings(max_examples=60, deadline=None)
@given(
    demand=demand_strategy,
    cap=st.integers(1, 12),
    n_blocks=st.integers(1, 12),
    lo=st.sampled_from([0.0, 0.5]),
)
def test_per_block_chain_equals_reference_simulation(
    demand: list[dict[str, tuple[int, float]]], cap: int, n_blocks: int, lo: float
) -> None:
    params = small_params(
        block_capacity_tx=cap, epoch_seconds=float(n_blocks), min_base_fee_tokens=lo
    )
    stats = run_chain(params, demand)
    assert_matches_reference(stats, reference_run(params, demand), latency=True)
    assert all(s.simpy_events == n_blocks for s in stats)


@settings(max_examples=40, deadline=None)
@given(
    per_block=st.lists(st.integers(0, 30), min_size=1, max_size=3),
    cap=st.integers(1, 20),
    bpe=st.integers(2, 9),
    n_blocks=st.integers(1, 40),
)
def test_aggregation_exact_when_blocks_uniformly_loaded(
    per_block: list[int], cap: int, bpe: int, n_blocks: int
) -> None:
    """With the same demand in every block, batching blocks changes no count or fee."""
    demand = [{"fee": (r * n_blocks, 1.0)} for r in per_block]
    exact = small_params(block_capacity_tx=cap, epoch_seconds=float(n_blocks))
    batched = small_params(
        block_capacity_tx=cap, epoch_seconds=float(n_blocks), blocks_per_event=bpe
    )
    ref = reference_run(exact, demand)
    stats = run_chain(batched, demand)
    assert_matches_reference(stats, ref, latency=False)
    for s, r in zip(stats, ref, strict=True):
        # Latency is resolved to the batch duration when congested.
        assert abs(s.mean_latency_seconds - r["mean_latency"]) <= bpe * 1.0 + 1e-9 or (
            math.isnan(s.mean_latency_seconds) and math.isnan(r["mean_latency"])
        )
        assert s.simpy_events == -(-n_blocks // bpe)


def test_uncongested_latency_is_half_a_block_with_any_aggregation() -> None:
    for bpe in (1, 7, None):
        params = ChainParams(
            block_time_seconds=2.0, epoch_seconds=3_600.0, blocks_per_event=bpe, arrivals="random"
        )
        s = Chain(params, np.random.default_rng(3)).settle(0, {"fee": 5_000, "payout": 70_000})
        assert s.tx_included == 75_000 and s.backlog_tx == 0
        assert s.mean_latency_seconds == pytest.approx(1.0, rel=1e-12)
        assert s.p95_latency_seconds == pytest.approx(1.9, rel=1e-12)


def test_higher_tips_are_included_first() -> None:
    demand = {"hi": (100, 5.0), "lo": (100, 1.0)}
    for bpe in (1, 5):
        params = small_params(epoch_seconds=10.0, blocks_per_event=bpe)
        (s,) = run_chain(params, [demand])
        assert s.tx_included == 100 and s.backlog_tx == 100
        assert s.tips_tokens == pytest.approx(500.0)


def test_burned_is_sum_of_base_fee_times_included_with_aggregation() -> None:
    params = ChainParams(
        block_time_seconds=2.0,
        block_capacity_tx=20,
        initial_base_fee_tokens=0.5,
        min_base_fee_tokens=1e-3,
        arrivals="uniform",
        tip_buckets=1,  # one tip level, so that every block gets exactly 7 transactions
    )
    n_blocks = params.blocks_per_epoch
    s = Chain(params, np.random.default_rng(0)).settle(0, {"fee": 7 * n_blocks})
    assert s.blocks_per_event > 1 and s.simpy_events <= 1_000
    path = base_fee_path_tokens(
        0.5, np.full(n_blocks, 7), target_tx=10, max_change=0.125, min_base_fee_tokens=1e-3
    )
    assert s.base_fee_burned_tokens == pytest.approx(7 * path[:-1].sum(), rel=1e-9)
    assert s.base_fee_end_tokens == pytest.approx(path[-1], rel=1e-9)


# ---------------------------------------------------------------------------------------
# conservation, determinism, bounds


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(
        st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(0, 5_000), max_size=3),
        min_size=1,
        max_size=4,
    ),
    cap=st.integers(1, 50),
    bpe=st.one_of(st.none(), st.integers(1, 60)),
    seed=st.integers(0, 2**31),
    sigma=st.sampled_from([0.0, 1.5]),
)
def test_transactions_are_conserved(
    counts: list[dict[str, int]], cap: int, bpe: int | None, seed: int, sigma: float
) -> None:
    params = ChainParams(
        block_time_seconds=2.0,
        epoch_seconds=240.0,
        block_capacity_tx=cap,
        blocks_per_event=bpe,
        max_events_per_epoch=7,
        tip_sigma=sigma,
        max_mempool_cohorts=3,
    )
    chain = Chain(params, np.random.default_rng(seed))
    submitted = included = 0
    for e, c in enumerate(counts):
        s = chain.settle(e, c)
        submitted += s.tx_submitted
        included += s.tx_included
        assert s.backlog_start_tx + s.tx_submitted == s.tx_included + s.backlog_tx
        assert s.tx_submitted == sum(c.values())
        assert s.mean_fullness * s.blocks * cap == pytest.approx(s.tx_included)
        assert s.gas_total == s.tx_included * params.gas_per_tx
        assert s.base_fee_burned_tokens <= s.tx_included * params.max_base_fee_tokens * (1 + 1e-9)
        assert s.base_fee_burned_tokens >= s.tx_included * params.min_base_fee_tokens * (1 - 1e-9)
        assert s.simpy_events <= 7 or bpe is not None
        if s.tx_included:
            assert 0 < s.mean_latency_seconds and s.mean_latency_seconds <= chain.now_seconds
            assert s.p95_latency_seconds >= 0
        assert chain.backlog_tx == s.backlog_tx
    assert submitted == included + chain.backlog_tx


def test_same_seed_same_results_different_seed_differs() -> None:
    params = ChainParams(block_capacity_tx=30, epoch_seconds=3_600.0)
    demand = [{"fee": 20_000, "payout": 50_000}, {"fee": 10_000}, {"swap": 100}]

    def run(seed: int) -> list:
        chain = Chain(params, np.random.default_rng(seed))
        return [chain.settle(e, d, tips={"fee": 1e-3}) for e, d in enumerate(demand)]

    a, b, c = run(42), run(42), run(43)
    assert a == b
    assert a != c
    assert a[0].tips_tokens != c[0].tips_tokens


def test_ten_million_transactions_settle_fast_with_bounded_events() -> None:
    for params in (
        ChainParams(),  # uncongested: 10M ≪ 5,000 × 43,200 capacity
        ChainParams(block_capacity_tx=100, max_events_per_epoch=1_000),  # congested
        ChainParams(initial_base_fee_tokens=1.0, min_base_fee_tokens=0.0),
    ):
        chain = Chain(params, np.random.default_rng(0))
        t0 = time.perf_counter()
        s = chain.settle(0, {"payout": 9_000_000, "fee": 1_000_000}, tips={"fee": 1e-2})
        elapsed = time.perf_counter() - t0
        assert s.tx_submitted == 10_000_000
        assert s.simpy_events <= 1_000
        assert s.blocks == 43_200
        assert elapsed < 1.5, f"settling 10M transactions took {elapsed:.2f} s"
        assert s.tx_included == min(10_000_000, params.block_capacity_tx * 43_200)


def test_congested_epoch_prefers_fee_kind_with_higher_tip() -> None:
    params = ChainParams(block_capacity_tx=100, tip_sigma=0.0)
    chain = Chain(params, np.random.default_rng(0))
    s = chain.settle(0, {"payout": 9_000_000, "fee": 1_000_000}, tips={"fee": 1e-2})
    assert s.tx_included == 4_320_000 and s.backlog_tx == 5_680_000
    # All 1M fees (tip 1e-2) and 3.32M payouts (tip 1e-4) were included.
    assert s.tips_tokens == pytest.approx(1_000_000 * 1e-2 + 3_320_000 * 1e-4, rel=1e-9)
    assert s.base_fee_end_tokens == pytest.approx(params.max_base_fee_tokens)
    nxt = chain.settle(1, {})
    assert nxt.tx_included == 4_320_000 and nxt.backlog_tx == 1_360_000
    assert nxt.mean_latency_seconds > params.epoch_seconds / 2


def test_auto_blocks_per_event_bounds_events() -> None:
    for n_events in (1, 13, 1_000):
        params = ChainParams(block_time_seconds=12.0, max_events_per_epoch=n_events)
        s = Chain(params, np.random.default_rng(0)).settle(5, {"a": 100})
        assert s.simpy_events <= n_events
        assert s.blocks == 7_200 and s.epoch == 5


# ---------------------------------------------------------------------------------------
# latency mixture helper


@settings(max_examples=60, deadline=None)
@given(
    cells=st.lists(
        st.tuples(st.floats(0, 100), st.floats(0.01, 50), st.integers(1, 1_000)),
        min_size=1,
        max_size=20,
    ),
    q=st.floats(0.01, 0.99),
)
def test_uniform_mixture_quantile_matches_bisection(
    cells: list[tuple[float, float, int]], q: float
) -> None:
    lo = np.array([c[0] for c in cells])
    hi = lo + np.array([c[1] for c in cells])
    w = np.array([c[2] for c in cells], dtype=float)
    mean, quant = uniform_mixture_stats(lo, hi, w, q)
    assert mean == pytest.approx(float(np.dot(w, (lo + hi) / 2) / w.sum()))
    assert quant == pytest.approx(bisect_quantile(lo, hi, w, q), rel=1e-7, abs=1e-7)


# ---------------------------------------------------------------------------------------
# payouts


def test_payout_counts_stream_vs_batch_by_hand() -> None:
    contributors = np.array([[0, 1, 1], [2, -1, -1], [0, 0, 0], [3, 1, -1]])
    assert payout_tx_count("stream", contributors) == 2 + 1 + 1 + 2
    assert payout_tx_count("batch", contributors) == 4
    credit = np.array([[1.0, 0.0, 0.0], [0.5, 9.0, 9.0], [0.0, 0.0, 0.0], [0.0, 2.0, 1.0]])
    # Pairs with positive credit: (0,0), (1,2), (3,1); contributors 0, 1, 2.
    assert payout_tx_count("stream", contributors, credit) == 3
    assert payout_tx_count("batch", contributors, credit) == 3
    # Credits of one contributor in one inference add up: +1 and -2 is a net debit.
    assert payout_tx_count("stream", np.array([[5, 5]]), np.array([[1.0, -2.0]])) == 0
    assert payout_tx_count("stream", np.array([3, 3, 4])) == 3  # one slot per inference
    assert payout_tx_count("batch", np.array([3, 3, 4])) == 2
    assert payout_tx_count("stream", np.zeros((0, 5), dtype=np.int64)) == 0


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(
        st.lists(st.tuples(st.integers(-1, 6), st.integers(-2, 3)), min_size=3, max_size=3),
        min_size=1,
        max_size=30,
    )
)
def test_payout_counts_match_set_semantics(rows: list[list[tuple[int, int]]]) -> None:
    ids = np.array([[c for c, _ in r] for r in rows], dtype=np.int64)
    credit = np.array([[float(v) for _, v in r] for r in rows])
    pairs: dict[tuple[int, int], float] = {}
    per_contributor: dict[int, float] = {}
    for i, r in enumerate(rows):
        for c, v in r:
            if c >= 0:
                pairs[(i, c)] = pairs.get((i, c), 0.0) + v
                per_contributor[c] = per_contributor.get(c, 0.0) + v
    stream = payout_tx_count("stream", ids, credit)
    batch = payout_tx_count("batch", ids, credit)
    assert stream == sum(v > 0 for v in pairs.values())
    assert batch == sum(v > 0 for v in per_contributor.values())
    everyone_stream = payout_tx_count("stream", ids)
    assert everyone_stream == len(pairs)
    assert payout_tx_count("batch", ids) == len(per_contributor) <= everyone_stream


def test_payout_count_errors() -> None:
    with pytest.raises(ChainError, match="policy"):
        payout_tx_count("weekly", np.zeros((1, 1), dtype=np.int64))  # type: ignore[arg-type]
    with pytest.raises(ChainError, match="contributor id -3"):
        payout_tx_count("batch", np.array([[-3]]))
    with pytest.raises(ChainError, match="integer"):
        payout_tx_count("batch", np.array([[0.5]]))
    with pytest.raises(ChainError, match="one credit per contributor slot"):
        payout_tx_count("stream", np.array([[0, 1]]), np.array([1.0]))
    with pytest.raises(ChainError, match="finite"):
        payout_tx_count("stream", np.array([[0, 1]]), np.array([[1.0, np.nan]]))


# ---------------------------------------------------------------------------------------
# errors users can hit


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("block_time_seconds", 0.0),
        ("block_time_seconds", float("nan")),
        ("block_capacity_tx", 0),
        ("block_capacity_tx", 2.5),
        ("epoch_seconds", 86_401.0),
        ("epoch_seconds", 1.0),
        ("min_base_fee_tokens", -1.0),
        ("max_base_fee_tokens", 1e-9),
        ("initial_base_fee_tokens", 1e-9),
        ("base_fee_max_change", 1.0),
        ("base_fee_max_change", 0.0),
        ("target_fullness", 0.0),
        ("target_fullness", 1.5),
        ("tip_tokens", -0.1),
        ("tip_sigma", math.inf),
        ("tip_buckets", 0),
        ("payout_policy", "weekly"),
        ("blocks_per_event", 0),
        ("max_events_per_epoch", 0),
        ("arrivals", "poisson"),
        ("gas_per_tx", -1),
        ("max_mempool_cohorts", 1),
    ],
)
def test_bad_params_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ChainParamsError, match=rf"ChainParams\.{field} = ") as info:
        ChainParams(**{field: value})  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)


def test_bad_settle_inputs_raise_and_change_nothing() -> None:
    chain = Chain(small_params(), np.random.default_rng(0))
    chain.settle(0, {"fee": 60})
    backlog, fee = chain.backlog_tx, chain.base_fee_tokens
    with pytest.raises(ChainError, match=r"tx_counts_by_kind\['fee'\] = -1"):
        chain.settle(1, {"fee": -1})
    with pytest.raises(ChainError, match="whole number"):
        chain.settle(1, {"fee": 2.5})
    with pytest.raises(ChainError, match=r"tips\['fee'\]"):
        chain.settle(1, {"fee": 1}, tips={"fee": -1.0})
    with pytest.raises(ChainError, match="consecutive"):
        chain.settle(3, {"fee": 1})
    with pytest.raises(ChainError, match="epoch"):
        chain.settle(-1, {"fee": 1})
    with pytest.raises(ChainError, match="1-D"):
        chain.settle(1, np.ones((2, 2), dtype=np.int64))
    assert (chain.backlog_tx, chain.base_fee_tokens) == (backlog, fee)
    s = chain.settle(1, np.array([0, 3]))
    assert s.tx_submitted_by_kind == {"0": 0, "1": 3}
    with pytest.raises(ChainError, match="Generator"):
        Chain(small_params(), 0)  # type: ignore[arg-type]
