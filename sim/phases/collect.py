"""Phase 8 — collect: the epoch's KPI row, derived from its flows and the state at the end
of the epoch (:func:`kpi_values`), recorded in the DataCollector (:class:`Recorder`, which
applies the metrics cadence when the timeseries is read); agent snapshots on their cadence; the AMM/ledger check and, with
``check=True``, the ledger's full invariant check.

The KPIs themselves — their names, kinds and summary rules — are registered once in
``sim.kpis``; this module says what each is computed from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import mesa
import numpy as np
import pandas as pd

from ledgerlab.economics import metrics as M
from ledgerlab.sim import kpis as K
from ledgerlab.sim.fairness import fairness_kpis
from ledgerlab.sim.flows import EpochFlows
from ledgerlab.sim.phases.train import quality

if TYPE_CHECKING:
    from ledgerlab.sim.model import EconomyModel


class Recorder:
    """Feeds the Mesa DataCollector one row per epoch and applies the metrics cadence when
    the timeseries is read.

    The DataCollector holds one record per epoch — the epoch's own KPI values — as Mesa's
    tools expect (``mesa.batch_run`` reads the record of any step it samples). With
    ``collect.metrics_every_epochs`` = N > 1, :meth:`timeseries` has a row every N epochs
    and after the last: flows summed over the epochs since the previous row, fairness KPIs
    as last measured in that interval, everything else as at the row's epoch
    (``sim.kpis``).

    Attributes:
        every: The metrics cadence (epochs).
        horizon_epochs: The run's epochs (the last one always closes a row).
        row: The row the DataCollector's reporters read (float64, ``KPI_NAMES`` order).
        datacollector: The Mesa DataCollector (one model reporter per KPI).
        prev_supply_tokens, prev_circulating_tokens: Last epoch's supplies (for inflation).
    """

    def __init__(
        self, every: int, horizon_epochs: int, supply_tokens: float, circulating_tokens: float
    ) -> None:
        self.every = every
        self.horizon_epochs = horizon_epochs
        self.row = np.full(len(K.KPIS), np.nan)
        self.datacollector = mesa.DataCollector(
            model_reporters={name: self._reporter(i) for i, name in enumerate(K.KPI_NAMES)}
        )
        self.prev_supply_tokens = supply_tokens
        self.prev_circulating_tokens = circulating_tokens

    def _reporter(self, i: int) -> Callable[[mesa.Model], float]:
        """A DataCollector model reporter reading column ``i`` of :attr:`row`."""

        def report(model: mesa.Model) -> float:
            return float(self.row[i])

        report.__name__ = f"kpi_{K.KPI_NAMES[i]}"
        return report

    def record(self, model: mesa.Model, values: np.ndarray) -> None:
        """One epoch's KPI row, as the DataCollector's record of this step."""
        self.row = values
        self.datacollector.collect(model)

    def timeseries(self) -> pd.DataFrame:
        """The rows recorded so far, on the metrics cadence (``KPI_NAMES`` columns, ``epoch``
        as int64)."""
        df = self.datacollector.get_model_vars_dataframe().reset_index(drop=True)
        if self.every > 1 and len(df):
            df = pd.DataFrame(self._on_cadence(df.to_numpy(dtype=np.float64)), columns=df.columns)
        df["epoch"] = df["epoch"].astype(np.int64)
        return df

    def _on_cadence(self, epochs: np.ndarray) -> np.ndarray:
        """Per-epoch rows → one row every :attr:`every` epochs and after the last: flows
        summed (in epoch order; NaN if never measured), fairness KPIs as last measured,
        the rest as at the closing epoch."""
        sums = np.zeros(epochs.shape[1])
        summed = np.zeros(epochs.shape[1], dtype=bool)
        fairness = np.full(epochs.shape[1], np.nan)
        rows: list[np.ndarray] = []
        for values in epochs:  # one pass over epochs, vectorised over columns
            finite = np.isfinite(values)
            flows = K.FLOW_MASK & finite
            sums[flows] += values[flows]
            summed |= flows
            fair = K.FAIRNESS_MASK & finite
            fairness[fair] = values[fair]
            epoch = int(values[K.KPI_INDEX["epoch"]])
            if epoch % self.every and epoch != self.horizon_epochs - 1:
                continue
            row = values.copy()
            measured = K.FLOW_MASK & ~np.isnan(values)  # NaN: never measured (e.g. no chain)
            row[measured] = np.where(summed, sums, np.nan)[measured]
            row[K.FAIRNESS_MASK] = fairness[K.FAIRNESS_MASK]
            rows.append(row)
            sums[:] = 0.0
            summed[:] = False
            fairness[:] = np.nan
        return np.array(rows).reshape(len(rows), epochs.shape[1])


def collect(model: EconomyModel, flows: EpochFlows) -> None:
    """The epoch's KPI row, the agent snapshot on its cadence, and the invariant checks."""
    sc = model.scenario
    last = flows.epoch == sc.epochs - 1
    model.recorder.record(model, K.row_of(kpi_values(model, flows)))
    every = sc.collect.agent_snapshot_every_epochs
    if last or (every and flows.epoch % every == 0):
        model.snapshots.append(agent_snapshot(model))
    model.exchange.check()
    if model.check:
        model.ledger.check_invariants()


