"""The cheap paths of a tokenomics-only epoch give exactly what the general paths give:
the quiet market (``market.quiet_market``), the vesting book's idle epochs
(``VestingBook._next_due``), the scalar order-flow draw (``OrderFlow.draw`` against
``OrderFlow.sample``), the Gini of holdings kept in order between epochs
(``collect.LedgerTotals``) and the stakers' weights kept between stake changes
(``Ledger.stakers``). Each compares bits, so a fast path that drifts fails."""

from __future__ import annotations

import numpy as np
import pytest

from ledgerlab.economics import metrics as M
from ledgerlab.economics.ledger import Ledger
from ledgerlab.economics.market import OrderFlow
from ledgerlab.sim.accounts import Accounts
from ledgerlab.sim.model import EconomyModel
from ledgerlab.sim.phases import collect as C
from ledgerlab.sim.phases import market as MK
from ledgerlab.sim.phases import reward as RW

QUIET = {  # holders with nothing to trade; a value trader with capital that never trades
    "epochs": 40,
    "tokenomics.vesting.airdrop.holders": 40,
    "tokenomics.vesting.investors.holders": 15,
    "tokenomics.vesting.team.holders": 5,
    "tokenomics.vesting.investors.cliff_epochs": 10,
    "tokenomics.vesting.team.cliff_epochs": 25,
    "tokenomics.sell_policies": [],
    "market.order_flow.mean_usd_per_epoch": 0,
    "market.value_trader.capital_usd": 1e6,
}


def _run(overrides: dict) -> tuple[np.ndarray, dict[str, np.ndarray], tuple[float, float]]:
    model = EconomyModel("tokenomics_only", **{**overrides, "collect.journal": True})
    while model.running:
        model.step()
    vt = model.market_sides.value_trader
    book = (vt.cash_usd, vt.inventory_tokens) if vt else (0.0, 0.0)
    return model.recorder.epochs().copy(), model.ledger.journal_columns(), book


def _same(a: tuple, b: tuple) -> None:
    np.testing.assert_array_equal(a[0].view(np.int64), b[0].view(np.int64))  # bits, NaN too
    assert a[1].keys() == b[1].keys()
    for name, col in a[1].items():
        np.testing.assert_array_equal(col, b[1][name])
    assert a[2] == b[2]


def test_a_quiet_market_returns_what_the_general_path_returns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast = _run(QUIET)
    used = {"n": 0}
    original = MK.quiet_market

    def general(*args: object) -> None:
        used["n"] += original(*args) is not None  # books nothing: the trader never trades
        return None

    monkeypatch.setattr(MK, "quiet_market", general)
    slow = _run(QUIET)
    assert used["n"] > 0
    _same(fast, slow)


def test_vesting_idle_epochs_unlock_what_the_schedule_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Short ramps after cliffs leave epochs with nothing to unlock between vesting ones;
    skipping them changes no row and no journal entry."""
    short = {
        **QUIET,
        **{f"tokenomics.vesting.{b}.linear_epochs": 4 for b in ("community", "airdrop")},
        **{f"tokenomics.vesting.{b}.linear_epochs": 3 for b in ("investors", "team")},
    }
    fast = _run(short)
    skipped = {"n": 0}
    original = MK.VestingBook._next_due

    def never_idle(self: MK.VestingBook, epoch: int) -> int:
        skipped["n"] += original(self, epoch) > epoch + 1
        return epoch + 1

    monkeypatch.setattr(MK.VestingBook, "_next_due", never_idle)
    slow = _run(short)
    assert skipped["n"] > 0
    _same(fast, slow)


@pytest.mark.parametrize("persistent", [True, False])
@pytest.mark.parametrize(
    "shocks", [(), ((3, 5.0, -40.0), (3, 0.5, 7.0), (9, 0.0, 0.0), (11, 2.0, 0.0))]
)
def test_the_scalar_draw_is_the_vectorised_sample(persistent: bool, shocks: tuple) -> None:
    flow = OrderFlow(
        250.0, growth_per_epoch=0.01, volatility=0.7, sell_share=0.45,
        persistent=persistent, shocks=shocks,
    )  # fmt: skip
    n = 400
    sampled = flow.sample(n, np.random.default_rng(7))
    rng, walk, drawn = np.random.default_rng(7), 0.0, []
    for t in range(n):
        value, walk = flow.draw(t, rng, walk)
        drawn.append(value)
    np.testing.assert_array_equal(np.array(drawn).view(np.int64), sampled.view(np.int64))


def test_a_zero_flow_keeps_the_sign_of_its_draw() -> None:
    flow = OrderFlow(0.0, volatility=0.5, sell_share=0.5)
    sampled = flow.sample(50, np.random.default_rng(3))
    rng, walk = np.random.default_rng(3), 0.0
    for t in range(50):
        value, walk = flow.draw(t, rng, walk)
        assert np.float64(value).tobytes() == sampled[t].tobytes()


def test_the_gini_kept_in_order_is_the_gini_sorted_afresh() -> None:
    """Holdings drift, tie, swap ranks and grow in number; every epoch's Gini equals
    ``metrics.gini`` of the same holdings, bit for bit."""
    rng = np.random.default_rng(11)
    totals = C.LedgerTotals()
    hold = np.repeat([5.0, 1.0, 3.0], [30, 50, 20])
    for step in range(200):
        kind = step % 5
        if kind == 0:
            hold = hold * rng.uniform(0.99, 1.01, hold.size)  # small drift, ranks move
        elif kind == 1:
            hold = hold + 0.25  # no rank change
        elif kind == 2:
            hold[rng.integers(0, hold.size, 3)] = rng.uniform(0, 10, 3)  # swaps
        elif kind == 3 and step % 40 == 3:
            hold = np.concatenate([hold, rng.uniform(0, 10, 7)])  # newcomers
        elif kind == 4 and step % 50 == 4:
            hold = np.full(hold.size, 2.0)  # everybody equal
        assert np.float64(totals._gini_of(hold)).tobytes() == np.float64(M.gini(hold)).tobytes()
    assert np.isnan(totals._gini_of(np.zeros(0)))


def test_the_cached_stakers_follow_every_change_of_the_stakes() -> None:
    acc = Accounts(Ledger(capacity=8, journal=False))
    ids = acc.register(6, role="holders", adversary=False, rows=np.arange(6))
    led = acc.ledger
    led.mint_many(ids, np.full(6, 100.0))
    led.stake_many(ids[:3], np.array([10.0, 0.0, 30.0]))
    led.mint(acc.protocol.reward_pool, 1e6)

    def expected() -> tuple[np.ndarray, np.ndarray, float]:
        staked = led.staked[: led.n_accounts]
        nz = np.flatnonzero(staked)
        return nz, staked[nz], float(staked.sum())

    for change in range(4):
        got = led.stakers()
        want = expected()
        np.testing.assert_array_equal(got.accounts, want[0])
        np.testing.assert_array_equal(got.staked_tokens, want[1])
        assert got.total_tokens == want[2]
        before = led.balance.copy()
        out = RW.route_emission(1000.0, "stakers", acc)
        assert out.recipients == want[0].size
        assert (led.balance[want[0]] > before[want[0]]).all()
        if change == 0:
            led.stake(int(ids[4]), 5.0)  # a new staker
        elif change == 1:
            led.unstake(int(ids[0]), 10.0)  # a staker leaves
        elif change == 2:
            acc.register(2, role="holders", adversary=False, rows=np.arange(6, 8))
    assert led.stakers() is led.stakers()  # unchanged stakes: the cached weights
