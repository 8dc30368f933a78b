"""Launch: the genesis supply, the AMM's seed liquidity, stakes, and the clean seed data.

Everything here runs once, in ``EconomyModel.__init__``, in a fixed order (the random
draws of the ``setup`` stream depend on it): mint the allocation into locked buckets and
unlock the TGE shares (:func:`mint_genesis`), seed the AMM from the liquidity bucket
(:func:`open_market`), give every datanet its seed points (:func:`seed_datanets`), then
launch the population (:func:`launch_population`, which stakes the launch stakes,
:func:`fund_stakes`). The seed points come before the population so that they do not
depend on who launches: an honest_only twin (``sim.twins``) gets the world's seed data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ledgerlab.agents.builders import BuilderSet
from ledgerlab.agents.holders import HolderSet
from ledgerlab.agents.validators import ValidatorSet
from ledgerlab.economics.ledger import Ledger
from ledgerlab.economics.market import ConstantProductPool
from ledgerlab.scenarios import Scenario
from ledgerlab.sim import build
from ledgerlab.sim import datanet as dn
from ledgerlab.sim.accounts import Accounts
from ledgerlab.sim.build import ModelSetupError
from ledgerlab.sim.exchange import Exchange
from ledgerlab.sim.phases.market import VestingBook
from ledgerlab.sim.world import DatanetState

if TYPE_CHECKING:
    from ledgerlab.sim.roles import Roles

MIN_POOL_K = 1e-100
"""Smallest product k of the AMM's launch reserves (tokens·USD) the model accepts. k never
decreases; the price is cash² / k and the token reserve k / cash, so k bounds both: with
cash reserves up to ~1e65 USD (``sim.build.MAX_FLOW_TREND_USD``) the price stays below
~1e230 USD/token and the reserve above ~1e-165 tokens, finite and positive float64. A
smaller k (e.g. ``pool_liquidity_usd`` 1e-60 at 1e9 USD/token) is a ``ModelSetupError``."""


def mint_genesis(scenario: Scenario, accounts: Accounts, holders: HolderSet) -> VestingBook:
    """Mint the genesis supply into locked vesting buckets (the holders' buckets opening
    their individuals) and unlock the TGE shares, so the AMM can be seeded before epoch 0;
    the epochs then unlock the linear parts (``unlocked_tokens`` excludes the TGE)."""
    tk = scenario.tokenomics
    ledger = accounts.ledger
    schedule = build.vesting(tk)
    bucket_accounts: list[np.ndarray] = []
    for i, b in enumerate(tk.vesting):
        amount = b.share * tk.total_supply_tokens
        if b.recipient == "holders":
            rows = holders.add(b.holders, bucket=i)
            accts = holders.cols.account[rows]
        elif b.recipient == "reward_pool":
            accts = np.array([accounts.protocol.reward_pool], dtype=np.int64)
        else:  # liquidity: the treasury provides the AMM's token reserve
            accts = np.array([accounts.protocol.treasury], dtype=np.int64)
        ledger.mint_locked_many(accts, np.full(accts.size, amount / accts.size))
        bucket_accounts.append(accts)
    holders.founders = len(holders)
    book = VestingBook(schedule, bucket_accounts, np.zeros(len(tk.vesting)))
    tge = np.array([b.tge_tokens for b in schedule.buckets])
    for i, accts in enumerate(bucket_accounts):  # a handful of buckets
        if tge[i] > 0:
            ledger.unlock_many(accts, np.full(accts.size, tge[i] / accts.size))
            book.unlocked_tokens[i] = tge[i]
    return book


def open_market(scenario: Scenario, accounts: Accounts, holders: HolderSet) -> Exchange:
    """Seed the AMM from the treasury's unlocked liquidity at the scenario's launch price,
    then stake the holders' launch stake (``tokenomics.staking``)."""
    mk = scenario.market
    ledger = accounts.ledger
    treasury, amm = accounts.protocol.treasury, accounts.protocol.amm
    reserve_tokens = mk.pool_liquidity_usd / mk.initial_price_usd
    available = float(ledger.balance[treasury])
    if reserve_tokens > available:
        raise ModelSetupError(
            f"the AMM needs {reserve_tokens:,.0f} tokens (market.pool_liquidity_usd / "
            f"market.initial_price_usd) but the liquidity bucket unlocks only "
            f"{available:,.0f} at launch; lower pool_liquidity_usd or raise the "
            "liquidity bucket's share or tge_fraction"
        )
    if not reserve_tokens * mk.pool_liquidity_usd >= MIN_POOL_K:
        raise ModelSetupError(
            f"the AMM's reserves ({reserve_tokens!r} tokens and "
            f"{mk.pool_liquidity_usd!r} USD) are too small to trade in float64 (their "
            f"product must be at least {MIN_POOL_K:g}); raise market.pool_liquidity_usd "
            "or lower market.initial_price_usd"
        )
    ledger.transfer(treasury, amm, reserve_tokens)
    pool = ConstantProductPool(reserve_tokens, mk.pool_liquidity_usd, mk.amm_fee)
    frac = scenario.tokenomics.staking.initial_staked_fraction
    if frac > 0 and len(holders):
        accts = holders.cols.account
        ledger.stake_many(accts, ledger.balance[accts] * frac)
    return Exchange(pool, ledger, amm, accounts.protocol.outside)


def fund_stakes(
    scenario: Scenario,
    ledger: Ledger,
    treasury: int,
    builders: BuilderSet,
    validators: ValidatorSet,
) -> None:
    """Builders and validators receive their stake from the treasury and stake it."""
    pop = scenario.population
    accts = np.concatenate([builders.cols.account, validators.cols.account])
    amounts = np.concatenate(
        [
            np.full(len(builders), pop.builder_stake_tokens),
            np.full(len(validators), pop.validator_stake_tokens),
        ]
    )
    need = float(amounts.sum())
    have = float(ledger.balance[treasury])
    if need > have:
        raise ModelSetupError(
            f"builders and validators stake {need:,.0f} tokens but the treasury holds "
            f"{have:,.0f} after seeding the AMM; lower the stakes or the AMM liquidity"
        )
    if need > 0:
        ledger.transfer_many(np.full(accts.size, treasury), accts, amounts)
        ledger.stake_many(accts, amounts)


def seed_datanets(datanets: list[DatanetState], treasury: int, rng: np.random.Generator) -> None:
    """Each datanet starts with clean seed points owned by the protocol treasury (drawn
    from ``rng`` before the launch population draws from it)."""
    for state in datanets:
        n = state.spec.seed_points
        if n:
            batch = dn.honest(state.task, np.full(n, treasury), 1.0, rng)
            state.store.append(batch, epoch=0)
        state.sync_columns()


def launch_population(
    scenario: Scenario, roles: Roles, accounts: Accounts, rng: np.random.Generator
) -> None:
    """The individuals present at launch, in a fixed order: builders, validators (then the
    builders' and validators' stakes), providers (with their onboarding grants), consumers,
    farmers (sybil operators fund their identities), wash consumers, poisoners."""
    pop = scenario.population
    roles.builders.populate(rng)
    roles.validators.populate(rng)
    fund_stakes(
        scenario, accounts.ledger, accounts.protocol.treasury, roles.builders, roles.validators
    )
    rows = roles.providers.spawn(pop.providers, rng)
    accounts.onboard(roles.providers.cols.account[rows])
    roles.providers.founders = pop.providers
    roles.consumers.populate(rng)
    roles.farmers.populate(rng)
    roles.wash.spawn(pop.farmers.wash, rng)
    roles.wash.founders = pop.farmers.wash
    roles.poisoners.populate(rng)
