"""The KPI registry: every column of a run's timeseries, once.

Each :class:`Kpi` says what kind of quantity it is — which decides how a timeseries row
with ``collect.metrics_every_epochs`` = N > 1 holds it — and how ``EconomyModel.summary``
reports it:

* ``flow`` — moved during an epoch (tokens, USD, points, inferences, transactions,
  individuals); a row holds its sum over the epochs since the previous row, so column
  totals stay the run's totals.
* ``stock`` — a level or a rate at the row's epoch (price, supply, accuracy, inflation).
* ``fairness`` — measured on the fairness cadence only (``attribution.ground_truth``); a
  row holds the latest measurement in its interval (NaN if none).

In a tokenomics-only world (``datanets: []``) the data KPIs (points, inferences, fees paid,
contributor rewards by role, active contributors) are 0 — nothing was submitted, sold or
paid — and what needs data is NaN: accuracy and attack success (no model), the fee split
(no inference was sold), the fairness and reward-fairness KPIs (no ground truth).

:data:`KPI_NAMES`, :data:`FLOW_KPIS` and the summary are derived from :data:`KPIS`; a KPI's
position in :data:`KPI_NAMES` is its column, so a row is one float64 vector
(:func:`row_of`). What each KPI is computed from lives in ``sim.phases.collect``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ledgerlab.agents.plans import STRATEGIES
from ledgerlab.sim import defenses
from ledgerlab.sim.fairness import FAIRNESS_KPIS

Kind = Literal["flow", "stock", "fairness"]
Summary = Literal["last", "total", "mean", "last_valid"] | None


@dataclass(frozen=True)
class Kpi:
    """One timeseries column.

    Attributes:
        name: Column name (its unit in the name where it has one).
        kind: ``"flow"``, ``"stock"`` or ``"fairness"`` (see the module docstring).
        summary: How ``summary()`` reports it: ``"last"`` (the last row's value, as
            ``name``), ``"total"`` (the column's sum, as ``total_<name>``), ``"mean"`` (as
            ``<name>_mean``), ``"last_valid"`` (the last non-NaN value, as ``name``), or
            None (not in the summary).
        description: What it measures.
    """

    name: str
    kind: Kind
    summary: Summary
    description: str


def _flow(name: str, description: str, summary: Summary = None) -> Kpi:
    return Kpi(name, "flow", summary, description)


def _stock(name: str, description: str, summary: Summary = None) -> Kpi:
    return Kpi(name, "stock", summary, description)


_FAIRNESS_DESCRIPTIONS = {
    "spearman": "Spearman rank correlation of cumulative rewards with cumulative fair rewards over every contributor (−1..1; NaN with fewer than 2 contributors or no variance)",
    "kendall_tau": "Kendall tau-b of cumulative rewards with cumulative fair rewards (−1..1; NaN as spearman)",
    "adversary_capture": "adversaries' reward share / their positive-value share",
    "proportionality_gap": "½ Σ |r_i/Σr − f_i/Σf| over contributors (fraction, 0 = fair; NaN before any reward)",
    "envy_rate": "share of contributor pairs with different fair rewards paid in the opposite order (fraction; NaN with no such pair)",
    "gini_rewards": "Gini coefficient of cumulative rewards among contributors (0..1; NaN before any reward)",
    "nakamoto_rewards": "fewest contributors holding half the cumulative rewards (individuals; NaN before any reward)",
    "spearman_honest": "Spearman rank correlation of cumulative rewards with fair rewards "
    "among honest contributors only (−1..1; NaN with fewer than 2 of them or no variance)",
    "kendall_tau_honest": "Kendall tau-b of cumulative rewards with fair rewards among honest "
    "contributors only (−1..1; NaN as spearman_honest)",
    "proportionality_gap_honest": "proportionality gap among honest contributors only "
    "(shares renormalised within them; fraction; NaN before they are paid)",
}
_FAIRNESS_DESCRIPTIONS["adversary_capture"] = (
    "adversaries' share of cumulative rewards ÷ their share of cumulative fair rewards; NaN "
    "without adversaries or when their fair share is under 1 % (the ratio would be "
    "dominated by its vanishing denominator)"
)

_ROLES = ("providers", "farmers", "wash", "poisoners")

_TWINS = ("honest_only", "no_defense")
"""Counterfactual twins (``sim.twins``), in column order."""
_TWIN_WHAT = {
    "honest_only": "the same scenario, seed and random streams with every adversarial count "
    "of the population 0",
    "no_defense": "the same scenario, seed and random streams without the defences",
}
_TWIN_SERIES = {
    "accuracy": "its own accuracy KPI: mean clean held-out accuracy of its models (fraction)",
    "price_usd": "its own price_usd KPI: AMM spot price (USD/token)",
    "circulating_tokens": "its own circulating_tokens KPI: unlocked supply (tokens)",
    "honest_income_tokens": "its cumulative rewards paid to non-adversary contributors: "
    "registry reward_tokens of accounts of non-adversary contributing roles (tokens)",
}


def _twin_nan(t: str) -> str:
    return f"NaN without the {t} twin (scenario field counterfactuals)"


KPIS: tuple[Kpi, ...] = (
    _stock("epoch", "epoch index of the row (0-based; an epoch lasts epoch_days)"),
    _stock(
        "price_usd",
        "AMM spot price after the epoch's trades: cash reserve ÷ token reserve (USD/token)",
        "last",
    ),
    _stock("supply_tokens", "tokens in existence: minted − burned (tokens)", "last"),
    _stock("minted_tokens", "tokens ever minted, genesis included (tokens)", "last"),
    _stock(
        "burned_tokens",
        "tokens ever burned: fee burn, gas base fee, slashed bonds, buybacks (tokens)",
        "last",
    ),
    _stock(
        "circulating_tokens",
        "tracker circulating: every unlocked token wherever it sits, Σ over all accounts of "
        "balance + staked + bonded, protocol accounts included (tokens)",
        "last",
    ),
    _stock(
        "market_float_tokens",
        "market float: circulating minus what the protocol's accounts hold (reward pool, "
        "treasury, AMM token reserve, fee escrow: accounts.protocol), Σ over the other "
        "accounts of balance + staked + bonded (tokens)",
        "last",
    ),
    _stock("locked_tokens", "supply still locked in vesting buckets (tokens)"),
    _stock("staked_tokens", "tokens staked (tokens)"),
    _stock("bonded_tokens", "tokens bonded on submissions under stake_slash (tokens)"),
    _stock("reward_pool_tokens", "reward pool holdings, locked or not (tokens)"),
    _stock("treasury_tokens", "treasury holdings, locked or not (tokens)"),
    _flow("unlocked_tokens", "vesting unlocked this epoch, to any account (tokens; TGE excluded)"),
    _flow(
        "emission_tokens",
        "emission added to the rewards this epoch: minted, or dripped from the pre-minted pool (tokens)",
        "total",
    ),
    _flow(
        "sold_tokens",
        "tokens sold on the AMM by holders' and contributors' sell policies and the outside market (tokens)",
    ),
    _flow("sales_usd", "USD those sales fetched (USD)"),
    _flow(
        "exogenous_flow_usd",
        "noise traders' drawn net order (market.order_flow; USD, < 0 = a sell of tokens worth "
        "that much at the pre-trade price)",
    ),
    _flow(
        "noise_flow_usd",
        "noise traders' executed net flow: USD paid for buys − USD received for sells, sells "
        "capped by the outside account's tokens beyond the value trader's (USD; < 0 = net sell)",
        "total",
    ),
    _flow(
        "value_trader_flow_usd",
        "value trader's executed net flow: USD paid for buys − USD received for sells "
        "(USD; > 0 = it bought)",
        "total",
    ),
    _stock(
        "fundamental_value_usd",
        "value trader's fundamental value V = R · A / S: R = mean fee revenue (fees_tokens × "
        "price) of its last revenue_window_epochs, A = Σ_{h=1..H} (1+r)^−h over "
        "horizon_epochs H at the per-epoch discount rate r, S = supply_tokens "
        "(USD/token; NaN without a value trader)",
        "last",
    ),
    _stock("value_trader_tokens", "tokens the value trader holds after the epoch's trade", "last"),
    _flow(
        "arbitrage_flow_usd",
        "arbitrageur's executed net flow towards the reference price: USD paid − USD received "
        "(USD; > 0 = it bought)",
        "total",
    ),
    _flow(
        "shock_flow_usd",
        "scheduled price shocks' executed net flow: USD paid − USD received (USD; < 0 = a "
        "sell-off)",
    ),
    _flow(
        "buyback_usd",
        "USD spent on buybacks: market.buyback.share × the previous epoch's fee revenue "
        "(fees_tokens × price) (USD)",
        "total",
    ),
    _flow(
        "buyback_tokens",
        "tokens the buybacks bought on the AMM, then burned or sent to the treasury (tokens)",
        "total",
    ),
    _stock(
        "demand_multiplier",
        "factor on consumers' demand from scheduled demand shocks: product of the active "
        "shocks' size (dimensionless; 1 = none)",
    ),
    _stock(
        "supply_inflation",
        "relative change of supply since the previous epoch (fraction/epoch; NaN at epoch 0 with no supply)",
    ),
    _stock(
        "circulating_inflation",
        "relative change of tracker circulating since the previous epoch, "
        "(C_t − C_{t−1}) / C_{t−1} (fraction/epoch; NaN when C_{t−1} = 0)",
    ),
    _stock(
        "circulating_inflation_annualised",
        "circulating inflation compounded over a year, (1 + r)^(365.25 / epoch_days) − 1 "
        "(fraction/year; NaN when the epoch's rate is NaN)",
        "mean",
    ),
    _stock(
        "market_float_inflation",
        "relative change of market float since the previous epoch, "
        "(F_t − F_{t−1}) / F_{t−1} (fraction/epoch; NaN when F_{t−1} = 0)",
    ),
    _stock(
        "market_float_inflation_annualised",
        "market float inflation compounded over a year, (1 + r)^(365.25 / epoch_days) − 1 "
        "(fraction/year; NaN when the epoch's rate is NaN). A thin float's daily noise "
        "compounds to huge rates, so the summary reports market_float_growth_annualised, "
        "not a mean of this",
    ),
    _flow(
        "circulating_growth_tokens",
        "change of tracker circulating this epoch, C_t − C_{t−1} (tokens); exactly "
        "circulating_growth_unlocks + _minted + _burns",
        "total",
    ),
    _flow(
        "circulating_growth_unlocks_tokens",
        "vesting unlocked this epoch to any account, the protocol's included: the fall of "
        "locked tokens (tokens; TGE excluded)",
        "total",
    ),
    _flow(
        "circulating_growth_minted_tokens",
        "tokens minted this epoch, i.e. emission minted as rewards (tokens); 0 when rewards "
        "are dripped from an unlocked pre-minted pool, whose payouts move tokens already "
        "circulating (they show in market_float_growth_rewards_tokens)",
        "total",
    ),
    _flow(
        "circulating_growth_burns_tokens",
        "minus the tokens burned this epoch: fee burn φ, gas base fee, bonds slashed to "
        "burn (tokens, ≤ 0)",
        "total",
    ),
    _flow(
        "market_float_growth_tokens",
        "change of market float this epoch, F_t − F_{t−1} (tokens); exactly "
        "market_float_growth_unlocks + _rewards + _other",
        "total",
    ),
    _flow(
        "market_float_growth_unlocks_tokens",
        "vesting unlocked this epoch to non-protocol accounts (holders) (tokens)",
        "total",
    ),
    _flow(
        "market_float_growth_rewards_tokens",
        "rewards paid this epoch out of the reward pool and the fee escrow: to contributors "
        "(rewards_tokens) plus the emission routed to stakers or holders without "
        "contributors (emission_routed_tokens) (tokens)",
        "total",
    ),
    _flow(
        "market_float_growth_other_tokens",
        "the rest of the float's change: the net of every other crossing between market "
        "and protocol accounts (AMM sales − purchases, fee shares, grants and tips paid "
        "out, − fees paid in, − bonds slashed to the treasury) and − burns of market-held "
        "tokens; market_float_growth − _unlocks − _rewards (tokens)",
        "total",
    ),
    _stock("market_cap_usd", "price × tracker circulating supply (USD)", "last"),
    _stock("fdv_usd", "fully diluted valuation: price × total supply (USD)", "last"),
    _stock("staking_ratio", "staked ÷ tracker circulating (fraction; NaN when 0)", "last"),
    _stock(
        "staking_ratio_market_float",
        "staked ÷ market float: the share of what market participants hold that is staked "
        "(fraction; NaN when the float is 0)",
        "last",
    ),
    _stock(
        "real_yield",
        "stakers' share γ of independent consumers' fees per staked token, annualised "
        "simply: F_organic,γ · 365.25 / epoch_days / staked (fraction/year; wash fees "
        "excluded; NaN when nothing is staked)",
    ),
    _stock("amm_token_reserve", "AMM token reserve (tokens)"),
    _stock("amm_cash_reserve_usd", "AMM cash reserve (USD)"),
    _flow(
        "points_submitted",
        "points submitted to all datanets (points; 0 in a tokenomics-only world: no datanet)",
    ),
    _flow("points_accepted", "points the defences accepted (points)", "total"),
    _flow("points_rejected", "points the defences refused (points)", "total"),
    _stock("datanet_points", "active points over all datanets (points)", "last"),
    _stock(
        "accuracy",
        "mean clean accuracy of the trained models on a held-out set no agent sees (fraction; NaN before any model is trained, and always in a tokenomics-only world: no datanet, no model)",
        "last",
    ),
    _stock(
        "attack_success",
        "mean share of triggered held-out queries of the non-target classes that the models answer with the backdoor's target class (fraction; NaN without backdoor poisoners). Not zero without an attack: compare with twin_honest_only_attack_success (attack_success_gain)",
        "last",
    ),
    _flow(
        "inferences",
        "inferences bought by independent consumers (inferences; 0 without a datanet)",
        "total",
    ),
    _flow(
        "wash_inferences",
        "inferences wash consumers bought on their own points (inferences)",
        "total",
    ),
    _flow("fees_tokens", "fees paid into the treasury, independent and wash", "total"),
    _flow(
        "organic_fees_tokens",
        "fees paid by independent consumers (tokens; wash consumers' fees on their own "
        "points excluded)",
        "total",
    ),
    _stock(
        "organic_fee_share",
        "organic_fees_tokens ÷ fees_tokens this epoch (fraction; NaN when no fee was "
        "paid); the summary's value is total organic fees ÷ total fees",
    ),
    _stock(
        "emission_to_organic_fees",
        "emission_tokens ÷ organic_fees_tokens this epoch, tokens emitted per token of "
        "independent fees (ratio; NaN when organic fees are 0); the summary's value is "
        "total emission ÷ total organic fees",
    ),
    _flow("fees_burned_tokens", "burn share φ of the net fees (tokens)"),
    _flow("builder_income_tokens", "builder share β of the net fees (tokens)"),
    _flow("stakers_fees_tokens", "stakers' share γ of the net fees (tokens)"),
    _flow(
        "rewards_tokens",
        "rewards paid to contributors: their fee share δ plus emission (tokens)",
        "total",
    ),
    _flow(
        "emission_routed_tokens",
        "emission paid in an epoch with no active contributor (a tokenomics-only world, or "
        "every contributing role empty), as tokenomics.emission.without_contributors routes "
        "it: to stakers pro rata to stake or to individuals pro rata to liquid balance, out "
        "of the reward pool (tokens; 0 when it stays in the pool or contributors are paid)",
        "total",
    ),
    _stock(
        "payout_recipients",
        "accounts paid rewards this epoch, routed emission included (accounts)",
    ),
    *(_flow(f"reward_{r}_tokens", f"rewards paid to {r} (tokens)", "total") for r in _ROLES),
    *(Kpi(n, "fairness", "last_valid", _FAIRNESS_DESCRIPTIONS[n]) for n in FAIRNESS_KPIS),
    _stock(
        "adversary_reward_share",
        "adversaries' share of all rewards paid to individuals so far: Σ_adv r / Σ r "
        "(fraction; NaN before any reward)",
        "last",
    ),
    _stock(
        "adversary_reward_share_epoch",
        "adversaries' share of this epoch's rewards (fraction; NaN when none were paid)",
    ),
    _stock(
        "adversary_fair_share",
        "adversaries' share of cumulative fair rewards, the rewards paid split by true value "
        "(fraction; NaN while no one has had positive value)",
        "last",
    ),
    _stock(
        "excess_share",
        "adversary reward share − adversary fair share, cumulative (fraction in [−1, 1]; "
        "> 0: paid beyond their true value; NaN before any reward or without positive value)",
        "last",
    ),
    _stock(
        "excess_share_epoch",
        "excess share of this epoch's rewards and fair rewards alone (fraction; NaN as excess_share)",
    ),
    _flow(
        "overpayment_tokens",
        "what adversaries were paid beyond their fair share: rewards × excess share of the "
        "epoch (tokens, signed; NaN when no one has positive value)",
        "total",
    ),
    _flow("overpayment_usd", "overpayment_tokens at the epoch's price (USD)", "total"),
    _flow(
        "honest_income_usd",
        "rewards paid to honest providers this epoch at the epoch's price (USD)",
        "total",
    ),
    _stock(
        "gini_holdings",
        "Gini coefficient of holdings (balance + stake) of individuals, protocol accounts excluded (0..1)",
    ),
    *(_stock(f"active_{r}", f"active {r} after churn (individuals)", "last") for r in _ROLES),
    _stock(
        "active_consumers",
        "consumers in the network after churn: launch consumers and Bass arrivals, less those "
        "the outside option served better (individuals)",
        "last",
    ),
    _stock(
        "active_builders",
        "builders selling a model after churn: launch builders and entrants, less those whose "
        "fee income fell below their compute cost (individuals)",
        "last",
    ),
    _flow(
        "consumers_joined", "consumers who adopted the network this epoch (individuals)", "total"
    ),
    _flow(
        "consumers_left",
        "consumers who left for the outside option this epoch (individuals)",
        "total",
    ),
    _flow("builders_joined", "builders who entered a datanet this epoch (individuals)", "total"),
    _flow("builders_left", "builders who left this epoch (individuals)", "total"),
    _flow(
        "outside_inferences",
        "inferences consumers bought from the outside option instead of the network (inferences)",
        "total",
    ),
    _stock(
        "outside_option_share",
        "share of consumers' demand served by the outside option: outside_inferences / "
        "(inferences + outside_inferences) (fraction; NaN when nobody bought)",
        "mean",
    ),
    _stock(
        "network_choice_share",
        "the network's multinomial-logit choice probability against the outside option: "
        "Σ over models for sale of exp(u/T) / (that sum + exp(u_outside/T)), u = accuracy − "
        "w × USD price (fraction; 0 when no model is for sale, 1 without an outside option; "
        "never NaN)",
    ),
    _stock(
        "outside_price_usd",
        "the outside option's price this epoch (USD/inference; NaN without one)",
    ),
    _stock(
        "active_adversary_identities",
        "active adversary accounts that submit or consume (sybil identities, plain farmers, "
        "wash consumers, poisoners; an operator's own wallet excluded)",
        "last",
    ),
    _stock(
        "active_adversary_operators",
        "people behind the active adversaries: a sybil operator and its identities count "
        "once, every other adversary is its own operator",
        "last",
    ),
    *(
        _stock(
            f"adversary_strategy_share_{s}",
            f"share of active adversary identities playing {s} this epoch: identities "
            f"playing it / active identities (sybil operators' own wallets excluded; "
            f"'leave' = sitting out while adaptive; fraction; NaN with no adversary)",
            "last",
        )
        for s in STRATEGIES
    ),
    _stock(
        "validator_bribes_tokens",
        "bribes the colluding validators have received from the ring they approve since "
        "launch: Σ validator_bribe_share × each farmer's and wash consumer's epoch rewards "
        "(tokens, cumulative)",
        "last",
    ),
    *(
        _flow(f"{r}_{e}", f"{r} who {e} this epoch (individuals)")
        for r in _ROLES
        for e in ("left", "joined")
    ),
    _flow("chain_tx_submitted", "transactions handed to the chain (tx; NaN without a chain)"),
    _flow("chain_tx_included", "transactions included in blocks (tx)"),
    _stock("chain_backlog_tx", "transactions waiting at the epoch's end (tx)"),
    _flow(
        "chain_payout_tx",
        "payout transactions by the payout policy: one per contributor per epoch (batch) or per inference (stream) (tx)",
        "total",
    ),
    _stock("chain_base_fee_tokens", "base fee at the epoch's end (tokens/transaction)"),
    _flow("chain_gas_burned_tokens", "base fees burned (tokens)", "total"),
    _flow("chain_tips_tokens", "tips paid to validators (tokens)"),
    _flow("chain_gas_unpaid_tokens", "gas the treasury and reward pool could not pay (tokens)"),
    _stock(
        "chain_latency_seconds",
        "mean inclusion delay of the epoch's transactions (seconds; NaN when none were included)",
    ),
    *(
        Kpi(
            name,
            "flow" if name in defenses.FLOW_KPI_NAMES else "stock",
            "total" if name == "defense_tx" else None,
            defenses.kpi_description(name),
        )
        for name in defenses.KPI_NAMES
    ),
    _stock(
        "honest_income_tokens",
        "cumulative rewards paid to non-adversary contributors: registry reward_tokens of "
        "accounts of non-adversary contributing roles (tokens; the world's figure beside "
        "twin_*_honest_income_tokens, by the same function)",
        "last",
    ),
    # Counterfactual twins (sim.twins): the same scenario, seed and random streams without
    # the adversaries (honest_only) or without the defences (no_defense), in lockstep.
    *(
        _stock(f"twin_{t}_{name}", f"{t} twin ({_TWIN_WHAT[t]}): {what}; {_twin_nan(t)}", "last")
        for t in _TWINS
        for name, what in _TWIN_SERIES.items()
    ),
    _stock(
        "twin_honest_only_attack_success",
        f"honest_only twin ({_TWIN_WHAT['honest_only']}): attack_success of its models, "
        "measured with the world's trigger and target class: how often triggered queries "
        "land in the target class without any backdoor point (fraction); NaN without "
        "backdoor poisoners in the world, or without the honest_only twin",
        "last",
    ),
    _stock(
        "accuracy_lost_to_attack",
        "twin_honest_only_accuracy − accuracy: clean accuracy the adversaries cost "
        f"(fraction; > 0 = the attack hurt); {_twin_nan('honest_only')}",
        "last",
    ),
    _stock(
        "honest_income_lost_tokens",
        "twin_honest_only_honest_income_tokens − the world's cumulative rewards paid to "
        f"non-adversary contributors (tokens; > 0 = income lost); {_twin_nan('honest_only')}",
        "last",
    ),
    _stock(
        "price_impact_usd",
        f"price_usd − twin_honest_only_price_usd (USD/token); {_twin_nan('honest_only')}",
        "last",
    ),
    _stock(
        "supply_impact_tokens",
        "circulating_tokens − twin_honest_only_circulating_tokens (tokens); "
        f"{_twin_nan('honest_only')}",
        "last",
    ),
    _stock(
        "defense_accuracy_gain",
        "accuracy − twin_no_defense_accuracy: clean accuracy the defences bought "
        f"(fraction); {_twin_nan('no_defense')}",
        "last",
    ),
    _stock(
        "defense_honest_income_gain_tokens",
        "the world's cumulative rewards paid to non-adversary contributors − "
        f"twin_no_defense_honest_income_tokens (tokens); {_twin_nan('no_defense')}",
        "last",
    ),
    _stock(
        "attack_success_gain",
        "attack_success − twin_honest_only_attack_success: backdoor success the backdoor "
        "points themselves bought (fraction, signed; > 0 = the attack worked); NaN without "
        "backdoor poisoners or without the honest_only twin",
        "last",
    ),
)
"""Every timeseries column, in column order."""

KPI_NAMES: tuple[str, ...] = tuple(k.name for k in KPIS)
"""Every column of ``timeseries`` (a DataCollector model reporter each)."""

KPI_INDEX: dict[str, int] = {name: i for i, name in enumerate(KPI_NAMES)}
"""Column of each KPI in a row vector."""

FLOW_KPIS: frozenset[str] = frozenset(k.name for k in KPIS if k.kind == "flow")
"""Per-epoch flows: with ``collect.metrics_every_epochs`` = N > 1 a timeseries row holds
their sums over the epochs since the previous row, so column totals stay the run's totals;
every other column is the value at the row's epoch (fairness KPIs: the latest ground-truth
measurement in the interval, NaN if none)."""

FINAL_VALUATION_KPIS = FAIRNESS_KPIS
"""Columns measured on the fairness cadence *and at the last epoch*
(``attribution.ground_truth.every_epochs``: "0 = only at the last epoch"), so on a run's
last row they depend on the horizon by definition. Every other value of every row depends only on
the scenario and the epochs up to its own: the first N rows of a longer run equal a run of
N epochs bit for bit (random streams are drawn epoch by epoch), except these columns on
the shorter run's last row — and, with ``collect.metrics_every_epochs`` > 1, that last
row as a whole when it closes a partial interval (its flows sum fewer epochs)."""

SIGNED_KPIS: frozenset[str] = frozenset(
    {
        "exogenous_flow_usd",
        "noise_flow_usd",
        "value_trader_flow_usd",
        "arbitrage_flow_usd",
        "shock_flow_usd",
        # supply growth and its signed parts (burns are ≤ 0; the float's net transfers with
        # protocol accounts either way)
        "circulating_growth_tokens",
        "circulating_growth_burns_tokens",
        "market_float_growth_tokens",
        "market_float_growth_other_tokens",
        # what adversaries were paid beyond their fair share (< 0: underpaid)
        "overpayment_tokens",
        "overpayment_usd",
        # world − twin differences (sim.twins)
        "honest_income_lost_tokens",
        "price_impact_usd",
        "supply_impact_tokens",
        "defense_honest_income_gain_tokens",
    }
)
"""Amounts that may be negative: the outside market's net flows (< 0 = a net sell), the
growth of supply views and its burn and net-transfer parts, and the differences between the
world and its twins."""

FLOW_MASK = np.array([k.kind == "flow" for k in KPIS])
"""Which columns of a row are flows."""

FAIRNESS_MASK = np.array([k.kind == "fairness" for k in KPIS])
"""Which columns of a row are fairness measurements."""

assert len(KPI_INDEX) == len(KPIS), "a KPI name is listed twice"


SUMMARY_EXTRAS: dict[str, str] = {
    "run_id": "the run's id: the folder name, or the sweep's run id",
    "scenario": "the scenario's name",
    "seed": "the scenario's seed",
    "epochs": "epochs simulated",
    "engine": "the attribution engine under test",
    "defenses": "the defences on, in order",
    "honest_provider_income_usd": "honest providers' income over the run: rewards valued at "
    "the price when paid (USD)",
    "honest_provider_net_usd": "honest providers' income minus their costs (data, bonds, gas) "
    "over the run (USD)",
    "adversary_net_usd": "farmers', wash consumers' and poisoners' income minus their costs "
    "over the run (USD)",
    "defense_adversary_reject_rate": "adversaries' points refused ÷ adversaries' points "
    "submitted over the run (fraction; NaN without defences or adversary points)",
    "circulating_growth_annualised": "tracker circulating's growth over the run, annualised "
    "by compounding: (C_T / C_launch)^(365.25 / epoch_days / T) − 1, C_launch = C_T − "
    "total_circulating_growth_tokens (fraction/year; NaN when C_launch is 0 or the run is "
    "shorter than 30 days)",
    "market_float_growth_annualised": "market float's growth over the run, annualised by "
    "compounding: (F_T / F_launch)^(365.25 / epoch_days / T) − 1, F_launch = F_T − "
    "total_market_float_growth_tokens (fraction/year; NaN when F_launch is 0 or the run is "
    "shorter than 30 days)",
}
"""Summary entries that are not a KPI's summary (``EconomyModel.summary``); defence
entries without a suffix are the whole run's totals or rates of the defence KPI of the same
name."""


def row_of(values: Mapping[str, float]) -> np.ndarray:
    """One timeseries row (float64, :data:`KPI_NAMES` order) from KPI values by name;
    a KPI not given is NaN (not measured this epoch, e.g. the chain's without a chain)."""
    row = np.full(len(KPIS), np.nan)
    for name, value in values.items():
        row[KPI_INDEX[name]] = value
    return row


def summary_of(ts: pd.DataFrame, epochs_per_year: float = 365.25) -> dict[str, float]:
    """The registry's part of a run's summary, from its timeseries: each KPI by its
    ``summary`` rule (last value, last valid value, column mean or total), and the run's
    usage ratios and supply growth from totals (``epochs_per_year`` annualises the
    growth: 365.25 / epoch_days)."""
    out: dict[str, float] = {}
    last = ts.iloc[-1]
    for k in KPIS:
        col = ts[k.name]
        if k.summary == "last":
            out[k.name] = float(last[k.name])
        elif k.summary == "last_valid":
            valid = col.dropna()
            out[k.name] = float(valid.iloc[-1]) if len(valid) else float("nan")
        elif k.summary == "mean":
            out[f"{k.name}_mean"] = float(col.mean())
        elif k.summary == "total":
            out[f"total_{k.name}"] = float(col.sum())
    out.update(_usage_totals(out))
    recorded = ts["epoch"].dropna()
    epochs = int(recorded.iloc[-1]) + 1 if len(recorded) else 0
    out.update(_supply_growth_totals(out, epochs, epochs_per_year))
    return out


MIN_ANNUALISED_SHARE_OF_YEAR = 30 / 365.25
"""Growth since launch is annualised only over runs of at least a month: compounding a few
days' growth to a year (1,529 %/year from 3 days in the baseline) tells a reader nothing."""


def _supply_growth_totals(
    out: Mapping[str, float], epochs: int, epochs_per_year: float
) -> dict[str, float]:
    """Each supply view's growth over the run's ``epochs``, annualised by compounding
    (:data:`SUMMARY_EXTRAS`); +inf when that overflows float64, NaN without a launch
    level or over a run shorter than a month (:data:`MIN_ANNUALISED_SHARE_OF_YEAR`)."""
    res: dict[str, float] = {}
    for view in ("circulating", "market_float"):
        end = out.get(f"{view}_tokens", float("nan"))
        start = end - out.get(f"total_{view}_growth_tokens", float("nan"))
        rate = float("nan")
        long_enough = (
            epochs_per_year > 0 and epochs >= MIN_ANNUALISED_SHARE_OF_YEAR * epochs_per_year
        )
        if start > 0 and end >= 0 and epochs > 0 and long_enough:
            with np.errstate(over="ignore", divide="ignore"):
                rate = float(np.expm1(np.log(end / start) * epochs_per_year / epochs))
        res[f"{view}_growth_annualised"] = rate
    return res


def _usage_totals(out: Mapping[str, float]) -> dict[str, float]:
    """The run's organic fee share (total organic fees ÷ total fees) and emission to
    organic fees (total emission ÷ total organic fees), NaN where the denominator is 0."""
    fees = out.get("total_fees_tokens", 0.0)
    organic = out.get("total_organic_fees_tokens", 0.0)
    emitted = out.get("total_emission_tokens", 0.0)
    return {
        "organic_fee_share": organic / fees if fees > 0 else float("nan"),
        "emission_to_organic_fees": emitted / organic if organic > 0 else float("nan"),
    }
