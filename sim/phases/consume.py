"""Phase 4 — consume: consumers choose models by accuracy and price, buy the tokens they need
on the AMM and pay per inference; wash consumers pay for queries on their own points. The
fees go to the treasury and the net fee is split (``economics.fees.split_fees``): builder β,
stakers γ, contributors δ (held in escrow until the reward phase), burn φ; the flat
platform fee stays with the treasury. The retrieval trail records which points answered."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ledgerlab.agents.builders import BuilderSet
from ledgerlab.agents.consumers import ConsumerSet
from ledgerlab.agents.farmers import WashSet
from ledgerlab.economics.fees import FeeSplit, split_fees
from ledgerlab.economics.ledger import Ledger
from ledgerlab.sim.accounts import ProtocolAccounts, pay_out
from ledgerlab.sim.exchange import Exchange
from ledgerlab.sim.flows import ConsumptionFlows, DatanetFees, FeeRouting
from ledgerlab.sim.trail import RetrievalTrail
from ledgerlab.sim.world import DatanetState


@dataclass(frozen=True)
class Pricing:
    """What an inference costs, per datanet (tokens): the list fee consumers pay and its
    net part that is split (``sim.build.inference_fees``), and how the net part splits."""

    fee_tokens: np.ndarray
    net_fee_tokens: np.ndarray
    split: FeeSplit


def serve_inferences(
    epoch: int,
    builders: BuilderSet,
    consumers: ConsumerSet,
    wash: WashSet,
    datanets: list[DatanetState],
    pricing: Pricing,
    exchange: Exchange,
    protocol: ProtocolAccounts,
    trail: RetrievalTrail,
    streams: dict[str, np.random.Generator],
) -> ConsumptionFlows:
    """Sell the epoch's inferences and route their fees (see the module docstring).
    Before any model is trained nothing is sold and nothing is routed."""
    b = builders
    led = exchange.ledger
    fees = [DatanetFees.none(s.store.size) for s in datanets]
    if len(b) == 0 or not np.any(b.cols.trained_epoch >= 0):
        return ConsumptionFlows(datanets=fees)  # no model to sell inferences yet
    fee_tok = pricing.fee_tokens[b.cols.datanet] * b.cols.price_factor
    net_tok = pricing.net_fee_tokens[b.cols.datanet] * b.cols.price_factor
    acc = np.where(b.cols.trained_epoch >= 0, b.cols.accuracy, -np.inf)
    price = exchange.price_usd
    dem = consumers.demand(streams["consumers"], acc, fee_tok * price, fee_tok)
    w_rows, w_counts = wash.demand(streams["wash"])
    w_builder = wash.cols.builder[w_rows]
    # Tokens each payer needs, bought on the AMM in one aggregated swap.
    payers = np.concatenate([consumers.cols.account[dem.rows], wash.cols.account[w_rows]])
    due = np.concatenate([dem.cost, w_counts * fee_tok[w_builder]])
    shortfall = np.maximum(due - led.balance[payers], 0.0)
    usd = exchange.buy_tokens_for(payers, shortfall)
    consumers.cols.spent_usd[dem.rows] += usd[: dem.rows.size]
    consumers.cols.inferences[dem.rows] += dem.inferences
    # Pay the fees into the treasury, then route the net part. Rounding in the aggregated
    # swap can leave a payer an ulp short, and a thin market may sell less than was asked
    # for (``Exchange.buy_tokens_for``): each payer pays what it has.
    paid = np.minimum(due, led.balance[payers])
    paying = paid > 0
    led.transfer_many(payers[paying], np.full(int(paying.sum()), protocol.treasury), paid[paying])
    inf_b = dem.by_model.astype(np.float64)
    wash_b = np.bincount(w_builder, weights=w_counts, minlength=len(b))
    scale = paid_fraction(float(paid.sum()), float(due.sum()))
    routing, contrib = route_fees(
        (inf_b + wash_b) * net_tok * scale, pricing.split, b, protocol, led
    )
    indep = split_fees(inf_b * net_tok * scale, pricing.split)["contributors"]
    for d, f in enumerate(fees):
        f.contributors_tokens = float(contrib[b.cols.datanet == d].sum())
        f.independent_tokens = float(indep[b.cols.datanet == d].sum())
    owner_pairs = trail.credit_fees(
        epoch, b, datanets, fees, (inf_b, wash_b, contrib), wash.cols.account, streams["queries"]
    )
    return ConsumptionFlows(
        inferences=float(inf_b.sum()),
        wash_inferences=float(wash_b.sum()),
        fees_tokens=float(paid.sum()),
        n_payers=int(payers.size),
        wash_cost_usd=(w_rows, usd[dem.rows.size :]),
        owner_pairs=owner_pairs,
        routing=routing,
        datanets=fees,
    )


def route_fees(
    net_b: np.ndarray,
    split: FeeSplit,
    builders: BuilderSet,
    protocol: ProtocolAccounts,
    ledger: Ledger,
) -> tuple[FeeRouting, np.ndarray]:
    """Split each builder's net fees (tokens) and pay the parts out of the treasury:
    builder β to the builders, stakers γ pro rata to stake, burn φ, contributors δ into the
    escrow the reward phase pays from. Returns the routing and the contributors' part per
    builder (tokens), as escrowed.

    No part is paid beyond what the treasury holds (each capped in turn, which binds only
    when the treasury is all but empty and the payers were short), so routing can never
    overdraw it."""
    treasury = protocol.treasury
    parts = split_fees(net_b, split)
    builder = pay_out(ledger, treasury, builders.cols.account, parts["builder"])
    builders.cols.fees_tokens[:] += builder
    stakers = float(parts["stakers"].sum())
    stakers_paid = pay_stakers(ledger, treasury, min(stakers, float(ledger.balance[treasury])))
    burn = min(float(parts["burn"].sum()), float(ledger.balance[treasury]))
    ledger.burn(treasury, burn)
    contrib = parts["contributors"]
    total = float(contrib.sum())
    escrowed = min(total, float(ledger.balance[treasury]))
    if escrowed < total:
        contrib = contrib * (escrowed / total)
    ledger.transfer(treasury, protocol.escrow, escrowed)
    routing = FeeRouting(
        builder_income_tokens=float(builder.sum()),
        stakers_fees_tokens=stakers_paid,
        fees_burned_tokens=burn,
    )
    return routing, contrib


def pay_stakers(ledger: Ledger, src: int, tokens: float) -> float:
    """Distribute ``tokens`` from ``src`` to all stakers pro rata to stake; returns what
    was paid."""
    if tokens <= 0:
        return 0.0
    staked = ledger.staked
    stakers = np.flatnonzero(staked > 0)
    if stakers.size == 0:
        return 0.0
    amounts = tokens * staked[stakers] / staked[stakers].sum()
    paid = pay_out(ledger, src, stakers, amounts)
    return tokens if paid is amounts else float(paid.sum())


def paid_fraction(paid_tokens: float, due_tokens: float) -> float:
    """Share of the fees due that payers actually paid: 1 unless they fell short by more
    than rounding (a thin market sold them less than they needed), so routing never
    passes on fees nobody paid."""
    if due_tokens > 0 and paid_tokens < due_tokens * (1.0 - 1e-9):
        return paid_tokens / due_tokens
    return 1.0