def kpi_values(model: EconomyModel, flows: EpochFlows) -> dict[str, float]:
    """Every KPI measured this epoch, by name (see ``sim.kpis`` for what each means)."""
    out: dict[str, float] = {"epoch": float(flows.epoch)}
    out.update(_supply(model, flows))
    if flows.market is not None:
        m = flows.market
        out.update(
            unlocked_tokens=m.unlocked_tokens,
            sold_tokens=m.sold_tokens,
            sales_usd=m.sales_usd,
            exogenous_flow_usd=m.exogenous_flow_usd,
        )
    if flows.contribution is not None:
        c = flows.contribution
        out.update(
            points_submitted=float(c.points_submitted),
            points_accepted=float(c.points_accepted),
            points_rejected=float(c.points_rejected),
        )
    backdoor = model.scenario.population.poisoners.backdoor > 0  # measured only then
    out["accuracy"], out["attack_success"] = quality(model.roles.builders, backdoor)
    out["accuracy_honest_only"] = model.truth.honest_only_accuracy
    out.update(_usage(flows))
    out.update(fairness_kpis(flows.epoch, model.truth, model.accounts))
    out.update(_roles(model, flows))
    out.update(_chain(flows))
    out.update(model.defenses.kpis(flows.defense))
    return out


def _supply(model: EconomyModel, flows: EpochFlows) -> dict[str, float]:
    """Supply, market and holdings KPIs at the end of the epoch."""
    led = model.ledger
    rec = model.recorder
    pool = model.exchange.pool
    protocol = model.accounts.protocol
    price = model.exchange.price_usd
    supply = led.supply
    circ = M.circulating_supply(led.balance, led.staked, led.bonded, led.locked)
    staked = float(led.staked.sum())
    routing = flows.consumption.routing if flows.consumption is not None else None
    stakers_fees = routing.stakers_fees_tokens if routing is not None else 0.0
    out = {
        "price_usd": price,
        "supply_tokens": supply,
        "minted_tokens": led.minted,
        "burned_tokens": led.burned,
        "circulating_tokens": circ,
        "locked_tokens": float(led.locked.sum()),
        "staked_tokens": staked,
        "bonded_tokens": float(led.bonded.sum()),
        "reward_pool_tokens": float(
            led.balance[protocol.reward_pool] + led.locked[protocol.reward_pool]
        ),
        "treasury_tokens": float(led.balance[protocol.treasury] + led.locked[protocol.treasury]),
        "supply_inflation": float(M.inflation(rec.prev_supply_tokens, supply)),
        "circulating_inflation": float(M.inflation(rec.prev_circulating_tokens, circ)),
        "market_cap_usd": float(M.market_cap(price, circ)),
        "fdv_usd": float(M.fdv(price, supply)),
        "staking_ratio": float(M.staking_ratio(staked, circ)) if circ > 0 else np.nan,
        "real_yield": float(M.real_yield(stakers_fees, staked, model.epochs_per_year))
        if staked > 0
        else np.nan,
        "amm_token_reserve": pool.token_reserve_tokens,
        "amm_cash_reserve_usd": pool.cash_reserve_usd,
        "datanet_points": float(sum(s.store.n_active for s in model.datanets)),
    }
    # Compounding a huge per-epoch inflation (e.g. 1e15 tokens/epoch minted on a 1e9
    # supply) over a year exceeds float64: the annualised rate is then +inf, honestly.
    with np.errstate(over="ignore"):
        out["circulating_inflation_annualised"] = float(
            M.annualise(out["circulating_inflation"], model.epochs_per_year)
        )
    hold = led.balance + led.staked
    out["gini_holdings"] = M.gini(hold[model.accounts.cols.role != 0])
    rec.prev_supply_tokens = supply
    rec.prev_circulating_tokens = circ
    return out


