"""Phase 7 — churn: each contributing role set books this epoch's income (rewards at the
current price, USD) and cost (production cost, wash consumers' fees, slashed bonds, USD);
then individuals leave or join by their return on cost (``RoleSet.churn``). New honest
providers receive the protocol's onboarding grant.

Adversaries also pay the validators they collude with (:func:`pay_bribes`, before the
booking) and, with ``population.adaptation``, review their strategies after the churn rule
(:func:`adapt_adversaries`, ``agents.adaptive``).

Behavioural gravity (:func:`gravity`): consumers leave when the outside option served them
better and arrive by Bass diffusion; builders enter and leave a datanet by fee income
against compute cost."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ledgerlab.agents.adaptive import AdversarySet
from ledgerlab.agents.base import ROLE_NAMES, RoleSet
from ledgerlab.agents.builders import BuilderSet
from ledgerlab.agents.consumers import ConsumerSet
from ledgerlab.agents.farmers import WashSet
from ledgerlab.agents.validators import ValidatorSet
from ledgerlab.economics.demand import bass_expected_arrivals
from ledgerlab.scenarios.schema import Adoption, Population
from ledgerlab.sim.accounts import Accounts
from ledgerlab.sim.flows import ChurnFlows, EpochFlows
from ledgerlab.sim.phases.consume import Pricing
from ledgerlab.sim.streams import substream


def churn_roles(
    flows: EpochFlows,
    contributors: Sequence[RoleSet],
    accounts: Accounts,
    price_usd: float,
    rng: np.random.Generator,
) -> ChurnFlows:
    """Book income and cost, then apply each role's churn rule (see the module docstring),
    each role drawing from its own substream of ``rng`` (keyed by its role code), so honest
    roles' churn draws do not depend on the adversaries' (``sim.twins``)."""
    r, c, con = flows.rewards, flows.contribution, flows.consumption
    assert r is not None and c is not None and con is not None
    defense_cost = flows.defense.cost_usd
    n = accounts.n
    if defense_cost.size < n:
        defense_cost = np.concatenate([defense_cost, np.zeros(n - defense_cost.size)])
    left: dict[str, int] = {}
    joined: dict[str, int] = {}
    none = (np.zeros(0, np.int64), np.zeros(0))
    for rs in contributors:
        income = r.paid_tokens[rs.cols.account] * price_usd
        c_rows, c_cost = c.cost_usd.get(rs.role, none)
        if rs.role == "wash":  # wash consumers also pay for their own inferences
            w_rows, w_usd = con.wash_cost_usd
            c_rows = np.concatenate([c_rows, w_rows])
            c_cost = np.concatenate([c_cost, w_usd])
        cost = defense_cost[rs.cols.account] + np.bincount(
            c_rows, weights=c_cost, minlength=len(rs)
        )
        rs.record_income(np.arange(len(rs)), income, cost)
        out = rs.churn(substream(rng, ROLE_NAMES.index(rs.role)))
        if rs.role == "providers":
            accounts.onboard(rs.cols.account[out.new_rows])
        left[rs.role] = out.left
        joined[rs.role] = out.joined
    return ChurnFlows(left=left, joined=joined)


# ----------------------------------------------------------------------------- adversaries


def pay_bribes(
    flows: EpochFlows,
    ring: Sequence[RoleSet],
    validators: ValidatorSet,
    accounts: Accounts,
    price_usd: float,
) -> float:
    """Collusion's price, before income and cost are booked: each member of the ring the
    colluding validators approve (farmers and wash consumers: ``sim.defenses.ALLIED_ROLES``)
    pays them ``population.validator_bribe_share`` of this epoch's rewards
    (``ValidatorSet.take_bribes``). What a member paid is booked as its cost (USD) through
    the epoch's per-account cost of the defences it bought its way past. Returns the tokens
    paid."""
    r = flows.rewards
    if r is None or validators.params.validator_bribe_share <= 0:
        return 0.0
    payers = np.concatenate([rs.cols.account[rs.cols.active] for rs in ring])
    if payers.size == 0:
        return 0.0
    paid = validators.take_bribes(payers, r.paid_tokens[payers])
    flows.defense.add_cost(payers, paid * price_usd, accounts.n)
    return float(paid.sum())


def wash_kickbacks(
    wash: WashSet, builders: BuilderSet, pricing: Pricing, price_usd: float
) -> float:
    """A builder-run wash ring (``farmers.wash_run_by_builder``), before the booking: each
    builder passes its share β of the net fee of every wash inference on its model back to
    the wash consumer who paid it (``WashSet.take_kickbacks``). Returns the tokens passed
    back."""
    b = builders.cols
    per_inference = pricing.split.builder * pricing.net_fee_tokens[b.datanet] * b.price_factor
    return wash.take_kickbacks(per_inference, price_usd)


def adapt_adversaries(
    churn_flows: ChurnFlows,
    adversaries: Sequence[AdversarySet],
    accounts: Accounts,
    rng: np.random.Generator,
) -> None:
    """After the churn rule: each adversary role set reviews its learners that are due
    (``AdversarySet.adapt``, given its rows' accepted points, drawing from the
    ``adaptation`` stream); those who chose to leave and the identities operators added
    are counted in the epoch's churn flows."""
    for rs in adversaries:
        left, added = rs.adapt(rng, accounts.cols.points_accepted[rs.cols.account])
        churn_flows.left[rs.role] = churn_flows.left.get(rs.role, 0) + left
        churn_flows.joined[rs.role] = churn_flows.joined.get(rs.role, 0) + added


