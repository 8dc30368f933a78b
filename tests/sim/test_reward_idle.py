"""The reward phase's shortcuts for a world with nothing to pay: a zero emission routes
nothing without reading the ledger, and a world without datanets shares one read-only
array of zeros for its per-account rewards."""

from __future__ import annotations

import numpy as np
import pytest

from ledgerlab.economics.ledger import Ledger
from ledgerlab.sim.accounts import Accounts
from ledgerlab.sim.model import EconomyModel
from ledgerlab.sim.phases.reward import no_reward_tokens, route_emission


def _world() -> Accounts:
    """Three holders, two of them staking, and a funded reward pool."""
    acc = Accounts(Ledger(capacity=8, journal=False))
    ids = acc.register(3, role="holders", adversary=False, rows=np.arange(3))
    led = acc.ledger
    led.mint_many(ids, np.array([10.0, 20.0, 30.0]))
    led.stake_many(ids, np.array([0.0, 5.0, 7.0]))
    led.mint(acc.protocol.reward_pool, 1_000.0)
    return acc


@pytest.mark.parametrize("routing", ["auto", "stakers", "holders", "reward_pool"])
def test_a_zero_emission_routes_nothing_and_moves_nothing(routing: str) -> None:
    acc = _world()
    led = acc.ledger
    before = (led.balance.copy(), led.staked.copy(), led.supply)
    out = route_emission(0.0, routing, acc)
    assert out.total_tokens == 0.0 and out.recipients == 0 and out.paid_tokens.size == 0
    np.testing.assert_array_equal(led.balance, before[0])
    np.testing.assert_array_equal(led.staked, before[1])
    assert led.supply == before[2]
    smallest = route_emission(5e-324, routing, acc)  # the general path just above zero
    assert (smallest.paid_tokens.size > 0) == (routing != "reward_pool")


def test_no_reward_tokens_are_shared_read_only_zeros() -> None:
    a, b = no_reward_tokens(7), no_reward_tokens(7)
    assert a is b and a.shape == (7,) and a.dtype == np.float64 and not a.any()
    with pytest.raises(ValueError):
        a[0] = 1.0
    assert no_reward_tokens(8).shape == (8,)


def test_a_world_without_datanets_pays_no_contributor_reward() -> None:
    model = EconomyModel(
        "tokenomics_only",
        epochs=6,
        **{
            "tokenomics.vesting.airdrop.holders": 20,
            "tokenomics.vesting.investors.holders": 4,
            "tokenomics.vesting.team.holders": 3,
        },
    )
    while model.running:
        model.step()
        r = model.flows.rewards
        n = model.ledger.n_accounts
        for arr in (r.paid_tokens, r.fair_tokens):
            np.testing.assert_array_equal(arr, np.zeros(n))
        assert r.total_tokens == 0.0 and set(r.by_role_tokens.values()) == {0.0}