def _usage(flows: EpochFlows) -> dict[str, float]:
    """Inference, fee and reward KPIs."""
    out: dict[str, float] = {}
    c = flows.consumption
    if c is not None:
        out.update(
            inferences=c.inferences, wash_inferences=c.wash_inferences, fees_tokens=c.fees_tokens
        )
        if c.routing is not None:
            out.update(
                fees_burned_tokens=c.routing.fees_burned_tokens,
                builder_income_tokens=c.routing.builder_income_tokens,
                stakers_fees_tokens=c.routing.stakers_fees_tokens,
            )
    r = flows.rewards
    if r is not None:
        out.update(
            emission_tokens=r.emission_tokens,
            rewards_tokens=r.total_tokens,
            payout_recipients=float(r.recipients),
        )
        out.update({f"reward_{role}_tokens": v for role, v in r.by_role_tokens.items()})
    return out


def _roles(model: EconomyModel, flows: EpochFlows) -> dict[str, float]:
    """Churn flows and active individuals per contributing role."""
    out: dict[str, float] = {}
    ch = flows.churn
    for rs in model.roles.contributors:
        if ch is not None:
            out[f"{rs.role}_left"] = float(ch.left[rs.role])
            out[f"{rs.role}_joined"] = float(ch.joined[rs.role])
        out[f"active_{rs.role}"] = float(rs.n_active)
    return out


def _chain(flows: EpochFlows) -> dict[str, float]:
    """The chain's account of the epoch (none without a chain)."""
    s = flows.settlement
    if s is None:
        return {}
    st = s.stats
    return {
        "chain_tx_submitted": float(st.tx_submitted),
        "chain_tx_included": float(st.tx_included),
        "chain_backlog_tx": float(st.backlog_tx),
        "chain_payout_tx": float(s.payout_tx),
        "chain_base_fee_tokens": st.base_fee_end_tokens,
        "chain_gas_burned_tokens": st.base_fee_burned_tokens,
        "chain_tips_tokens": st.tips_tokens,
        "chain_gas_unpaid_tokens": s.gas_unpaid_tokens,
        "chain_latency_seconds": st.mean_latency_seconds,
    }


SNAPSHOT_COLUMNS = (
    "role",
    "account",
    "active",
    "joined_epoch",
    "left_epoch",
    "adversary",
    "balance_tokens",
    "staked_tokens",
    "bonded_tokens",
    "locked_tokens",
    "reward_tokens",
    "income_usd",
    "cost_usd",
)
"""Columns of an agent snapshot taken from the role sets; the registry adds
``points_accepted``, ``ground_truth_value`` (its points in the training window),
``ground_truth_value_accepted`` (all its accepted points) and ``fair_reward_tokens``."""


def agent_snapshot(model: EconomyModel) -> pd.DataFrame:
    """One row per individual of every role, with ledger holdings and outcomes."""
    cols = model.accounts.cols
    frames = []
    for rs in model.roles.all:
        if len(rs) == 0:
            continue
        f = rs.snapshot()
        acct = f["account"].to_numpy()
        f = f[list(SNAPSHOT_COLUMNS)].copy()
        f["points_accepted"] = cols.points_accepted[acct]
        f["ground_truth_value"] = cols.ground_truth_value[acct]
        f["ground_truth_value_accepted"] = cols.ground_truth_value_accepted[acct]
        f["fair_reward_tokens"] = cols.fair_reward_tokens[acct]
        frames.append(f)
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "epoch", model.epoch)
    return out
