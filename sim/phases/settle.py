"""Phase 6 — settle: the epoch's transactions go through the simpy chain. Gas (base fee +
tip) is sponsored by the protocol treasury (a paymaster), falling back to the reward pool;
the base fee is burned and tips go to validators by stake."""

from __future__ import annotations

from ledgerlab.agents.validators import ValidatorSet
from ledgerlab.economics.attribution import EngineSpec
from ledgerlab.economics.ledger import Ledger
from ledgerlab.sim.accounts import ProtocolAccounts, pay_out
from ledgerlab.sim.chain import Chain
from ledgerlab.sim.flows import EpochFlows, SettlementFlows

MAX_TX_PER_KIND_PER_EPOCH = 2**40
"""Most transactions of one kind (inference, payout, swap, submission, defence) the chain
is handed per epoch (~1.1e12, orders of magnitude beyond any chain's throughput). Five
kinds over the schema's longest horizon (1e5 epochs) then keep the chain's int64 backlog
(< 5.5e17) and its float64 per-bucket counts (< 2^53) exact."""


def settle_transactions(
    flows: EpochFlows,
    chain: Chain | None,
    engine: EngineSpec,
    ledger: Ledger,
    protocol: ProtocolAccounts,
    validators: ValidatorSet,
) -> SettlementFlows | None:
    """Send the epoch's transactions through the chain and pay its gas (None: no chain)."""
    if chain is None:
        return None
    txs = transactions(flows, chain.params.payout_policy, engine)
    stats = chain.settle(flows.epoch, txs)
    unpaid = pay_gas(stats.base_fee_burned_tokens, stats.tips_tokens, ledger, protocol, validators)
    return SettlementFlows(stats=stats, payout_tx=txs["payout"], gas_unpaid_tokens=unpaid)


def transactions(flows: EpochFlows, payout_policy: str, engine: EngineSpec) -> dict[str, int]:
    """The epoch's transactions by kind. Payouts: one claim per recipient (``batch``), or
    one transfer per inference and contributor (``stream``: the retrieval trail's
    (inference, owner) pairs for a per-inference engine, else every recipient per
    inference)."""
    c = flows.consumption
    r = flows.rewards
    assert c is not None and r is not None and flows.contribution is not None
    n_payout = float(r.recipients)
    if payout_policy == "stream":
        n_payout = c.owner_pairs if engine.per_inference else c.inferences * n_payout
    return {
        "inference": tx_count(c.inferences + c.wash_inferences),
        "payout": tx_count(n_payout),
        "swap": tx_count(c.n_payers),
        "submission": tx_count(flows.contribution.n_submissions),
        "defense": tx_count(flows.defense.tx),  # bonds posted (phase 2) and settled (5)
    }


def pay_gas(
    burn_tokens: float,
    tips_tokens: float,
    ledger: Ledger,
    protocol: ProtocolAccounts,
    validators: ValidatorSet,
) -> float:
    """Pay the epoch's gas from the treasury, then the reward pool: the base fee is burned,
    tips go to validators by stake (burned without stake). Returns what neither could pay
    (tokens)."""
    burn, tips = burn_tokens, tips_tokens
    need = burn + tips
    for src in (protocol.treasury, protocol.reward_pool):
        if need <= 0:
            break
        take = min(need, float(ledger.balance[src]))
        b_part = min(burn, take)
        if b_part > 0:
            ledger.burn(src, b_part)
        t_part = take - b_part
        if t_part > 0:
            pay_tips(ledger, src, t_part, validators)
        burn -= b_part
        tips -= t_part
        need -= take
    return max(need, 0.0)


def pay_tips(ledger: Ledger, src: int, tokens: float, validators: ValidatorSet) -> None:
    """Tips to validators pro rata to stake; burned if nobody stakes."""
    stake = ledger.staked[validators.cols.account]
    if stake.sum() <= 0:
        ledger.burn(src, tokens)
        return
    pay_out(ledger, src, validators.cols.account, tokens * stake / stake.sum())


def tx_count(value: float) -> int:
    """A number of transactions of one kind in one epoch, for the chain: ``value``
    rounded, bounded to [0, :data:`MAX_TX_PER_KIND_PER_EPOCH`] *before* the int cast (a
    count derived from floats, e.g. inferences × payout recipients under the ``stream``
    policy, must not reach the chain's int64 arithmetic unbounded); NaN counts 0."""
    v = float(value)
    if not v > 0:  # also NaN
        return 0
    return round(min(v, float(MAX_TX_PER_KIND_PER_EPOCH)))
