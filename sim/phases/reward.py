"""Phase 5 — attribute & reward: the engine under test values each datanet's points (on its
cadence; per-inference engines use this epoch's retrieval credit), the defences adjust the
per-account weights, and the contributors' fee escrow plus the epoch's emission is paid out
by positive weight (``economics.fees.contributor_payouts``). Bonds whose challenge window
ends are settled; the ground truth splits what was paid by true value (the fair rewards)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ledgerlab.agents.base import RoleSet
from ledgerlab.economics import attribution as attr
from ledgerlab.economics.attribution import EngineSpec
from ledgerlab.economics.fees import contributor_payouts
from ledgerlab.scenarios.schema import Attribution
from ledgerlab.sim.accounts import Accounts, pay_out
from ledgerlab.sim.build import Emission
from ledgerlab.sim.defenses import DefensePipeline
from ledgerlab.sim.exchange import Exchange
from ledgerlab.sim.fairness import GroundTruth
from ledgerlab.sim.flows import ConsumptionFlows, DatanetFees, DefenseFlows, RewardFlows
from ledgerlab.sim.world import DatanetState


def attribute_and_pay(
    epoch: int,
    datanets: list[DatanetState],
    consumption: ConsumptionFlows,
    engine: EngineSpec,
    attribution: Attribution,
    emission: Emission,
    defenses: DefensePipeline,
    accounts: Accounts,
    exchange: Exchange,
    contributors: Sequence[RoleSet],
    truth: GroundTruth | None,
    rng: np.random.Generator,
    defense_flows: DefenseFlows,
) -> RewardFlows:
    """Value, weigh and pay (see the module docstring). Each datanet's pool — its
    contributors' fees plus its share of the emission (by independent consumers' fees, so
    wash fees cannot pull it; equal without them) — is split by the positive part of its
    per-account weights. In an epoch with no active contributor, or in a world without
    datanets, the emission is routed instead (:func:`route_emission`)."""
    led = accounts.ledger
    emitted = emit(epoch, emission, led, accounts.protocol.reward_pool)
    routed = None
    if not datanets or not any(rs.n_active for rs in contributors):
        routed = route_emission(emitted, emission.without_contributors, accounts)
        if not datanets:  # a tokenomics-only world: nothing to value, nobody contributes
            defenses.after_rewards(exchange.price_usd, defense_flows)
            return without_data(emitted, routed, led.n_accounts, contributors)
    to_contributors = 0.0 if routed is not None else emitted
    n_acct = led.n_accounts
    fees = consumption.datanets
    organic_total = consumption.organic_contributors_tokens  # wash fees do not steer emission
    paid = np.zeros(n_acct)
    weights_by_datanet: list[np.ndarray] = []
    pools = np.zeros(len(datanets))
    for d, (state, f) in enumerate(zip(datanets, fees, strict=True)):
        share = (
            f.independent_tokens / organic_total
            if organic_total > 0
            else 1.0 / max(len(datanets), 1)
        )
        values = engine_values(epoch, state, f, engine, attribution, rng)
        value = attr.per_owner(values, state.store.owner[: values.shape[0]], n_acct)
        value[accounts.protocol.ids] = 0.0
        weights = defenses.adjust_weights(np.maximum(value, 0.0))
        weights_by_datanet.append(weights)
        pools[d] = f.contributors_tokens + to_contributors * share
        paid += contributor_payouts(pools[d], weights)

    def independent(n: int) -> np.ndarray:
        return independent_contributor_fees(n, datanets, fees, weights_by_datanet, engine)

    paid = defenses.cap_rewards(paid, defense_flows, independent)
    total, recipients = pay_rewards(paid, led, accounts)
    accounts.cols.reward_tokens[:n_acct] += paid
    for rs in contributors:
        rs.cols.reward_tokens[:] += paid[rs.cols.account]
    by_role = {
        rs.role: float(paid[accounts.of_role(rs.role)[:n_acct]].sum()) for rs in contributors
    }
    defenses.after_rewards(exchange.price_usd, defense_flows)
    fair = np.zeros(n_acct)
    if truth is not None:
        pool_share = pools / pools.sum() if pools.sum() > 0 else np.zeros_like(pools)
        fair = truth.split_rewards(total, pool_share, datanets, accounts)[:n_acct]
    return RewardFlows(
        emission_tokens=emitted,
        paid_tokens=paid,
        total_tokens=total,
        recipients=recipients + (routed.recipients if routed is not None else 0),
        by_role_tokens=by_role,
        fair_tokens=fair,
        routed_tokens=routed.total_tokens if routed is not None else 0.0,
    )


def without_data(
    emitted: float, routed: RoutedEmission, n_acct: int, contributors: Sequence[RoleSet]
) -> RewardFlows:
    """The reward flows of a world without datanets: no contributor reward, the emission
    routed. Nobody is paid, so the per-account arrays are one read-only array of zeros
    shared from epoch to epoch (:func:`no_reward_tokens`; the flows are only read)."""
    nothing = no_reward_tokens(n_acct)
    return RewardFlows(
        emission_tokens=emitted,
        paid_tokens=nothing,
        total_tokens=0.0,
        recipients=routed.recipients,
        by_role_tokens=dict.fromkeys((rs.role for rs in contributors), 0.0),
        fair_tokens=nothing,
        routed_tokens=routed.total_tokens,
    )


@functools.lru_cache(maxsize=4)
def no_reward_tokens(n_acct: int) -> np.ndarray:
    """Zero tokens for each of ``n_acct`` accounts, read-only (a write raises rather than
    change a later epoch's flows), made once per number of accounts: a tokenomics-only
    epoch need not allocate two arrays over its 10,000 holders."""
    nothing = np.zeros(n_acct)
    nothing.flags.writeable = False
    return nothing


def pay_rewards(paid: np.ndarray, ledger: Any, accounts: Accounts) -> tuple[float, int]:
    """Pay ``paid`` (tokens per account, updated to what was paid) from the fee escrow
    first, then the reward pool, scaled down pro rata if both together hold less. Returns
    the total to pay and the number of recipients."""
    escrow, pool = accounts.protocol.escrow, accounts.protocol.reward_pool
    fee_pool = float(ledger.balance[escrow])
    emission_pool = float(ledger.balance[pool])
    total = float(paid.sum())
    if total > fee_pool + emission_pool:
        paid *= (fee_pool + emission_pool) / total
        total = float(paid.sum())
    recipients = np.flatnonzero(paid > 0)
    from_fees = min(total, fee_pool)
    if recipients.size:
        amounts = paid[recipients]
        fee_part = pay_out(ledger, escrow, recipients, amounts * (from_fees / total))
        rest = pay_out(ledger, pool, recipients, amounts - fee_part)
        paid[recipients] = fee_part + rest
    return total, int(recipients.size)


class RoutedEmission(NamedTuple):
    """Emission paid without contributors (:func:`route_emission`).

    Attributes:
        paid_tokens: What each account received (tokens, per account id; empty if none).
        total_tokens: Their sum (tokens).
        recipients: Accounts that received a positive amount.
    """

    paid_tokens: np.ndarray
    total_tokens: float
    recipients: int


def route_emission(emitted_tokens: float, routing: str, accounts: Accounts) -> RoutedEmission:
    """Pay an epoch's emission when no contributor is active, as
    ``tokenomics.emission.without_contributors`` says: to the stakers pro rata to stake,
    to the individuals (every account of a role, the outside market excluded) pro rata to
    liquid balance, or keep it in the reward pool; ``auto`` = stakers if anyone stakes,
    else holders. Paid out of the reward pool (which ``emit`` filled or drips from), into
    liquid balances, in one vectorised transfer; nothing leaves the pool when nobody
    qualifies. It is not an attribution reward: the registry's ``reward_tokens`` (what
    contributors earned) is not credited."""
    if not emitted_tokens > 0:  # nothing to route, whatever the pool holds (see below)
        return RoutedEmission(np.zeros(0), 0.0, 0)
    led = accounts.ledger
    n_acct = led.n_accounts
    amount = min(emitted_tokens, float(led.balance[accounts.protocol.reward_pool]))
    if routing == "reward_pool" or not amount > 0:  # the emission stays where emit put it
        return RoutedEmission(np.zeros(0), 0.0, 0)
    if routing == "auto":
        routing = "stakers" if led.stakers().total_tokens > 0 else "holders"
    if routing == "stakers":
        w = led.stakers()  # who stakes changes far less often than each epoch
        recipients, weight_total, weights = w.accounts, w.total_tokens, w.staked_tokens
    else:
        held = np.where(accounts.cols.role[:n_acct] != 0, led.balance[:n_acct], 0.0)
        weight_total = float(held.sum())
        recipients = np.flatnonzero(held)
        weights = held[recipients]
    if not weight_total > 0:
        return RoutedEmission(np.zeros(0), 0.0, 0)
    share = weights * (amount / weight_total)
    out = pay_out(led, accounts.protocol.reward_pool, recipients, share)
    paid = np.zeros(n_acct)
    paid[recipients] = out
    n_paid = int(np.count_nonzero(out))  # dust can round to nothing
    return RoutedEmission(paid, float(out.sum()), n_paid)


def emit(epoch: int, emission: Emission, ledger: Any, reward_pool: int) -> float:
    """Tokens added to the rewards this epoch: minted into the reward pool, or (a pool
    drip) paid out of its balance, at most what it holds. The schedule's value is read
    from its per-block table (``EmissionSchedule.emitted_at``: the same bits as
    ``emitted(epoch)``, without an array call per epoch)."""
    amount = emission.schedule.emitted_at(epoch)
    if emission.from_pool:
        return float(min(amount, ledger.balance[reward_pool]))
    if amount > 0:
        ledger.mint(reward_pool, amount)
    return amount


def engine_values(
    epoch: int,
    state: DatanetState,
    fees: DatanetFees,
    engine: EngineSpec,
    attribution: Attribution,
    rng: np.random.Generator,
) -> np.ndarray:
    """Per-point values of the engine under test, aligned with the datanet's rows: this
    epoch's retrieval credit for a per-inference engine, else the latest valuation —
    re-run every epoch for engines without a utility, else every
    ``attribution.every_epochs``."""
    if engine.per_inference:
        return fees.credit[: state.store.size]
    rows = state.training_rows()
    a = attribution
    due = (
        not engine.needs_utility
        or state.valued_epoch < 0
        or epoch - state.valued_epoch >= a.every_epochs
    )
    if due and rows.size:
        st = state.store
        util = None
        if engine.needs_utility:
            n_test = min(a.test_points, state.x_val.shape[0])
            util = attr.Utility(
                state.x_val[:n_test],
                state.y_val[:n_test],
                model=engine.model_kind or state.spec.model,
                k=a.k,
                n_classes=state.spec.n_classes,
            )
        opts = {engine.budget_option: a.budget} if engine.budget_option else {}
        vals = attr.compute(a.engine, st.x[rows], st.y[rows], st.owner[rows], util, rng=rng, **opts)
        state.values[:] = 0.0
        state.values[rows] = vals
        state.valued_epoch = epoch
    return state.values[: state.store.size]


def independent_contributor_fees(
    n: int,
    datanets: list[DatanetState],
    fees: list[DatanetFees],
    weights: list[np.ndarray],
    engine: EngineSpec,
) -> np.ndarray:
    """Per account: the contributor share of fees paid by independent consumers that
    attribution credited to it this epoch (tokens) — the wash guard's base. A
    per-inference engine credits per inference; others spread the independent fees by
    their weights."""
    out = np.zeros(n)
    for state, f, w_all in zip(datanets, fees, weights, strict=True):
        if engine.per_inference:
            owners = state.store.owner
            out += attr.per_owner(f.credit_independent[: owners.size], owners, n)[:n]
        elif w_all.sum() > 0:
            w = w_all[:n]
            out[: w.size] += f.independent_tokens * w / w.sum()
    return out