# --------------------------------------------------------------------------------- gravity


def gravity(
    flows: EpochFlows,
    consumers: ConsumerSet,
    builders: BuilderSet,
    population: Population,
    price_usd: float,
    rng: np.random.Generator,
) -> ChurnFlows:
    """Behavioural gravity, after the contributors' churn: consumers the outside option
    served better over their lookback leave, newcomers arrive by Bass diffusion
    (:func:`consumer_arrivals`); builders book their fee income (at the current price) and
    compute cost, leave where income falls short and enter where it pays
    (``BuilderSet.churn_by_datanet``). Returns the epoch's churn flows with ``consumers``
    and ``builders`` added (draws from the gravity stream's substreams of the consumers'
    and the builders' role codes: builders' draws do not depend on how many consumers
    arrived)."""
    ch, con = flows.churn, flows.consumption
    assert ch is not None and con is not None
    left, joined = dict(ch.left), dict(ch.joined)
    left["consumers"], joined["consumers"] = 0, 0
    if population.adoption.enabled:
        left["consumers"] = consumers.leave_unserved()
        c_rng = substream(rng, ROLE_NAMES.index("consumers"))
        n_new = consumer_arrivals(consumers, population.adoption, con.network_share, c_rng)
        if n_new:
            consumers.spawn(n_new, c_rng)
        joined["consumers"] = n_new
        consumers.joined_total += n_new
    fees = np.zeros(len(builders))
    fees[: con.builder_fees_tokens.size] = con.builder_fees_tokens
    moves = builders.churn_by_datanet(
        population.builder_churn,
        fees * price_usd,
        population.builder_compute_cost_usd_per_epoch,
        substream(rng, ROLE_NAMES.index("builders")),
    )
    left["builders"], joined["builders"] = moves.left, moves.joined
    return ChurnFlows(left=left, joined=joined)


def consumer_arrivals(
    consumers: ConsumerSet, adoption: Adoption, network_share: float, rng: np.random.Generator
) -> int:
    """Consumers who adopt the network this epoch: Poisson with mean the Bass hazard
    ``(p + q·N/M)(M − N)`` (N active consumers, M the market potential;
    ``economics.demand.bass_expected_arrivals``) times the network's logit share against
    the outside option (an arrival who would buy outside anyway does not adopt), at most
    M − N (individuals)."""
    n, m = consumers.n_active, consumers.market_potential
    lam = network_share * bass_expected_arrivals(
        n, m, adoption.innovation_per_epoch, adoption.imitation_per_epoch
    )
    if lam <= 0:
        return 0
    return int(min(rng.poisson(lam), max(m - n, 0)))
