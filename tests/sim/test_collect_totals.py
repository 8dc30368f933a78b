"""The KPI collection's fast paths give exactly what the public metric functions give:
the ledger sums cached between ledger changes (``collect.LedgerTotals``), the scalar KPI
arithmetic without validation, the market's skipped no-order trade, and a world without
datanets never drawing from its attribution stream."""

from __future__ import annotations

import numpy as np
import pytest

from ledgerlab.economics import metrics as M
from ledgerlab.economics.ledger import Ledger
from ledgerlab.sim.kpis import KPI_INDEX, row_of
from ledgerlab.sim.model import EconomyModel
from ledgerlab.sim.phases import collect as C
from ledgerlab.sim.phases import market as MK

TOKENOMICS = {
    "epochs": 60,
    "tokenomics.vesting.airdrop.holders": 40,
    "tokenomics.vesting.investors.holders": 15,
    "tokenomics.vesting.team.holders": 5,
    "tokenomics.vesting.investors.cliff_epochs": 20,
    "tokenomics.vesting.team.cliff_epochs": 30,
}


def reference_supply(ledger: Ledger, protocol_ids: np.ndarray) -> tuple[float, ...]:
    """Circulating, market float, locked and market-locked tokens by the public functions."""
    cols = (ledger.balance, ledger.staked, ledger.bonded, ledger.locked)
    market = np.ones(ledger.n_accounts, dtype=bool)
    market[protocol_ids] = False
    return (
        M.circulating_supply(*cols),
        M.market_float(*cols, protocol_ids),
        float(ledger.locked.sum()),
        float(ledger.locked[market].sum()),
    )


def cached_supply(totals: C.LedgerTotals, ledger: Ledger, ids: np.ndarray) -> tuple[float, ...]:
    s = totals.of(ledger, ids).supply
    return (s.circulating_tokens, s.market_float_tokens, s.locked_tokens, s.market_locked_tokens)


def test_ledger_totals_follow_every_ledger_change() -> None:
    led = Ledger(capacity=4, journal=False)
    led.open_accounts(6)
    ids = np.array([0, 1], dtype=np.int64)
    led.mint(0, 1000.0)
    led.mint_locked(3, 0.3)
    led.transfer(0, 2, 0.1)
    totals = C.LedgerTotals()
    assert cached_supply(totals, led, ids) == reference_supply(led, ids)
    first = totals.supply
    assert totals.of(led, ids).supply is first  # nothing changed: the same state object
    led.transfer(0, 4, 0.7)  # into the market: float grows, circulating does not
    assert cached_supply(totals, led, ids) == reference_supply(led, ids)
    assert totals.supply.market_float_tokens == pytest.approx(0.8)
    led.unlock(3, 0.3)
    led.stake(4, 0.5)
    assert cached_supply(totals, led, ids) == reference_supply(led, ids)
    assert totals.staked_tokens == 0.5
    led.open_accounts(5)  # more accounts than the capacity: new columns, new length
    led.mint(9, 2.5)
    assert cached_supply(totals, led, ids) == reference_supply(led, ids)
    assert totals.protocol_holding(0) == float(led.balance[0] + led.locked[0])


