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
    "spearman": "Spearman rank correlation of cumulative rewards with fair rewards",
    "kendall_tau": "Kendall tau-b of cumulative rewards with fair rewards",
    "adversary_capture": "adversaries' reward share / their positive-value share",
    "proportionality_gap": "half the L1 distance between reward and fair-reward shares",
    "envy_rate": "share of contributor pairs paid in the opposite order of their value",
    "gini_rewards": "Gini coefficient of cumulative rewards among contributors",
    "nakamoto_rewards": "fewest contributors holding half the cumulative rewards",
}

_ROLES = ("providers", "farmers", "wash", "poisoners")

KPIS: tuple[Kpi, ...] = (
    _stock("epoch", "epoch index of the row"),
    _stock("price_usd", "AMM spot price (USD/token)", "last"),
    _stock("supply_tokens", "tokens in existence: minted − burned", "last"),
    _stock("minted_tokens", "tokens ever minted", "last"),
    _stock("burned_tokens", "tokens ever burned", "last"),
    _stock("circulating_tokens", "unlocked supply, wherever it sits", "last"),
    _stock("locked_tokens", "supply still locked in vesting"),
    _stock("staked_tokens", "tokens staked"),
    _stock("bonded_tokens", "tokens bonded on submissions"),
    _stock("reward_pool_tokens", "reward pool holdings, locked or not"),
    _stock("treasury_tokens", "treasury holdings, locked or not"),
    _flow("unlocked_tokens", "vesting unlocked this epoch (TGE excluded)"),
    _flow("emission_tokens", "rewards minted or dripped from the pool", "total"),
    _flow("sold_tokens", "tokens sold by sell policies and the outside market"),
    _flow("sales_usd", "USD those sales fetched"),
    _flow("exogenous_flow_usd", "outside market's net order flow (USD; < 0 = a sell)"),
    _stock("supply_inflation", "relative change of supply since the previous epoch"),
    _stock("circulating_inflation", "relative change of circulating supply"),
    _stock(
        "circulating_inflation_annualised",
        "circulating inflation compounded over a year",
        "mean",
    ),
    _stock("market_cap_usd", "price × circulating supply", "last"),
    _stock("fdv_usd", "price × total supply", "last"),
    _stock("staking_ratio", "staked / circulating", "last"),
    _stock("real_yield", "stakers' fee income per staked token, annualised"),
    _stock("amm_token_reserve", "AMM token reserve (tokens)"),
    _stock("amm_cash_reserve_usd", "AMM cash reserve"),
    _flow("points_submitted", "points submitted to all datanets"),
    _flow("points_accepted", "points the defences accepted", "total"),
    _flow("points_rejected", "points the defences refused", "total"),
    _stock("datanet_points", "active points over all datanets", "last"),
    _stock("accuracy", "mean clean held-out accuracy of the trained models", "last"),
    _stock(
        "accuracy_honest_only",
        "accuracy of a kNN on honest contributors' points only (ground-truth epochs)",
        "last",
    ),
    _stock("attack_success", "mean backdoor success of the trained models", "last"),
    _flow("inferences", "inferences bought by independent consumers", "total"),
    _flow("wash_inferences", "inferences wash consumers bought on their own points", "total"),
    _flow("fees_tokens", "fees paid into the treasury", "total"),
    _flow("fees_burned_tokens", "burn share φ of the net fees"),
    _flow("builder_income_tokens", "builder share β of the net fees"),
    _flow("stakers_fees_tokens", "stakers' share γ of the net fees"),
    _flow("rewards_tokens", "attribution and emission rewards paid", "total"),
    _stock("payout_recipients", "accounts paid rewards this epoch"),
    *(_flow(f"reward_{r}_tokens", f"rewards paid to {r}", "total") for r in _ROLES),
    *(Kpi(n, "fairness", "last_valid", _FAIRNESS_DESCRIPTIONS[n]) for n in FAIRNESS_KPIS),
    _stock("gini_holdings", "Gini coefficient of holdings (balance + stake) of individuals"),
    *(_stock(f"active_{r}", f"active {r} after churn", "last") for r in _ROLES),
    *(_flow(f"{r}_{e}", f"{r} who {e} this epoch") for r in _ROLES for e in ("left", "joined")),
    _flow("chain_tx_submitted", "transactions handed to the chain"),
    _flow("chain_tx_included", "transactions included in blocks"),
    _stock("chain_backlog_tx", "transactions waiting at the epoch's end"),
    _flow("chain_payout_tx", "payout transactions (by the payout policy)", "total"),
    _stock("chain_base_fee_tokens", "base fee at the epoch's end (tokens/transaction)"),
    _flow("chain_gas_burned_tokens", "base fees burned", "total"),
    _flow("chain_tips_tokens", "tips paid to validators"),
    _flow("chain_gas_unpaid_tokens", "gas the treasury and reward pool could not pay"),
    _stock("chain_latency_seconds", "mean inclusion delay"),
    *(
        Kpi(
            name,
            "flow" if name in defenses.FLOW_KPI_NAMES else "stock",
            "total" if name == "defense_tx" else None,
            "defence measurement (sim.defenses)",
        )
        for name in defenses.KPI_NAMES
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

FINAL_VALUATION_KPIS = (*FAIRNESS_KPIS, "accuracy_honest_only")
"""Columns measured on the fairness cadence *and at the last epoch*
(``attribution.ground_truth.every_epochs``: "0 = only at the last epoch"), so on a run's
last row they depend on the horizon by definition. Every other value of every row depends only on
the scenario and the epochs up to its own: the first N rows of a longer run equal a run of
N epochs bit for bit (random streams are drawn epoch by epoch), except these columns on
the shorter run's last row — and, with ``collect.metrics_every_epochs`` > 1, that last
row as a whole when it closes a partial interval (its flows sum fewer epochs)."""

FLOW_MASK = np.array([k.kind == "flow" for k in KPIS])
"""Which columns of a row are flows."""

FAIRNESS_MASK = np.array([k.kind == "fairness" for k in KPIS])
"""Which columns of a row are fairness measurements."""

assert len(KPI_INDEX) == len(KPIS), "a KPI name is listed twice"


def row_of(values: Mapping[str, float]) -> np.ndarray:
    """One timeseries row (float64, :data:`KPI_NAMES` order) from KPI values by name;
    a KPI not given is NaN (not measured this epoch, e.g. the chain's without a chain)."""
    row = np.full(len(KPIS), np.nan)
    for name, value in values.items():
        row[KPI_INDEX[name]] = value
    return row


def summary_of(ts: pd.DataFrame) -> dict[str, float]:
    """The registry's part of a run's summary, from its timeseries: each KPI by its
    ``summary`` rule (last value, last valid value, column mean or total), and the
    adversaries' share of all rewards paid."""
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
    total = out.get("total_rewards_tokens", 0.0)
    adversary = sum(
        out.get(f"total_reward_{r}_tokens", 0.0) for r in ("farmers", "wash", "poisoners")
    )
    out["adversary_reward_share"] = adversary / total if total > 0 else float("nan")
    return out
