"""Tests of the account registry (``sim.accounts``) and the market (``sim.exchange``): the
two objects role sets and defences act on instead of the model."""

from __future__ import annotations

import numpy as np
import pytest

from ledgerlab.agents.base import ROLE_NAMES
from ledgerlab.economics.ledger import Ledger, LedgerError
from ledgerlab.economics.market import ConstantProductPool
from ledgerlab.sim.accounts import ONBOARDING_TOKENS, Accounts, fit_sum, ledger_sum, pay_out
from ledgerlab.sim.exchange import MAX_EXACT_BUY_SHARE, Exchange


def test_the_protocol_accounts_come_first_and_the_registry_follows_the_ledger() -> None:
    ledger = Ledger(capacity=2, journal=False)
    acc = Accounts(ledger)
    p = acc.protocol
    assert (p.treasury, p.reward_pool, p.amm, p.outside, p.escrow) == (0, 1, 2, 3, 4)
    assert p.outside not in p.ids
    ledger.epoch = 7
    ids = acc.register(3, role="farmers", adversary=True, rows=np.array([0, 1, 2]))
    np.testing.assert_array_equal(ids, [5, 6, 7])
    assert acc.n == ledger.n_accounts == 8
    assert (acc.cols.role[ids] == ROLE_NAMES.index("farmers")).all()
    assert acc.cols.adversary[ids].all() and not acc.cols.adversary[:5].any()
    assert (acc.cols.joined_epoch[ids] == 7).all() and (acc.cols.row[:5] == -1).all()
    np.testing.assert_array_equal(acc.of_role("farmers"), [False] * 5 + [True] * 3)


def test_funding_is_a_ledger_transfer_and_a_graph_edge() -> None:
    ledger = Ledger(journal=False)
    acc = Accounts(ledger)
    ids = acc.register(4, role="providers", adversary=False, rows=np.arange(4))
    ledger.mint(acc.protocol.treasury, 3.5)
    acc.onboard(ids)  # 4 grants do not fit: nothing is granted
    assert acc.funding_edges == []
    acc.onboard(ids[:3])
    np.testing.assert_allclose(ledger.balance[ids[:3]], ONBOARDING_TOKENS)
    ((src, dst, amount),) = acc.funding_edges
    assert (amount == ONBOARDING_TOKENS).all()
    assert (src == acc.protocol.treasury).all() and dst.tolist() == ids[:3].tolist()
    assert acc.affordable_each(acc.protocol.treasury, 2, 0.1) == 0.1
    each = acc.affordable_each(acc.protocol.treasury, 3, 1.0)
    assert 3 * each <= 0.5 and each == pytest.approx(0.5 / 3)


def test_pay_out_never_overdraws() -> None:
    ledger = Ledger(journal=False)
    acc = Accounts(ledger)
    ids = acc.register(3, role="providers", adversary=False, rows=np.arange(3))
    ledger.mint(0, 1.0)
    paid = pay_out(ledger, 0, ids, np.array([0.5, 0.5, 0.5]))  # asks for more than it holds
    assert ledger_sum(paid) <= 1.0 and ledger.balance[0] >= 0.0
    dust = fit_sum(np.full(3, 1e-320), 2e-320)
    assert ledger_sum(dust) <= 2e-320


def _exchange() -> tuple[Exchange, Accounts]:
    ledger = Ledger(journal=False)
    acc = Accounts(ledger)
    ledger.mint(acc.protocol.amm, 1_000.0)
    pool = ConstantProductPool(1_000.0, 500.0, 0.003)
    return Exchange(pool, ledger, acc.protocol.amm, acc.protocol.outside), acc


def test_purchases_move_tokens_on_the_ledger_and_keep_the_reserve_in_step() -> None:
    ex, acc = _exchange()
    buyers = acc.register(2, role="consumers", adversary=False, rows=np.arange(2))
    usd = ex.buy_tokens_for(buyers, np.array([10.0, 30.0]))
    np.testing.assert_allclose(ex.ledger.balance[buyers], [10.0, 30.0])
    assert usd[1] == pytest.approx(3 * usd[0]) and ex.price_usd > 0.5
    ex.check()
    greedy = ex.buy_tokens_for(buyers, np.array([5_000.0, 5_000.0]))  # beyond the cap
    assert ex.ledger.balance[buyers].sum() - 40.0 == pytest.approx(
        MAX_EXACT_BUY_SHARE * 960.0, rel=1e-12
    )
    assert greedy.shape == (2,)
    ex.check()


def test_a_reserve_out_of_step_with_the_ledger_is_an_error() -> None:
    ex, _ = _exchange()
    ex.ledger.mint(ex.amm, 1.0)
    with pytest.raises(LedgerError, match="out of step"):
        ex.check()