def test_ledger_totals_gini_is_the_metric_gini() -> None:
    led = Ledger(capacity=8, journal=False)
    led.open_accounts(5)
    role = np.array([0, 1, 1, 1, 1], dtype=np.int8)
    totals = C.LedgerTotals()
    assert totals.gini(led, role) == 0.0  # all zero: nobody holds more
    led.mint(1, 3.0)
    led.mint(2, 1.0)
    led.stake(2, 0.5)
    expected = M.gini((led.balance + led.staked)[1:])
    assert totals.gini(led, role) == expected == 0.625  # holdings 3, 1, 0, 0
    led.mint(0, 100.0)  # the protocol's account is not an individual's
    assert totals.gini(led, role) == expected


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_collected_supply_kpis_equal_the_public_metrics_every_epoch(seed: int) -> None:
    model = EconomyModel("tokenomics_only", seed=seed, **TOKENOMICS)
    led, ids = model.ledger, model.accounts.protocol.ids
    role = model.accounts.cols.role
    prev = reference_supply(led, ids)
    moved = 0
    while model.running:
        model.step()
        row = model.recorder.row
        circ, flt, _, _ = now = reference_supply(led, ids)
        moved += now != prev
        assert row[KPI_INDEX["circulating_tokens"]] == circ
        assert row[KPI_INDEX["market_float_tokens"]] == flt
        assert row[KPI_INDEX["staked_tokens"]] == float(led.staked.sum())
        assert row[KPI_INDEX["gini_holdings"]] == M.gini((led.balance + led.staked)[role != 0])
        assert row[KPI_INDEX["circulating_inflation"]] == M.inflation(prev[0], circ)
        assert row[KPI_INDEX["market_float_inflation"]] == M.inflation(prev[1], flt)
        rate = M.inflation(prev[1], flt)
        assert row[KPI_INDEX["market_float_inflation_annualised"]] == M.annualise(
            rate, model.epochs_per_year
        )
        assert row[KPI_INDEX["market_cap_usd"]] == M.market_cap(model.exchange.price_usd, circ)
        prev = now
    assert moved > 30  # the supply moved in most epochs: the cache was refreshed


def test_fast_row_is_row_of() -> None:
    model = EconomyModel("tokenomics_only", **TOKENOMICS)
    for _ in range(3):
        model.step()
    values = C.kpi_values(model, model.flows)
    np.testing.assert_array_equal(C._row_of(values), row_of(values))


def test_an_epoch_without_orders_skips_the_trade_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No sell rule, no order flow: the skipped trade (a quiet market, or orders that net
    to nothing) leaves the same rows and journal as the trade it replaces."""
    quiet = {
        **TOKENOMICS,
        "tokenomics.sell_policies": [],
        "market.order_flow.mean_usd_per_epoch": 0,
    }

    def run() -> tuple[np.ndarray, dict[str, np.ndarray]]:
        model = EconomyModel("tokenomics_only", **quiet)
        while model.running:
            model.step()
        return model.recorder.epochs().copy(), model.ledger.journal_columns()

    fast_rows, fast_journal = run()
    skipped = {"n": 0}
    original, original_quiet = MK._no_trade, MK.quiet_market

    def never(*args: object) -> bool:
        skipped["n"] += original(*args)
        return False

    def never_quiet(*args: object) -> None:
        skipped["n"] += original_quiet(*args) is not None
        return None

    monkeypatch.setattr(MK, "_no_trade", never)
    monkeypatch.setattr(MK, "quiet_market", never_quiet)
    slow_rows, slow_journal = run()
    assert skipped["n"] > 0
    np.testing.assert_array_equal(fast_rows, slow_rows)
    assert fast_journal.keys() == slow_journal.keys()
    for name, col in fast_journal.items():
        np.testing.assert_array_equal(col, slow_journal[name])


def test_a_world_without_datanets_never_draws_attribution() -> None:
    model = EconomyModel("tokenomics_only", **TOKENOMICS)
    before = model.streams["attribution"].bit_generator.state
    while model.running:
        model.step()
    assert model.streams["attribution"].bit_generator.state == before


def test_ledger_totals_gini_with_protocol_accounts_among_individuals() -> None:
    led = Ledger(capacity=8, journal=False)
    led.open_accounts(4)
    for account, amount in ((0, 1.0), (1, 50.0), (2, 3.0), (3, 0.0)):
        if amount:
            led.mint(account, amount)
    role = np.array([2, 0, 2, 2], dtype=np.int8)  # account 1 is the protocol's
    totals = C.LedgerTotals()
    expected = M.gini(np.array([1.0, 3.0, 0.0]))
    assert totals.gini(led, role) == expected
    assert expected == 0.5  # sorted 0, 1, 3: (n + 1 - 2 * 5 / 4) / n
