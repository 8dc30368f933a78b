"""A quiet epoch at the fee floor is settled in one step (``Chain._settle_quiet``) with the
same results, bit for bit, as batch by batch."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerlab.sim.chain import Chain, ChainParams


def settle_all(
    params: ChainParams, epochs: list[dict[str, int]], seed: int, quiet_path: bool
) -> tuple[list[dict[str, object]], float, int]:
    """Stats of every epoch, the chain clock at the end, and the epochs taken quietly."""
    chain = Chain(params, np.random.default_rng(seed))
    quiet = 0
    real = chain._quiet_at_floor

    def counting(totals: np.ndarray, blocks: np.ndarray) -> bool:
        nonlocal quiet
        ok = quiet_path and real(totals, blocks)
        quiet += ok
        return ok

    chain._quiet_at_floor = counting  # type: ignore[method-assign]
    stats = [asdict(chain.settle(e, d, tips={"fee": 0.01 * e})) for e, d in enumerate(epochs)]
    return stats, chain.now_seconds, quiet


@settings(max_examples=60, deadline=None)
@given(
    loads=st.lists(st.integers(0, 400), min_size=1, max_size=6),
    cap=st.integers(1, 50),
    bpe=st.sampled_from([1, 3, None]),
    arrivals=st.sampled_from(["uniform", "random"]),
    initial=st.sampled_from([1e-9, 1e-6]),
    seed=st.integers(0, 3),
)
def test_quiet_epochs_equal_batch_by_batch(
    loads: list[int], cap: int, bpe: int | None, arrivals: str, initial: float, seed: int
) -> None:
    params = ChainParams(
        block_time_seconds=2.0,
        epoch_seconds=120.0,
        block_capacity_tx=cap,
        initial_base_fee_tokens=initial,
        min_base_fee_tokens=1e-9,
        blocks_per_event=bpe,
        arrivals=arrivals,  # type: ignore[arg-type]
        tip_buckets=3,
    )
    epochs = [{"fee": n, "payout": n // 2} for n in loads]
    fast, fast_now, _ = settle_all(params, epochs, seed, quiet_path=True)
    slow, slow_now, none = settle_all(params, epochs, seed, quiet_path=False)
    assert none == 0
    assert repr(fast) == repr(slow)  # every field, floats bit for bit (repr: NaN == NaN)
    assert fast_now == slow_now


def test_a_light_epoch_at_the_floor_is_quiet() -> None:
    """The path is taken where it is meant to be: light load at the floor, not congestion."""
    params = ChainParams(
        block_time_seconds=2.0,
        epoch_seconds=120.0,
        block_capacity_tx=100,
        initial_base_fee_tokens=1e-9,
        min_base_fee_tokens=1e-9,
    )
    _, _, quiet = settle_all(params, [{"fee": 10}, {"fee": 20}, {"fee": 10_000}], 0, True)
    assert quiet == 2
