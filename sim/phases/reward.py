"""Phase 5 — attribute & reward: the engine under test values each datanet's points (on its
cadence; per-inference engines use this epoch's retrieval credit), the defences adjust the
per-account weights, and the contributors' fee escrow plus the epoch's emission is paid out
by positive weight (``economics.fees.contributor_payouts``). Bonds whose challenge window
ends are settled; the ground truth splits what was paid by true value (the fair rewards)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
    contributors' fees plus its share of the emission (by fees, or equal without fees) —
    is split by the positive part of its per-account weights."""
    led = accounts.ledger
    emitted = emit(epoch, emission, led, accounts.protocol.reward_pool)
    n_acct = led.n_accounts
    fees = consumption.datanets
    fees_total = consumption.contributors_tokens
    paid = np.zeros(n_acct)
    weights_by_datanet: list[np.ndarray] = []
    pools = np.zeros(len(datanets))
    for d, (state, f) in enumerate(zip(datanets, fees, strict=True)):
        share = (
            f.contributors_tokens / fees_total if fees_total > 0 else 1.0 / max(len(datanets), 1)
        )
        values = engine_values(epoch, state, f, engine, attribution, rng)
        value = attr.per_owner(values, state.store.owner[: values.shape[0]], n_acct)
        value[accounts.protocol.ids] = 0.0
        weights = defenses.adjust_weights(np.maximum(value, 0.0))
        weights_by_datanet.append(weights)
        pools[d] = f.contributors_tokens + emitted * share
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
        if truth.due(epoch):
            truth.measure_honest_only(epoch, datanets, accounts)
    return RewardFlows(
        emission_tokens=emitted,
        paid_tokens=paid,
        total_tokens=total,
        recipients=recipients,
        by_role_tokens=by_role,
        fair_tokens=fair,
    )


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


def emit(epoch: int, emission: Emission, ledger: Any, reward_pool: int) -> float:
    """Tokens added to the rewards this epoch: minted into the reward pool, or (a pool
    drip) paid out of its balance, at most what it holds."""
    amount = emission.schedule.emitted(epoch)
    if emission.from_pool:
        return float(min(amount, ledger.balance[reward_pool]))
    amount = float(amount)
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
