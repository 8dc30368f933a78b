"""Phase 4 — consume: consumers choose models by accuracy and price, buy the tokens they need
on the AMM and pay per inference; wash consumers pay for queries on their own points. The
fees go to the treasury and the net fee is split (``economics.fees.split_fees``): builder β,
stakers γ, contributors δ (held in escrow until the reward phase), burn φ; the flat
platform fee stays with the treasury. The retrieval trail records which points answered.

Consumers choose among the models for sale (trained, by active builders) and the outside
option (``market.outside_option``, paid in USD off the ledger) by one multinomial logit on
accuracy and USD price; each consumer then scores the service it got against the outside
option (``ConsumerSet.record_service``, on the gravity stream), which decides in the churn
phase whether it stays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ledgerlab.agents.builders import BuilderSet
from ledgerlab.agents.consumers import ConsumerSet, Demand, OutsideOffer
from ledgerlab.agents.farmers import WashSet
from ledgerlab.economics.demand import OutsideOption
from ledgerlab.economics.fees import FeeSplit, split_fees
from ledgerlab.economics.ledger import Ledger
from ledgerlab.sim.accounts import ProtocolAccounts, pay_out
from ledgerlab.sim.exchange import Exchange
from ledgerlab.sim.flows import ConsumptionFlows, DatanetFees, FeeRouting
from ledgerlab.sim.streams import substream
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
    outside_option: OutsideOption | None = None,
    demand_factor: float = 1.0,
) -> ConsumptionFlows:
    """Sell the epoch's inferences and route their fees (see the module docstring).
    Before any model is for sale nothing is sold on the network and nothing is routed;
    consumers may still buy the outside option. ``demand_factor`` multiplies every
    consumer's demand (``MarketFlows.demand_multiplier``: scheduled demand shocks)."""
    b = builders
    led = exchange.ledger
    fees = [DatanetFees.none(s.store.size) for s in datanets]
    offer = outside_offer(outside_option, epoch)
    for_sale = (b.cols.trained_epoch >= 0) & b.cols.active
    if not for_sale.any():  # no model to sell inferences (yet, or any more)
        return outside_only(b, consumers, fees, offer, streams, demand_factor)
    fee_tok = pricing.fee_tokens[b.cols.datanet] * b.cols.price_factor
    net_tok = pricing.net_fee_tokens[b.cols.datanet] * b.cols.price_factor
    acc = np.where(for_sale, b.cols.accuracy, -np.inf)
    price = exchange.price_usd
    dem = choose(consumers, acc, fee_tok * price, fee_tok, offer, streams, demand_factor)
    w_rows, w_counts = wash.demand(streams["wash"])
    live = b.cols.active[wash.cols.builder[w_rows]]  # a builder who left sells nothing
    w_rows, w_counts = w_rows[live], w_counts[live]
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
    net_b = (inf_b + wash_b) * net_tok * scale
    builder_fees_before = b.cols.fees_tokens.copy()
    routing, contrib = route_fees(net_b, pricing.split, b, protocol, led)
    organic_net = inf_b * net_tok * scale
    indep = split_fees(organic_net, pricing.split)["contributors"]
    for d, f in enumerate(fees):
        f.contributors_tokens = float(contrib[b.cols.datanet == d].sum())
        f.independent_tokens = float(indep[b.cols.datanet == d].sum())
    owner_pairs = credit_queries(
        epoch, b, datanets, fees, (inf_b, wash_b, contrib), wash, trail, streams["queries"]
    )
    return ConsumptionFlows(
        inferences=float(inf_b.sum()),
        wash_inferences=float(wash_b.sum()),
        fees_tokens=float(paid.sum()),
        organic_fees_tokens=float(paid[: dem.rows.size].sum()),
        organic_stakers_fees_tokens=organic_part(
            routing.stakers_fees_tokens, float(organic_net.sum()), float(net_b.sum())
        ),
        n_payers=int(payers.size),
        wash_cost_usd=(w_rows, usd[dem.rows.size :]),
        owner_pairs=owner_pairs,
        routing=routing,
        datanets=fees,
        **gravity_flows(dem, acc.size, offer),
        builder_fees_tokens=b.cols.fees_tokens - builder_fees_before,
    )


def outside_offer(option: OutsideOption | None, epoch: int) -> OutsideOffer | None:
    """The outside option consumers can buy at ``epoch`` (its scheduled changes applied),
    or None when the scenario has none."""
    if option is None or not option.enabled:
        return None
    accuracy, price_usd = option.at(epoch)
    return OutsideOffer(accuracy, price_usd)


def choose(
    consumers: ConsumerSet,
    accuracy: np.ndarray,
    price_usd: np.ndarray,
    cost_tokens: np.ndarray,
    offer: OutsideOffer | None,
    streams: dict[str, np.random.Generator],
    demand_factor: float = 1.0,
) -> Demand:
    """The consumers' choice among the models (accuracy, USD price, token cost each) and
    the outside option (consumers' stream); with an outside option, each consumer then
    scores the service it got against it (gravity stream)."""
    dem = consumers.demand(
        streams["consumers"], accuracy, price_usd, cost_tokens, offer, demand_factor
    )
    consumers.cols.outside_inferences[dem.rows] += dem.outside
    if offer is not None and consumers.params.adoption.enabled:
        service_rng = substream(streams["gravity"], SERVICE_KEY)  # apart from arrivals
        consumers.record_service(service_rng, dem, accuracy, price_usd, offer)
    return dem


SERVICE_KEY = 0
"""Key of the gravity stream's substream the consumers score their service on (role codes
key the arrivals' and builders' substreams, ``sim.phases.churn.gravity``; 0 is the
protocol's code, which draws nothing there)."""


def credit_queries(
    epoch: int,
    builders: BuilderSet,
    datanets: list[DatanetState],
    fees: list[DatanetFees],
    demand: tuple[np.ndarray, np.ndarray, np.ndarray],
    wash: WashSet,
    trail: RetrievalTrail,
    rng: np.random.Generator,
) -> float:
    """``RetrievalTrail.credit_fees`` for independent and wash queries apart, each sort with
    its share of the contributor fees and its own substream of the queries' stream (0
    independent, 1 wash): the independent consumers' queries do not depend on the wash
    consumers' (common random numbers, ``sim.twins``). Returns the owner pairs credited."""
    inf_b, wash_b, contrib = demand
    total = inf_b + wash_b
    zero = np.zeros_like(total)
    pairs = 0.0
    for key, (indep, washed) in enumerate(((inf_b, zero), (zero, wash_b))):
        part = np.divide(contrib * (indep + washed), total, out=zero.copy(), where=total > 0)
        sort = (indep, washed, part)
        q_rng = substream(rng, key)
        pairs += trail.credit_fees(epoch, builders, datanets, fees, sort, wash.cols.account, q_rng)
    return pairs


def gravity_flows(dem: Demand, n_models: int, offer: OutsideOffer | None) -> dict[str, float]:
    """What the consumers' choice moved to the outside option: its inferences, the
    network's logit share and the outside option's price (``ConsumptionFlows``)."""
    if offer is None:
        return {"outside_inferences": 0.0, "network_share": 1.0}
    share = float(dem.probs[:n_models].sum()) if dem.probs.size else 0.0
    return {
        "outside_inferences": float(dem.outside.sum()),
        "network_share": share,
        "outside_price_usd": offer.price_usd,
    }


def outside_only(
    builders: BuilderSet,
    consumers: ConsumerSet,
    fees: list[DatanetFees],
    offer: OutsideOffer | None,
    streams: dict[str, np.random.Generator],
    demand_factor: float = 1.0,
) -> ConsumptionFlows:
    """An epoch with no model for sale: consumers can buy only the outside option (none
    without one); nothing is paid on the ledger or routed."""
    if offer is None:
        return ConsumptionFlows(datanets=fees, builder_fees_tokens=np.zeros(len(builders)))
    zero = np.zeros(len(builders))
    dem = choose(
        consumers, np.full(len(builders), -np.inf), zero, zero, offer, streams, demand_factor
    )
    return ConsumptionFlows(
        datanets=fees,
        builder_fees_tokens=np.zeros(len(builders)),
        **gravity_flows(dem, len(builders), offer),
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


def organic_part(tokens: float, organic_net_tokens: float, net_tokens: float) -> float:
    """The part of a fee share paid out (``tokens``) that came from independent consumers:
    pro rata to their part of the net fees (the split is linear, so this is exact; 0 when
    no net fee was routed)."""
    if net_tokens <= 0:
        return 0.0
    return tokens * min(organic_net_tokens / net_tokens, 1.0)


def paid_fraction(paid_tokens: float, due_tokens: float) -> float:
    """Share of the fees due that payers actually paid: 1 unless they fell short by more
    than rounding (a thin market sold them less than they needed), so routing never
    passes on fees nobody paid."""
    if due_tokens > 0 and paid_tokens < due_tokens * (1.0 - 1e-9):
        return paid_tokens / due_tokens
    return 1.0
