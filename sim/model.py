"""The Mesa model of an AI data-attribution economy.

``EconomyModel.step()`` is one epoch. Its eight phases run in this fixed order (DESIGN.md,
"Time and the epoch loop"), each a method below:

1. :meth:`phase_unlock_and_market` — vesting unlocks, sell policies, exogenous flow, AMM.
2. :meth:`phase_contribute` — providers, farmers and poisoners submit; defences screen.
3. :meth:`phase_train` — builders retrain on their cadence; quality on the held-out set.
4. :meth:`phase_consume` — consumers choose models, buy tokens, pay per inference.
5. :meth:`phase_attribute_and_reward` — fee split, attribution, emission, payouts.
6. :meth:`phase_settle` — the epoch's transactions go through the simpy chain.
7. :meth:`phase_churn` — individuals compare income with cost; they leave or join.
8. :meth:`phase_collect` — one row of model metrics; agent snapshots on a cadence.

Role sets (``agents/``) are Mesa agents standing for many individuals each; all
per-individual state is numpy columns keyed by ledger account ids (``account_*`` arrays
here map an account back to its role and row).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mesa
import numpy as np
import pandas as pd

from ledgerlab.agents.base import ROLE_NAMES, ChurnRule, RoleSet
from ledgerlab.agents.builders import BuilderSet
from ledgerlab.agents.consumers import ConsumerSet
from ledgerlab.agents.farmers import FarmerSet, WashSet
from ledgerlab.agents.holders import HolderSet
from ledgerlab.agents.plans import SubmissionPlan
from ledgerlab.agents.poisoners import PoisonerSet
from ledgerlab.agents.providers import ProviderSet
from ledgerlab.agents.validators import ValidatorSet
from ledgerlab.economics import attribution as attr
from ledgerlab.economics import metrics as M
from ledgerlab.economics.emission import EmissionSchedule, make_schedule
from ledgerlab.economics.fees import SPLIT_TOLERANCE, FeeSplit, split_fees
from ledgerlab.economics.learning import KNNClassifier, LogisticRegression, attack_success_rate
from ledgerlab.economics.ledger import Ledger, LedgerError
from ledgerlab.economics.market import ConstantProductPool, OrderFlow
from ledgerlab.economics.vesting import Bucket, VestingSchedule
from ledgerlab.scenarios import Scenario, apply_overrides, load
from ledgerlab.sim import datanet as dn
from ledgerlab.sim.chain import Chain, ChainParams, ChainParamsError, EpochChainStats
from ledgerlab.sim.defenses import DefensePipeline, ScreenContext
from ledgerlab.sim.world import DatanetState

STREAMS = (
    "setup",
    "market",
    "providers",
    "farmers",
    "poisoners",
    "wash",
    "contribute",
    "consumers",
    "queries",
    "attribution",
    "chain",
    "churn",
    "defenses",
)
"""Named random streams, each a numpy Generator spawned from the scenario seed in this
order (append new names at the end so existing streams keep their draws)."""


FAIRNESS_KPIS = (
    "spearman",
    "kendall_tau",
    "adversary_capture",
    "proportionality_gap",
    "envy_rate",
    "gini_rewards",
    "nakamoto_rewards",
)
"""Fairness KPIs, measured on ground-truth epochs only (NaN in between)."""

FINAL_VALUATION_KPIS = (*FAIRNESS_KPIS, "accuracy_honest_only")
"""Columns whose value on a run's *last* row includes the valuation made after the last
epoch (``attribution.ground_truth``: "0 = only after the last epoch"), so on that one row
they depend on the horizon by definition. Every other value of every row depends only on
the scenario and the epochs up to its own: the first N rows of a longer run equal a run of
N epochs bit for bit (random streams are drawn epoch by epoch), except these columns on
the shorter run's last row — and, with ``collect.metrics_every_epochs`` > 1, that last
row as a whole when it closes a partial interval (its flows sum fewer epochs)."""

FLOW_KPIS = frozenset(
    {
        "unlocked_tokens",
        "emission_tokens",
        "sold_tokens",
        "sales_usd",
        "exogenous_flow_usd",
        "points_submitted",
        "points_accepted",
        "points_rejected",
        "inferences",
        "wash_inferences",
        "fees_tokens",
        "fees_burned_tokens",
        "builder_income_tokens",
        "stakers_fees_tokens",
        "rewards_tokens",
        "reward_providers_tokens",
        "reward_farmers_tokens",
        "reward_wash_tokens",
        "reward_poisoners_tokens",
        *(
            f"{r}_{e}"
            for r in ("providers", "farmers", "wash", "poisoners")
            for e in ("left", "joined")
        ),
        "chain_tx_submitted",
        "chain_tx_included",
        "chain_payout_tx",
        "chain_gas_burned_tokens",
        "chain_tips_tokens",
        "chain_gas_unpaid_tokens",
        *DefensePipeline.FLOW_KPI_NAMES,
    }
)
"""Per-epoch flows (tokens, USD, points, inferences, transactions, individuals). With
``collect.metrics_every_epochs`` = N > 1, a timeseries row holds their sums over the epochs
since the previous row, so column totals stay the run's totals; every other column is the
value at the row's epoch (fairness KPIs: the latest ground-truth measurement in the
interval, NaN if none)."""

MAX_ORDER_TO_RESERVE = 1e12
"""Most one epoch's netted orders may put into the AMM, relative to the reserve they trade
against (USD against the cash reserve, tokens against the token reserve). Past it the
constant-product output rounds to the pool's whole reserve in float64 (the pool refuses the
trade); at it the reserve left is ~1e-12 of what it was, still held to ~4 significant
digits. Larger orders are filled pro rata up to it."""

MIN_POOL_K = 1e-100
"""Smallest product k of the AMM's launch reserves (tokens·USD) the model accepts. k never
decreases; the price is cash² / k and the token reserve k / cash, so k bounds both: with
cash reserves up to ~1e65 USD (:data:`MAX_FLOW_TREND_USD`) the price stays below ~1e230
USD/token and the reserve above ~1e-165 tokens, finite and positive float64. A smaller k
(e.g. ``pool_liquidity_usd`` 1e-60 at 1e9 USD/token) is a ``ModelSetupError``."""

MAX_FLOW_TREND_USD = 1e60
"""Largest expected exogenous flow per epoch the model accepts (USD): the trend
``mean_usd_per_epoch · exp(growth_per_epoch · t)`` times shock multipliers, over the
horizon. The AMM's price is cash² / k; with cash reserves up to ~1e65 USD and
k >= :data:`MIN_POOL_K` it stays a finite float64 (and the noise around the trend has
~1e240 of headroom before exp overflows)."""

MIN_HALF_LIFE_EPOCHS = 1e-290
"""Shortest emission half-life the model uses (epochs). Any half-life this short issues
everything in epoch 0 and nothing after; shorter ones (the schema allows down to 5e-324)
make log(2)/half-life overflow to infinity, and infinity × epoch 0 is NaN. At this bound
the exponent stays finite for any epoch up to 1e10."""

MAX_EXACT_BUY_SHARE = 0.5
"""Largest share of the AMM's token reserve one exact-output purchase may take (consumers
and wash consumers buying the tokens they pay fees with, sybil operators funding their
identities). Taking it quadruples the price; buyers beyond it are served pro rata."""

MAX_TX_PER_KIND_PER_EPOCH = 2**40
"""Most transactions of one kind (inference, payout, swap, submission, defence) the chain
is handed per epoch (~1.1e12, orders of magnitude beyond any chain's throughput). Five
kinds over the schema's longest horizon (1e5 epochs) then keep the chain's int64 backlog
(< 5.5e17) and its float64 per-bucket counts (< 2^53) exact."""

AMM_LEDGER_RTOL = 1e-9
"""Largest gap between the pool's and the ledger's token reserve after a trade, relative to
the tokens involved (reserve before the trade + tokens moved): the rounding of a sum of
n pro-rata shares is at most ~n·2⁻⁵³ of it, far below this for any n up to millions."""

ONBOARDING_TOKENS = 1.0
"""Grant each new honest provider receives from the treasury at joining (tokens)."""


class ModelSetupError(ValueError):
    """The scenario cannot be set up (e.g. the treasury cannot fund the AMM or stakes)."""


def resolve_scenario(
    scenario: Scenario | str | Path | None, overrides: Mapping[str, Any]
) -> Scenario:
    """A ``Scenario`` from a Scenario, a YAML path or None (the baseline), with
    double-underscore/dotted overrides applied and revalidated."""
    if scenario is None:
        sc = Scenario()
    elif isinstance(scenario, Scenario):
        sc = scenario
    elif isinstance(scenario, str | Path):
        sc = load(scenario)
    else:
        raise ModelSetupError(
            f"scenario must be a Scenario, a path or None, got {type(scenario).__name__}"
        )
    if overrides:
        sc = apply_overrides(sc, dict(overrides))
    return sc


def _seed_of(rng: Any, scenario_seed: int) -> int:
    """The integer seed a run uses: ``rng`` if given as an int, else one drawn from a
    Generator, else the scenario's seed."""
    if rng is None:
        return int(scenario_seed)
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(0, 2**63 - 1))
    if isinstance(rng, int | np.integer):
        return int(rng)
    raise ModelSetupError(f"rng must be None, an int seed or a numpy Generator, got {rng!r}")


class EconomyModel(mesa.Model):
    """An attribution economy simulated epoch by epoch.

    Args:
        scenario: A :class:`~scenarios.Scenario`, a path to a YAML scenario, or None for the
            baseline defaults.
        rng: Optional seed (int) or numpy Generator; default: the scenario's ``seed``.
        seed: Alias of an int ``rng`` (so ``mesa.batch_run`` parameters may sweep ``seed``).
        check: Run the ledger's full O(N) invariant check at the end of every epoch.
        **overrides: Scenario overrides by path, ``population__providers=500`` or
            ``{"tokenomics.emission.kind": "halving"}`` style.
    """

    def __init__(
        self,
        scenario: Scenario | str | Path | None = None,
        *,
        rng: Any = None,
        seed: int | None = None,
        check: bool = False,
        **overrides: Any,
    ) -> None:
        sc = resolve_scenario(scenario, overrides)
        if seed is not None:
            rng = int(seed)
        run_seed = _seed_of(rng, sc.seed)
        if run_seed != sc.seed:
            sc = apply_overrides(sc, {"seed": run_seed})
        super().__init__(rng=run_seed)
        self.scenario: Scenario = sc
        self.check = check
        self.epoch = 0
        children = np.random.SeedSequence(run_seed).spawn(len(STREAMS))
        self.streams: dict[str, np.random.Generator] = {
            name: np.random.Generator(np.random.PCG64(ss))
            for name, ss in zip(STREAMS, children, strict=True)
        }
        self.epochs_per_year = 365.25 / sc.epoch_days

        # -- ledger and account registry -------------------------------------------
        self.ledger = Ledger(capacity=1024, journal=sc.collect.journal)
        self.account_role = np.zeros(0, dtype=np.int8)
        self.account_adversary = np.zeros(0, dtype=bool)
        self.account_row = np.zeros(0, dtype=np.int64)
        self.account_joined = np.zeros(0, dtype=np.int64)
        # Cumulative per-account outcomes used by the fairness metrics.
        self.reward_cum = np.zeros(0)
        self.fair_reward_cum = np.zeros(0)
        self.points_cum = np.zeros(0, dtype=np.int64)
        self.gt_value = np.zeros(0)
        self._rewards_since_gt = 0.0
        self._gt_epoch = -1
        self._honest_only_accuracy = np.nan
        self._flow_sums: dict[str, float] = {}
        """Flow KPIs summed over the epochs since the last timeseries row."""
        self._fairness_latest: dict[str, float] = {}
        """Latest fairness measurement since the last timeseries row."""
        self._trail_cache: dict[tuple[int, bool], _TrailShape] = {}
        """Last simulated retrieval trail of each (builder row, wash?) pair, reused between
        simulations when ``attribution.trail_every_epochs`` > 1."""
        self._fees_by_payer: tuple[np.ndarray, np.ndarray] = (np.zeros(0, np.int64), np.zeros(0))
        self.funding_edges: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        """Funding transfers between identities, (src, dst, amount_tokens) arrays per
        batch: the edges of the funding graph a sybil defence analyses."""
        self.treasury, self.reward_pool, self.amm, self.outside, self.escrow = (
            int(a) for a in self.register_accounts(5, role="protocol", adversary=False)
        )
        self.protocol_accounts = np.array(
            [self.treasury, self.reward_pool, self.amm, self.escrow], dtype=np.int64
        )

        # -- datanets --------------------------------------------------------------
        setup = self.streams["setup"]
        self.datanet_specs = sc.datanets
        self.n_datanets = len(sc.datanets)
        self.datanets = [DatanetState.create(spec, setup) for spec in sc.datanets]

        # -- roles -----------------------------------------------------------------
        pop = sc.population
        churn = ChurnRule(
            enabled=pop.churn.enabled,
            ema_epochs=float(pop.churn.lookback_epochs),
            min_age_epochs=pop.churn.lookback_epochs,
            exit_ratio=1.0 + pop.churn.exit_below_return_on_cost,
            entry_rate=pop.churn.entry_rate_per_epoch,
        )
        self.holders = HolderSet(self)
        self.providers = ProviderSet(self, pop, churn)
        self.builders = BuilderSet(self, pop)
        self.consumers = ConsumerSet(self, pop)
        self.validators = ValidatorSet(self, pop)
        self.farmers = FarmerSet(self, pop.farmers, churn)
        self.wash = WashSet(self, pop.farmers, churn)
        self.poisoners = PoisonerSet(self, pop.poisoners, churn)
        self.role_sets: tuple[RoleSet, ...] = (
            self.holders,
            self.providers,
            self.builders,
            self.consumers,
            self.validators,
            self.farmers,
            self.wash,
            self.poisoners,
        )

        # -- tokenomics: genesis, AMM, stakes --------------------------------------
        tk = sc.tokenomics
        self.fee_split = _fee_split(tk.fee_split)
        self._genesis(setup)
        self.emission_schedule = self._emission_schedule()
        self._setup_order_flow()
        self.chain = self._make_chain()

        # -- population at launch --------------------------------------------------
        self.builders.populate(setup)
        self._fund_stakes()
        self.providers.spawn(pop.providers, setup)
        self.providers.founders = pop.providers
        self.consumers.populate(setup)
        self.farmers.populate(setup)
        self.wash.spawn(pop.farmers.wash, setup)
        self.wash.founders = pop.farmers.wash
        self.poisoners.populate(setup)
        self._seed_datanets(setup)

        self.defenses = DefensePipeline(self, sc.defenses)

        # -- recording -------------------------------------------------------------
        self.kpis: dict[str, float] = {}
        self.snapshots: list[pd.DataFrame] = []
        self.chain_stats: EpochChainStats | None = None
        self._prev_supply = self.ledger.supply
        self._prev_circulating = self.circulating_supply()
        self.datacollector = mesa.DataCollector(
            model_reporters={name: _kpi_reporter(name) for name in KPI_NAMES}
        )
        self.running = True

    # ======================================================================== setup
    def register_accounts(self, n: int, *, role: str, adversary: bool) -> np.ndarray:
        """Open ``n`` ledger accounts for individuals of ``role`` and record who they are."""
        accounts = self.ledger.open_accounts(n)
        size = self.ledger.n_accounts
        if self.account_role.shape[0] < size:
            cap = max(size, 2 * self.account_role.shape[0])
            self.account_role = _grow(self.account_role, cap)
            self.account_adversary = _grow(self.account_adversary, cap)
            self.account_row = _grow(self.account_row, cap, fill=-1)
            self.account_joined = _grow(self.account_joined, cap)
            self.reward_cum = _grow(self.reward_cum, cap)
            self.fair_reward_cum = _grow(self.fair_reward_cum, cap)
            self.points_cum = _grow(self.points_cum, cap)
            self.gt_value = _grow(self.gt_value, cap)
        self.account_role[accounts] = ROLE_NAMES.index(role)
        self.account_adversary[accounts] = adversary
        self.account_joined[accounts] = self.epoch
        return accounts

    def _genesis(self, rng: np.random.Generator) -> None:
        """Mint the genesis supply into locked vesting buckets, unlock the TGE share, seed
        the AMM from the liquidity bucket."""
        tk = self.scenario.tokenomics
        supply = tk.total_supply_tokens
        self.vesting = VestingSchedule(
            [
                Bucket(
                    name=b.name,
                    amount_tokens=b.share * supply,
                    tge_fraction=b.tge_fraction,
                    cliff_epochs=b.cliff_epochs,
                    linear_epochs=b.linear_epochs,
                )
                for b in tk.vesting
            ]
        )
        self.bucket_accounts: list[np.ndarray] = []
        for i, b in enumerate(tk.vesting):
            amount = b.share * supply
            if b.recipient == "holders":
                rows = self.holders.add(b.holders, bucket=i)
                accts = self.holders.cols.account[rows]
            elif b.recipient == "reward_pool":
                accts = np.array([self.reward_pool], dtype=np.int64)
            else:  # liquidity: the treasury provides the AMM's token reserve
                accts = np.array([self.treasury], dtype=np.int64)
            self.ledger.mint_locked_many(accts, np.full(accts.size, amount / accts.size))
            self.bucket_accounts.append(accts)
        self.holders.founders = len(self.holders)
        # The TGE shares unlock at genesis, so the AMM can be seeded before epoch 0; the
        # epochs then unlock the linear parts (``unlocked_tokens`` excludes the TGE).
        self.bucket_unlocked = np.zeros(len(tk.vesting))
        tge = np.array([b.tge_tokens for b in self.vesting.buckets])
        for i, accts in enumerate(self.bucket_accounts):  # a handful of buckets
            if tge[i] > 0:
                self.ledger.unlock_many(accts, np.full(accts.size, tge[i] / accts.size))
                self.bucket_unlocked[i] = tge[i]

        mk = self.scenario.market
        reserve_tokens = mk.pool_liquidity_usd / mk.initial_price_usd
        available = float(self.ledger.balance[self.treasury])
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
        self.ledger.transfer(self.treasury, self.amm, reserve_tokens)
        self.pool = ConstantProductPool(reserve_tokens, mk.pool_liquidity_usd, mk.amm_fee)

        frac = tk.staking.initial_staked_fraction
        if frac > 0 and len(self.holders):
            accts = self.holders.cols.account
            self.ledger.stake_many(accts, self.ledger.balance[accts] * frac)

    def _setup_order_flow(self) -> None:
        """The exogenous order-flow process, drawn epoch by epoch in
        :meth:`_exogenous_flow_usd` (never for the whole horizon up front, so the first N
        epochs of a longer run equal a run of N epochs)."""
        of = self.scenario.market.order_flow
        self.order_flow = OrderFlow(
            mean_usd_per_epoch=of.mean_usd_per_epoch,
            drift_per_epoch=of.growth_per_epoch,
            volatility=of.volatility,
            sell_share=of.sell_share,
            persistent=of.persistent,
            shocks=tuple((s.epoch, s.multiplier) for s in of.shocks),
        )
        self._order_flow_walk = 0.0
        """Running sum of the order flow's log-magnitude normals (its random-walk state)."""
        self._shock_net_usd: dict[int, list[float]] = {}
        """Per epoch, the one-off net flows of its shocks, in the order listed (USD)."""
        for s in of.shocks:
            self._shock_net_usd.setdefault(s.epoch, []).append(s.net_usd)
        self._check_order_flow_trend()

    def _check_order_flow_trend(self) -> None:
        """Refuse at setup an order flow whose expected size outgrows what the model can
        trade within the horizon: ``mean · exp(growth · t)``, times the epoch's shock
        multipliers, above :data:`MAX_FLOW_TREND_USD` at some epoch t < epochs. (Drawn
        epoch by epoch, such a flow would otherwise fail only when it got there.)"""
        sc = self.scenario
        of = sc.market.order_flow
        if of.mean_usd_per_epoch == 0:
            return
        log_mean = math.log(of.mean_usd_per_epoch)
        worst = log_mean + max(of.growth_per_epoch, 0.0) * (sc.epochs - 1)
        log_mult: dict[int, float] = {}
        for s in of.shocks:
            if s.epoch < sc.epochs:
                m = math.log(s.multiplier) if s.multiplier > 0 else -math.inf
                log_mult[s.epoch] = log_mult.get(s.epoch, 0.0) + m
        for epoch, lm in log_mult.items():
            worst = max(worst, log_mean + of.growth_per_epoch * epoch + lm)
        if worst > math.log(MAX_FLOW_TREND_USD):
            raise ModelSetupError(
                f"market.order_flow grows to about e^{worst:.0f} USD per epoch within "
                f"{sc.epochs} epochs (mean_usd_per_epoch · exp(growth_per_epoch · epoch) · "
                f"shock multipliers), beyond the {MAX_FLOW_TREND_USD:g} USD the model can "
                "trade; lower growth_per_epoch, the shock multipliers or the horizon"
            )

    def _emission_schedule(self) -> EmissionSchedule | None:
        """The minting schedule (None for ``pool_drip``, which pays from the reward pool)."""
        e = self.scenario.tokenomics.emission
        if e.kind == "pool_drip":
            return None
        if e.kind == "constant":
            return make_schedule("constant", rate=e.tokens_per_epoch, cap=e.cap_tokens)
        if e.kind == "linear_decay":
            return make_schedule(
                "linear_decay",
                initial=e.initial_tokens_per_epoch,
                final=e.final_tokens_per_epoch,
                duration=max(1, round(e.decay_epochs)),
                cap=e.cap_tokens,
            )
        if e.kind == "exponential_decay":
            return make_schedule(
                "exponential_decay",
                initial=e.initial_tokens_per_epoch,
                half_life=max(e.half_life_epochs, MIN_HALF_LIFE_EPOCHS),
                cap=e.cap_tokens,
            )
        if e.kind == "halving":
            return make_schedule(
                "halving",
                initial=e.initial_tokens_per_epoch,
                period=max(1, round(e.halving_interval_epochs)),
                cap=e.cap_tokens,
            )
        if e.kind == "supply_halving":
            if e.initial_tokens_per_epoch == 0 or e.cap_tokens / 2 == 0:
                return make_schedule("constant", rate=0.0)  # nothing to issue, ever
            return make_schedule(
                "supply_halving", initial=e.initial_tokens_per_epoch, threshold=e.cap_tokens / 2
            )
        return make_schedule(
            "table",
            epochs=tuple(s.start_epoch for s in e.steps),
            rates=tuple(s.tokens_per_epoch for s in e.steps),
            cap=e.cap_tokens,
        )

    def _make_chain(self) -> Chain | None:
        c = self.scenario.chain
        if not c.enabled:
            return None
        try:
            params = ChainParams(
                block_time_seconds=c.block_time_seconds,
                block_capacity_tx=c.block_capacity_tx,
                epoch_seconds=86_400.0 * self.scenario.epoch_days,
                initial_base_fee_tokens=c.initial_base_fee_tokens,
                min_base_fee_tokens=c.min_base_fee_tokens,
                # The ceiling is a safety bound of the fee market, not a scenario field:
                # it must not sit below the fees the scenario starts from.
                max_base_fee_tokens=max(ChainParams.max_base_fee_tokens, c.initial_base_fee_tokens),
                base_fee_max_change=c.base_fee_max_change,
                target_fullness=c.target_fullness,
                tip_median_tokens=max(c.tip_tokens, 1e-12),
                tip_sigma=0.0 if c.tip_tokens == 0 else 1.0,
                payout_policy=c.payout_policy,
                max_events_per_epoch=c.max_events_per_epoch,
            )
        except ChainParamsError as error:  # e.g. an epoch that is not a whole number of blocks
            raise ModelSetupError(
                f"the chain cannot be set up: {error} (set chain.block_time_seconds and "
                "epoch_days so that an epoch holds a whole number of blocks)"
            ) from None
        return Chain(params, self.streams["chain"])

    def _fund_stakes(self) -> None:
        """Builders and validators receive their stake from the treasury and stake it."""
        pop = self.scenario.population
        self.validators.populate(self.streams["setup"])
        accts = np.concatenate([self.builders.cols.account, self.validators.cols.account])
        amounts = np.concatenate(
            [
                np.full(len(self.builders), pop.builder_stake_tokens),
                np.full(len(self.validators), pop.validator_stake_tokens),
            ]
        )
        need = float(amounts.sum())
        have = float(self.ledger.balance[self.treasury])
        if need > have:
            raise ModelSetupError(
                f"builders and validators stake {need:,.0f} tokens but the treasury holds "
                f"{have:,.0f} after seeding the AMM; lower the stakes or the AMM liquidity"
            )
        if need > 0:
            self.ledger.transfer_many(np.full(accts.size, self.treasury), accts, amounts)
            self.ledger.stake_many(accts, amounts)

    def _seed_datanets(self, rng: np.random.Generator) -> None:
        """Each datanet starts with clean seed points owned by the protocol treasury."""
        for state in self.datanets:
            n = state.spec.seed_points
            if n:
                batch = dn.honest(state.task, np.full(n, self.treasury), 1.0, rng)
                state.store.append(batch, epoch=0)
            state.sync_columns()

    # =================================================================== utilities
    @property
    def price_usd(self) -> float:
        """Current AMM spot price (USD/token)."""
        return float(self.pool.price)

    def circulating_supply(self) -> float:
        """Unlocked supply: every token not locked in vesting, wherever it sits (the
        convention of token trackers, and of ``analysis.tokenomics``) (tokens)."""
        led = self.ledger
        return M.circulating_supply(led.balance, led.staked, led.bonded, led.locked)

    def buy_tokens_for(self, accounts: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """Buyers acquire exactly ``tokens`` each on the AMM in one aggregated swap; returns
        the USD each paid (pro-rata to tokens). The token side moves on the ledger. If
        together they ask for more than :data:`MAX_EXACT_BUY_SHARE` of the token reserve,
        each receives the same fraction of its request (callers read balances after)."""
        total = float(tokens.sum())
        if total <= 0:
            return np.zeros(tokens.shape[0])
        reserve = self.pool.token_reserve_tokens
        if total > MAX_EXACT_BUY_SHARE * reserve:  # a thin market serves buyers pro rata
            tokens = tokens * (MAX_EXACT_BUY_SHARE * reserve / total)
            total = float(tokens.sum())
        cash = self.pool.buy_tokens_exact(total)
        self.ledger.transfer_many(np.full(accounts.size, self.amm), accounts, tokens)
        self._sync_amm_reserve(reserve + total)
        return cash * tokens / total

    def affordable_each(self, account: int, n: int, want_tokens: float) -> float:
        """What each of ``n`` equal transfers from ``account`` can carry (tokens):
        ``want_tokens`` if the balance covers the ledger's sum of the ``n`` transfers,
        else the balance over ``n`` less the worst-case rounding of a sum of ``n`` terms,
        so the batch never overdraws the account."""
        if n <= 0:
            return 0.0
        balance = float(self.ledger.balance[account])
        rows = np.full(n, want_tokens)
        if _ledger_sum(rows) <= balance:
            return want_tokens
        return float(_fit_sum(np.full(n, balance / n), balance)[0])

    def fund(self, src: int, dst: np.ndarray, amount_each: float) -> None:
        """Funding transfers (recorded as funding-graph edges for the sybil defence)."""
        amounts = np.full(dst.size, amount_each)
        self.ledger.transfer_many(np.full(dst.size, src), dst, amounts)
        self.funding_edges.append((np.full(dst.size, src), dst.copy(), amounts))

    def onboard(self, accounts: np.ndarray) -> None:
        """New honest providers receive a small onboarding grant from the treasury; the
        transfers are funding-graph edges (the honest region a sybil defence sees)."""
        if (
            accounts.size
            and self.ledger.balance[self.treasury] >= ONBOARDING_TOKENS * accounts.size
        ):
            self.fund(self.treasury, accounts, ONBOARDING_TOKENS)

    def trust_seeds(self) -> np.ndarray:
        """Accounts the protocol knows to be honest (SybilRank seeds): the first
        launch-time providers, as many as the sybil defence asks for."""
        want = next((d.trust_seeds for d in self.scenario.defenses if d.kind == "sybil_graph"), 0)
        n = min(want, self.providers.founders, len(self.providers))
        return self.providers.cols.account[:n].copy()

    def record_defense_cost(self, accounts: np.ndarray, usd: np.ndarray) -> None:
        """Book a defence's cost to individuals (USD, e.g. slashed bonds) for churn."""
        n = self.ledger.n_accounts
        if self._defense_cost_usd.size < n:
            self._defense_cost_usd = _grow(self._defense_cost_usd, n)
        np.add.at(self._defense_cost_usd, accounts, usd)

    def independent_contributor_fees(self, n_accounts: int) -> np.ndarray:
        """Per account: the contributor share of fees paid by independent consumers that
        attribution credited to it this epoch (tokens) — the wash guard's base. Retrieval
        credits per inference; other engines spread the independent fees by their weights."""
        out = np.zeros(n_accounts)
        for state in self.datanets:
            owners = state.store.owner
            if self.scenario.attribution.engine == "retrieval":
                out += np.bincount(
                    owners, weights=state.credit_independent[: owners.size], minlength=n_accounts
                )[:n_accounts]
            elif state.last_weights is not None and state.last_weights.sum() > 0:
                w = state.last_weights[:n_accounts]
                out[: w.size] += state.fees_independent_tokens * w / w.sum()
        return out

    def _unlock_through(self, epoch: int) -> float:
        """Unlock every bucket up to its schedule at the end of ``epoch``; returns tokens."""
        target = self.vesting.unlocked_by_bucket(epoch + 1)
        inc = np.maximum(target - self.bucket_unlocked, 0.0)
        total = 0.0
        for i, accts in enumerate(self.bucket_accounts):  # a handful of buckets
            if inc[i] <= 0:
                continue
            each = np.minimum(inc[i] / accts.size, self.ledger.locked[accts])
            self.ledger.unlock_many(accts, each)
            self.bucket_unlocked[i] += float(each.sum())
            total += float(each.sum())
        return total

    # ======================================================================= phases
    def step(self) -> None:
        """One epoch: the eight phases in order."""
        self.kpis = {"epoch": float(self.epoch)}
        self.ledger.epoch = self.epoch
        self._defense_cost_usd = np.zeros(self.ledger.n_accounts)
        self.defenses.begin_epoch()
        self.phase_unlock_and_market()
        self.phase_contribute()
        self.phase_train()
        self.phase_consume()
        self.phase_attribute_and_reward()
        self.phase_settle()
        self.phase_churn()
        self.phase_collect()
        self.epoch += 1
        if self.epoch >= self.scenario.epochs:
            self.running = False

    # -- 1 ---------------------------------------------------------------------------
    def phase_unlock_and_market(self) -> None:
        """Vesting releases; holders and earners sell by policy; the exogenous order flow
        trades; all of it nets into one AMM swap (``ConstantProductPool.execute_net``)."""
        led = self.ledger
        self.kpis["unlocked_tokens"] = self._unlock_through(self.epoch)
        price = self.price_usd
        sellers, sell_tokens = self._sell_orders(price)
        flow = self._exogenous_flow_usd()
        buy_usd = np.array([max(flow, 0.0)])
        if flow < 0:
            outside_tokens = min(-flow / price, float(led.balance[self.outside]))
            sellers = np.append(sellers, self.outside)
            sell_tokens = np.append(sell_tokens, outside_tokens)
        keep = sell_tokens > 0
        sellers, sell_tokens = sellers[keep], sell_tokens[keep]
        buy_usd, sell_tokens = self._bounded_orders(buy_usd, sell_tokens)
        usd_out = self._settle_market(sellers, sell_tokens, buy_usd)
        # Sale proceeds are a KPI only: churn values income at the price when earned.
        self.kpis["sales_usd"] = float(usd_out.sum())
        self.kpis["sold_tokens"] = float(sell_tokens.sum())
        self.kpis["exogenous_flow_usd"] = flow

    def _bounded_orders(
        self, buy_usd: np.ndarray, sell_tokens: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The epoch's orders, each side scaled down pro rata to at most
        :data:`MAX_ORDER_TO_RESERVE` times the pool's matching reserve (buys: USD against
        the cash reserve; sells: tokens against the token reserve). The unfilled part is
        not traded: sellers keep their tokens, buyers their USD."""
        cap_usd = MAX_ORDER_TO_RESERVE * self.pool.cash_reserve_usd
        cap_tokens = MAX_ORDER_TO_RESERVE * self.pool.token_reserve_tokens
        total_usd, total_tokens = float(buy_usd.sum()), float(sell_tokens.sum())
        if total_usd > cap_usd:
            buy_usd = buy_usd * (cap_usd / total_usd)
        if total_tokens > cap_tokens:
            sell_tokens = sell_tokens * (cap_tokens / total_tokens)
        return buy_usd, sell_tokens

    def _settle_market(
        self, sellers: np.ndarray, sell_tokens: np.ndarray, buy_usd: np.ndarray
    ) -> np.ndarray:
        """Net the epoch's orders into one AMM trade and move its tokens on the ledger;
        returns the USD each seller receives.

        The only buyer is the outside market (``outside``, buying ``buy_usd[0]`` USD). The
        matched part of the flow crosses between traders, so on the ledger every seller's
        tokens go to the outside market and the AMM account moves only the net change of
        its reserve as the pool computed it (in when sells exceed what the outside takes,
        out otherwise). The AMM's balance is thus never the difference of two large
        pass-through amounts, whose rounding (an ulp of the amounts traded) can exceed
        a collapsed reserve; the pool then adopts the ledger's balance
        (:meth:`_sync_amm_reserve`).
        """
        led = self.ledger
        reserve = self.pool.token_reserve_tokens
        _, usd_out = self.pool.execute_net(buy_usd, sell_tokens)
        delta = self.pool.token_reserve_tokens - reserve
        crossing = sellers != self.outside  # the outside's own sells stay where they are
        if crossing.any():
            led.transfer_many(
                sellers[crossing], np.full(int(crossing.sum()), self.outside), sell_tokens[crossing]
            )
        if delta > 0:  # a token can round past what was sold: the outside pays what it holds
            led.transfer(self.outside, self.amm, min(delta, float(led.balance[self.outside])))
        elif delta < 0:
            led.transfer(self.amm, self.outside, -delta)
        self._sync_amm_reserve(reserve + float(sell_tokens.sum()) + abs(delta))
        return usd_out

    def _exogenous_flow_usd(self) -> float:
        """This epoch's exogenous net flow (USD; negative = a sell of that many USD): two
        normals from the market stream, then the epoch's shocks' one-off net flows."""
        flow, self._order_flow_walk = self.order_flow.draw(
            self.epoch, self.streams["market"], self._order_flow_walk
        )
        for net_usd in self._shock_net_usd.get(self.epoch, ()):
            flow += net_usd
        return flow

    def _sell_orders(self, price: float) -> tuple[np.ndarray, np.ndarray]:
        """Accounts selling this epoch and how many tokens, from the sell policies."""
        tk = self.scenario.tokenomics
        names = [b.name for b in tk.vesting]
        groups: list[np.ndarray] = []
        amounts: list[np.ndarray] = []
        bal = self.ledger.balance
        for pol in tk.sell_policies:  # one policy per group: a handful
            if price < pol.min_price_usd or pol.fraction_per_epoch <= 0:
                continue
            if pol.holder in names:
                accts = self.bucket_accounts[names.index(pol.holder)]
            else:
                sets = {
                    "providers": (self.providers,),
                    "builders": (self.builders,),
                    "validators": (self.validators,),
                    "farmers": (self.farmers, self.wash),
                    "poisoners": (self.poisoners,),
                }[pol.holder]
                accts = np.concatenate([s.cols.account for s in sets])
            groups.append(accts)
            amounts.append(bal[accts] * pol.fraction_per_epoch)
        if not groups:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        return np.concatenate(groups), np.concatenate(amounts)

    # -- 2 ---------------------------------------------------------------------------
    def phase_contribute(self) -> None:
        """Providers, farmers, wash consumers and poisoners submit; the defences screen
        each datanet's submissions; accepted points join the datanets."""
        plans = [
            self.providers.plan(self.streams["providers"]),
            self.farmers.plan(self.streams["farmers"]),
            self.wash.plan(self.streams["wash"]),
            self.poisoners.plan(self.streams["poisoners"]),
        ]
        self.epoch_plans = plans
        accepted_total = 0
        rejected_total = 0
        cost_by_set: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for plan in plans:
            cost_by_set[plan.role] = (plan.rows, plan.n_points * plan.cost_usd_per_point)
        self.epoch_costs = cost_by_set
        rng = self.streams["contribute"]
        for d, state in enumerate(self.datanets):
            batch, sub_of_point, sub_owner, sub_role = self._make_points(d, state, plans, rng)
            if batch.size == 0:
                continue
            ctx = ScreenContext(
                datanet=d,
                state=state,
                batch=batch,
                submission=sub_of_point,
                submission_owner=sub_owner,
                submission_role=sub_role,
            )
            accept = self.defenses.screen(ctx)
            accepted = batch.select(accept)
            state.store.append(accepted, epoch=self.epoch)
            state.sync_columns()
            n_acct = self.points_cum.size
            self.points_cum += np.bincount(accepted.owner, minlength=n_acct)[:n_acct]
            accepted_total += accepted.size
            rejected_total += batch.size - accepted.size
        self.kpis["points_submitted"] = float(accepted_total + rejected_total)
        self.kpis["points_accepted"] = float(accepted_total)
        self.kpis["points_rejected"] = float(rejected_total)

    def _make_points(
        self,
        d: int,
        state: DatanetState,
        plans: list[SubmissionPlan],
        rng: np.random.Generator,
    ) -> tuple[dn.Batch, np.ndarray, np.ndarray, np.ndarray]:
        """Generate datanet ``d``'s submitted points, one generator call per kind.

        Returns the batch, the submission index of every point, and per submission its
        owner and role code.
        """
        owners = np.concatenate([p.owner for p in plans])
        sel_dn = np.concatenate([p.datanet for p in plans]) == d
        n_points = np.concatenate([p.n_points for p in plans])[sel_dn]
        kinds = np.concatenate([p.kind for p in plans])[sel_dn]
        quality = np.concatenate([p.quality for p in plans])[sel_dn]
        roles = np.concatenate(
            [np.full(p.n_submissions, ROLE_NAMES.index(p.role), dtype=np.int8) for p in plans]
        )[sel_dn]
        sub_owner = owners[sel_dn]
        jitter = self.scenario.population.farmers.near_duplicate_jitter
        pois = self.scenario.population.poisoners
        store = state.store
        # Farmers copy from the points models currently train on (the window): bounded
        # work per epoch however large the store grows.
        active = state.training_rows()
        batches: list[dn.Batch] = []
        subs: list[np.ndarray] = []
        for kind in np.unique(kinds):  # at most six kinds
            s_idx = np.flatnonzero(kinds == kind)
            sub = np.repeat(s_idx, n_points[s_idx])
            pt_owner = sub_owner[sub]
            if kind == dn.Kind.HONEST:
                # Sybil "fresh" points are drawn like honest ones at the sybils' label
                # quality; their owners, not their kind, mark them as farmed.
                b = dn.honest(state.task, pt_owner, quality[sub], rng)
            elif kind == dn.Kind.LABEL_FLIP:
                target = pois.label_flip_target_class if pois.label_flip_targeted else None
                b = dn.label_flip(state.task, pt_owner, rng, target=target)
            elif kind == dn.Kind.BACKDOOR:
                b = dn.backdoor(
                    state.task,
                    pt_owner,
                    rng,
                    pois.backdoor_trigger_features,
                    pois.backdoor_trigger_value,
                    pois.backdoor_target_class,
                )
            elif kind == dn.Kind.NOISE:
                b = dn.noise(state.task, pt_owner, rng)
            else:
                foreign = active[~np.isin(store.owner[active], pt_owner)]
                if foreign.size == 0:
                    continue
                src = (store.x[foreign], store.y[foreign])
                kw = {"source_owner": store.owner[foreign], "source_y_true": store.y_true[foreign]}
                if kind == dn.Kind.DUPLICATE or jitter == 0:  # no jitter: exact copies
                    b = dn.duplicate(*src, pt_owner, rng, **kw)
                else:
                    b = dn.near_duplicate(*src, pt_owner, rng, jitter=jitter, **kw)
            batches.append(b)
            subs.append(sub)
        if not batches:
            return dn.Batch.empty(state.spec.n_features), np.zeros(0, np.int64), sub_owner, roles
        return dn.concat_batches(batches), np.concatenate(subs), sub_owner, roles

    # -- 3 ---------------------------------------------------------------------------
    def phase_train(self) -> None:
        """Builders due this epoch retrain on their datanet's accepted points; clean
        accuracy and backdoor success are measured on the held-out set no agent sees."""
        b = self.builders
        pois = self.scenario.population.poisoners
        measure_backdoor = pois.backdoor > 0
        fitted: dict[int, tuple[Any, KNNClassifier, np.ndarray, float, float]] = {}
        for row in b.due(self.epoch):  # builders are few: one fit per retraining builder
            d = int(b.cols.datanet[row])
            if d not in fitted:  # builders of one datanet retraining together share a fit
                fit = self._fit_model(d, measure_backdoor)
                if fit is None:
                    continue
                fitted[d] = fit
            model, knn, rows, accuracy, attack = fitted[d]
            b.models[row] = (model, knn, rows)
            b.cols.accuracy[row] = accuracy
            b.cols.attack_success[row] = attack
            b.cols.trained_epoch[row] = self.epoch
            b.cols.train_points[row] = rows.size
        trained = b.cols.trained_epoch >= 0
        self.kpis["accuracy"] = (
            float(np.mean(b.cols.accuracy[trained])) if trained.any() else np.nan
        )
        self.kpis["attack_success"] = (
            float(np.nanmean(b.cols.attack_success[trained]))
            if trained.any() and measure_backdoor
            else np.nan
        )
        gt_every = self.scenario.attribution.ground_truth.every_epochs
        if (gt_every and self.epoch % gt_every == 0) or self.epoch == self.scenario.epochs - 1:
            honest = ~self.account_adversary
            accs = [s.honest_only_accuracy_at(self.epoch, s.spec.k, honest) for s in self.datanets]
            finite = [a for a in accs if np.isfinite(a)]
            self._honest_only_accuracy = float(np.mean(finite)) if finite else np.nan
        self.kpis["accuracy_honest_only"] = self._honest_only_accuracy

    def _fit_model(
        self, d: int, measure_backdoor: bool
    ) -> tuple[Any, KNNClassifier, np.ndarray, float, float] | None:
        """Fit datanet ``d``'s model on its accepted training window and measure it on the
        held-out set: (model, its kNN index, training rows, clean accuracy, backdoor
        success or NaN). None if the datanet has no training point."""
        state = self.datanets[d]
        rows = state.training_rows()
        if rows.size == 0:
            return None
        spec = state.spec
        pois = self.scenario.population.poisoners
        x, y = state.store.x[rows], state.store.y[rows]
        knn = KNNClassifier(k=spec.k).fit(x, y, n_classes=spec.n_classes)
        model: Any = knn
        if spec.model == "logistic":
            model = LogisticRegression().fit(x, y, n_classes=spec.n_classes)
        accuracy = float(np.mean(model.predict(state.x_val) == state.y_val))
        attack = (
            attack_success_rate(
                model,
                state.x_val,
                state.y_val,
                pois.backdoor_trigger_features,
                pois.backdoor_trigger_value,
                pois.backdoor_target_class,
            )
            if measure_backdoor
            else np.nan
        )
        return model, knn, rows, accuracy, attack

    # -- 4 ---------------------------------------------------------------------------
    def phase_consume(self) -> None:
        """Consumers choose models by accuracy and price, buy the tokens they need on the
        AMM, and pay per inference; wash consumers pay for queries on their own points.
        Fees are split: builder β, stakers γ, contributors δ (held in escrow until the
        attribution phase), burn φ; the flat platform fee goes to the treasury."""
        b = self.builders
        led = self.ledger
        price = self.price_usd
        n_b = len(b)
        for state in self.datanets:
            state.credit[:] = 0.0
            state.credit_independent[:] = 0.0
            state.fees_net_tokens = 0.0
        self.kpis.update(inferences=0.0, wash_inferences=0.0, fees_tokens=0.0)
        self._queries_owner_pairs = 0.0
        self.epoch_wash_cost = (np.zeros(0, np.int64), np.zeros(0))
        self._fees_by_payer = (np.zeros(0, np.int64), np.zeros(0))
        if n_b == 0 or not np.any(b.cols.trained_epoch >= 0):
            return  # no model to sell inferences yet
        fee_tok = (
            np.array([self.datanet_specs[d].pricing.fee_tokens() for d in b.cols.datanet])
            * b.cols.price_factor
        )
        net_tok = (
            np.array([self.datanet_specs[d].pricing.net_fee_tokens() for d in b.cols.datanet])
            * b.cols.price_factor
        )
        ready = b.cols.trained_epoch >= 0
        acc = np.where(ready, b.cols.accuracy, -np.inf)
        dem = self.consumers.demand(self.streams["consumers"], acc, fee_tok * price, fee_tok)
        c_rows = dem.rows
        w_rows, w_counts = self.wash.demand(self.streams["wash"])
        w_builder = self.wash.cols.builder[w_rows]
        # Tokens each payer needs, bought on the AMM in one aggregated swap.
        c_need = dem.cost
        w_need = w_counts * fee_tok[w_builder]
        payers = np.concatenate(
            [self.consumers.cols.account[c_rows], self.wash.cols.account[w_rows]]
        )
        due = np.concatenate([c_need, w_need])
        shortfall = np.maximum(due - led.balance[payers], 0.0)
        usd = self.buy_tokens_for(payers, shortfall)
        self.consumers.cols.spent_usd[c_rows] += usd[: c_rows.size]
        self.consumers.cols.inferences[c_rows] += dem.inferences
        self.epoch_wash_cost = (w_rows, usd[c_rows.size :])
        # Pay the fees into the treasury, then route the net part. Rounding in the
        # aggregated swap can leave a payer an ulp short, and a thin market may sell less
        # than was asked for (``buy_tokens_for``): each payer pays what it has.
        need = np.minimum(due, led.balance[payers])
        paid = need > 0
        led.transfer_many(payers[paid], np.full(int(paid.sum()), self.treasury), need[paid])
        inf_b = dem.by_model.astype(np.float64)
        wash_b = np.bincount(w_builder, weights=w_counts, minlength=n_b)
        scale = _paid_fraction(float(need.sum()), float(due.sum()))
        contrib = self._route_fees((inf_b + wash_b) * net_tok * scale)
        indep = split_fees(inf_b * net_tok * scale, self.fee_split)["contributors"]
        for d, state in enumerate(self.datanets):
            state.fees_net_tokens = float(contrib[b.cols.datanet == d].sum())
            state.fees_independent_tokens = float(indep[b.cols.datanet == d].sum())
        self._retrieval_trail(inf_b, w_rows, w_counts, w_builder, contrib)
        self.kpis["inferences"] = float(inf_b.sum())
        self.kpis["wash_inferences"] = float(wash_b.sum())
        self.kpis["fees_tokens"] = float(need.sum())
        self._fees_by_payer = (payers, need)

    def _route_fees(self, net_b: np.ndarray) -> np.ndarray:
        """Split each builder's net fees (tokens) and pay the parts out of the treasury:
        builder β to the builders, stakers γ pro rata to stake, burn φ, contributors δ into
        the escrow the attribution phase pays from. Returns the contributors' part per
        builder (tokens), as escrowed.

        No part is paid beyond what the treasury holds (each capped in turn, which binds
        only when the treasury is all but empty and the payers were short), so routing can
        never overdraw it."""
        led = self.ledger
        b = self.builders
        parts = split_fees(net_b, self.fee_split)
        builder = self._pay_out(self.treasury, b.cols.account, parts["builder"])
        b.cols.fees_tokens[:] += builder
        stakers = float(parts["stakers"].sum())
        self.kpis["stakers_fees_tokens"] = self._pay_stakers(
            min(stakers, float(led.balance[self.treasury]))
        )
        burn = min(float(parts["burn"].sum()), float(led.balance[self.treasury]))
        led.burn(self.treasury, burn)
        contrib = parts["contributors"]
        total = float(contrib.sum())
        escrowed = min(total, float(led.balance[self.treasury]))
        if escrowed < total:
            contrib = contrib * (escrowed / total)
        led.transfer(self.treasury, self.escrow, escrowed)
        self.kpis["fees_burned_tokens"] = burn
        self.kpis["builder_income_tokens"] = float(builder.sum())
        return contrib

    def _pay_stakers(self, tokens: float) -> float:
        """Distribute ``tokens`` from the treasury to all stakers pro-rata to stake."""
        if tokens <= 0:
            return 0.0
        staked = self.ledger.staked
        stakers = np.flatnonzero(staked > 0)
        if stakers.size == 0:
            return 0.0
        amounts = tokens * staked[stakers] / staked[stakers].sum()
        paid = self._pay_out(self.treasury, stakers, amounts)
        return tokens if paid is amounts else float(paid.sum())

    def _retrieval_trail(
        self,
        inf_b: np.ndarray,
        w_rows: np.ndarray,
        w_counts: np.ndarray,
        w_builder: np.ndarray,
        contrib_b: np.ndarray,
    ) -> None:
        """Simulate the queries behind this epoch's inferences and credit the K points
        that answered each (the per-inference attribution trail).

        Honest queries are clean draws from the task; wash queries sit on the wash
        consumers' own points. Each model simulates at most ``attribution.max_queries_per_model``
        queries of each sort, weighted so the credit sums to the contributor share δ of
        the fees they paid. With ``attribution.trail_every_epochs`` = N > 1, queries are
        simulated every N epochs (and whenever a model has retrained since its last
        simulation); on the epochs between, each model's fees are credited in the
        proportions of its last simulated trail — attribution on its own cadence.
        """
        b = self.builders
        a = self.scenario.attribution
        k_owner_pairs = 0.0
        wash_per_b = np.bincount(w_builder, weights=w_counts, minlength=len(b))
        for row in range(len(b)):  # builders are few
            if b.models[row] is None:
                continue
            total = inf_b[row] + wash_per_b[row]
            if total <= 0:
                continue
            _, _, rows = b.models[row]
            state = self.datanets[int(b.cols.datanet[row])]
            credit_per_inf = contrib_b[row] / total
            for n_inf, wash in ((inf_b[row], False), (wash_per_b[row], True)):
                if n_inf <= 0:
                    continue
                shape = self._trail_cache.get((row, wash))
                stale = (
                    shape is None
                    or shape.trained_epoch != b.cols.trained_epoch[row]
                    or self.epoch % a.trail_every_epochs == 0
                )
                if stale:
                    shape = self._simulate_trail(
                        row, wash, int(min(n_inf, a.max_queries_per_model))
                    )
                    if shape is None:
                        continue
                    self._trail_cache[(row, wash)] = shape
                credit = shape.credit * (credit_per_inf * n_inf)
                state.credit[rows] += credit
                if not wash:
                    state.credit_independent[rows] += credit
                k_owner_pairs += shape.distinct_owners * n_inf
        self._queries_owner_pairs = k_owner_pairs

    def _simulate_trail(self, row: int, wash: bool, n_q: int) -> _TrailShape | None:
        """Simulate ``n_q`` queries on builder ``row``'s model and return the credit each of
        its training points earns per token of fees (summing to 1), with the mean number of
        distinct owners among a query's K neighbours. None: a wash trail with no wash
        consumer's point in the model."""
        b = self.builders
        rng = self.streams["queries"]
        _, knn, rows = b.models[row]
        state = self.datanets[int(b.cols.datanet[row])]
        if wash:
            own = rows[np.isin(state.store.owner[rows], self.wash.cols.account)]
            if own.size == 0:
                return None
            pick = own[rng.integers(0, own.size, size=n_q)]
            q = state.store.x[pick] + 1e-6 * rng.standard_normal((n_q, state.spec.n_features))
        else:
            q, _ = state.task.sample(n_q, rng)
        dist, idx = knn.neighbours(q)
        credit = attr.retrieval(
            idx,
            np.full(n_q, 1.0 / n_q),
            rows.size,
            weights=self.scenario.attribution.retrieval_weights,
            distances=dist,
        )
        owners = state.store.owner[rows[idx]]
        srt = np.sort(owners, axis=1)
        distinct = 1 + np.count_nonzero(np.diff(srt, axis=1), axis=1)
        return _TrailShape(int(b.cols.trained_epoch[row]), credit, float(distinct.mean()))

    # -- 5 ---------------------------------------------------------------------------
    def phase_attribute_and_reward(self) -> None:
        """Value the data with the scenario's engine, add the epoch's emission to the
        contributors' fee escrow, apply the defences' reward adjustments and pay every
        contributor its positive share. Ground truth is refreshed on its own cadence."""
        sc = self.scenario
        led = self.ledger
        emission = self._emit()
        self.kpis["emission_tokens"] = emission
        n_acct = led.n_accounts
        fees_total = sum(s.fees_net_tokens for s in self.datanets)
        paid = np.zeros(n_acct)
        value_by_owner = np.zeros(n_acct)
        for state in self.datanets:
            pool_fee = state.fees_net_tokens
            share = pool_fee / fees_total if fees_total > 0 else 1.0 / max(self.n_datanets, 1)
            pool_emission = emission * share
            values = self._engine_values(state)
            owners = state.store.owner[: values.shape[0]]
            per_owner = np.bincount(owners, weights=values, minlength=n_acct)
            per_owner[self.protocol_accounts] = 0.0
            value_by_owner += per_owner
            weights = self.defenses.adjust_weights(state, np.maximum(per_owner, 0.0))
            state.last_weights = weights
            total_w = weights.sum()
            if total_w <= 0:
                continue
            paid += (pool_fee + pool_emission) * weights / total_w
        paid = self.defenses.cap_rewards(paid)
        fee_pool = float(led.balance[self.escrow])
        emission_pool = float(led.balance[self.reward_pool])
        total = float(paid.sum())
        if total > fee_pool + emission_pool:
            paid *= (fee_pool + emission_pool) / total
            total = float(paid.sum())
        recipients = np.flatnonzero(paid > 0)
        from_fees = min(total, fee_pool)
        if recipients.size:
            amounts = paid[recipients]
            fee_part = self._pay_out(self.escrow, recipients, amounts * (from_fees / total))
            rest = self._pay_out(self.reward_pool, recipients, amounts - fee_part)
            paid[recipients] = fee_part + rest
        self.reward_cum[:n_acct] += paid
        self._rewards_since_gt += total
        self._record_rewards(paid)
        self.epoch_paid = paid
        self.kpis["rewards_tokens"] = total
        self.kpis["payout_recipients"] = float(recipients.size)
        for role in ("providers", "farmers", "wash", "poisoners"):
            mask = self.account_role[:n_acct] == ROLE_NAMES.index(role)
            self.kpis[f"reward_{role}_tokens"] = float(paid[mask].sum())
        self.defenses.after_rewards(paid)
        gt = sc.attribution.ground_truth
        last = self.epoch == sc.epochs - 1
        if (gt.every_epochs and self.epoch % gt.every_epochs == 0) or last:
            self._ground_truth()
        self._fairness_kpis()

    def _pay_out(self, src: int, dst: np.ndarray, amounts: np.ndarray) -> np.ndarray:
        """Transfer ``amounts`` from ``src``; if rounding makes them exceed its balance by a
        few ulps, scale them down so the transfer never overdraws. Returns what was paid."""
        total = float(amounts.sum())
        balance = float(self.ledger.balance[src])
        limit = balance * (1.0 - 1e-12)  # the ledger sums in another order: keep a margin
        if total > limit:
            amounts = amounts * (limit / total)
        amounts = _fit_sum(amounts, balance)  # a no-op unless the balance is dust
        self.ledger.transfer_many(np.full(dst.size, src), dst, amounts)
        return amounts

    def _emit(self) -> float:
        """Tokens added to the reward pool this epoch (minted, or dripped from the pool)."""
        e = self.scenario.tokenomics.emission
        led = self.ledger
        if self.emission_schedule is None:
            return float(min(e.tokens_per_epoch, led.balance[self.reward_pool]))
        amount = float(self.emission_schedule.emitted(self.epoch))
        if amount > 0:
            led.mint(self.reward_pool, amount)
        return amount

    def _engine_values(self, state: DatanetState) -> np.ndarray:
        """Per-point values of the engine under test, aligned with the datanet's rows."""
        a = self.scenario.attribution
        if a.engine == "retrieval":
            return state.credit[: state.store.size]
        rows = state.training_rows()
        cheap = a.engine in ("uniform", "volume")
        due = cheap or state.valued_epoch < 0 or self.epoch - state.valued_epoch >= a.every_epochs
        if due and rows.size:
            st = state.store
            n_test = min(a.test_points, state.x_val.shape[0])
            util = None
            if not cheap:
                util = attr.Utility(
                    state.x_val[:n_test],
                    state.y_val[:n_test],
                    model="logistic" if a.engine == "influence" else state.spec.model,
                    k=a.k,
                    n_classes=state.spec.n_classes,
                )
            opts: dict[str, Any] = {}
            if a.engine == "tmc_shapley":
                opts["n_permutations"] = a.budget
            elif a.engine == "banzhaf":
                opts["n_samples"] = a.budget
            vals = attr.compute(
                a.engine,
                st.x[rows],
                st.y[rows],
                st.owner[rows],
                util,
                rng=self.streams["attribution"],
                **opts,
            )
            state.values[:] = 0.0
            state.values[rows] = vals
            state.valued_epoch = self.epoch
        return state.values[: state.store.size]

    def _ground_truth(self) -> None:
        """Exact KNN-Shapley of every training point against each datanet's large clean
        set — the simulator's truth, never the engine under test. Per account: the sum."""
        gt = self.scenario.attribution.ground_truth
        value = np.zeros(self.ledger.n_accounts)
        for state in self.datanets:
            rows = state.training_rows()
            if rows.size == 0:
                continue
            n = min(gt.validation_points, state.x_gt.shape[0])
            v = M.ground_truth_values(
                state.store.x[rows], state.store.y[rows], state.x_gt[:n], state.y_gt[:n], gt.k
            )
            value += np.bincount(state.store.owner[rows], weights=v, minlength=value.size)
        value[self.protocol_accounts] = 0.0
        self.gt_value = _grow(value, self.account_role.shape[0])
        self._gt_epoch = self.epoch
        # The fair counterfactual: rewards paid since the last valuation, split by the
        # positive part of the true values.
        pos = np.maximum(value, 0.0)
        if pos.sum() > 0 and self._rewards_since_gt > 0:
            self.fair_reward_cum[: pos.size] += self._rewards_since_gt * pos / pos.sum()
        self._rewards_since_gt = 0.0

    def _fairness_kpis(self) -> None:
        """Fairness of cumulative rewards, over every individual that has contributed at
        least one accepted point, against the *fair* cumulative rewards: at each
        ground-truth valuation, the rewards paid since the previous one are split by the
        positive part of the true (KNN-Shapley) values. Comparing cumulative quantities
        keeps early contributors whose points have left the training window in the
        picture."""
        n = self.ledger.n_accounts
        contrib = np.flatnonzero(self.points_cum[:n] > 0)
        contrib = contrib[~np.isin(contrib, self.protocol_accounts)]
        if self._gt_epoch != self.epoch or contrib.size < 2:
            for name in FAIRNESS_KPIS:
                self.kpis[name] = np.nan
            return
        r = self.reward_cum[contrib]
        v = self.fair_reward_cum[contrib]
        adv = self.account_adversary[contrib]
        self.kpis["spearman"] = M.spearman(r, v)
        self.kpis["kendall_tau"] = M.kendall_tau_b(r, v)
        self.kpis["adversary_capture"] = (
            M.adversary_capture(r, v, adv, min_value_share=1e-3) if adv.any() else np.nan
        )
        self.kpis["proportionality_gap"] = M.proportionality_gap(r, v)
        self.kpis["envy_rate"] = M.envy_rate(r, v)
        self.kpis["gini_rewards"] = M.gini(r)
        total = r.sum()
        self.kpis["nakamoto_rewards"] = M.nakamoto(r / total) if total > 0 else np.nan

    def _record_rewards(self, paid: np.ndarray) -> None:
        """Add each individual's reward to its role set's columns."""
        for rs in (self.providers, self.farmers, self.wash, self.poisoners):
            acct = rs.cols.account
            rs.cols.reward_tokens[:] += paid[acct]

    # -- 6 ---------------------------------------------------------------------------
    def phase_settle(self) -> None:
        """Send the epoch's transactions through the simpy chain. Gas (base fee + tip) is
        sponsored by the protocol treasury (a paymaster), falling back to the reward pool;
        the base fee is burned and tips go to validators by stake."""
        if self.chain is None:
            self.chain_stats = None
            return
        policy = self.scenario.chain.payout_policy
        n_payout = self.kpis.get("payout_recipients", 0.0)
        if policy == "stream":
            if self.scenario.attribution.engine == "retrieval":
                n_payout = self._queries_owner_pairs
            else:
                n_payout = self.kpis["inferences"] * n_payout
        txs = {
            "inference": tx_count(self.kpis["inferences"] + self.kpis["wash_inferences"]),
            "payout": tx_count(n_payout),
            "swap": tx_count(self._fees_by_payer[0].size),
            "submission": tx_count(sum(p.n_submissions for p in self.epoch_plans)),
            "defense": tx_count(self.kpis.get("defense_tx", 0.0)),
        }
        stats = self.chain.settle(self.epoch, txs)
        self.chain_stats = stats
        led = self.ledger
        burn = stats.base_fee_burned_tokens
        tips = stats.tips_tokens
        need = burn + tips
        unpaid = 0.0
        for src in (self.treasury, self.reward_pool):
            if need <= 0:
                break
            take = min(need, float(led.balance[src]))
            b_part = min(burn, take)
            if b_part > 0:
                led.burn(src, b_part)
            t_part = take - b_part
            if t_part > 0:
                self._pay_tips(src, t_part)
            burn -= b_part
            tips -= t_part
            need -= take
        unpaid = max(need, 0.0)
        self.kpis.update(
            chain_tx_submitted=float(stats.tx_submitted),
            chain_tx_included=float(stats.tx_included),
            chain_backlog_tx=float(stats.backlog_tx),
            chain_payout_tx=float(txs["payout"]),
            chain_base_fee_tokens=stats.base_fee_end_tokens,
            chain_gas_burned_tokens=stats.base_fee_burned_tokens,
            chain_tips_tokens=stats.tips_tokens,
            chain_gas_unpaid_tokens=unpaid,
            chain_latency_seconds=stats.mean_latency_seconds,
        )

    def _pay_tips(self, src: int, tokens: float) -> None:
        stake = self.ledger.staked[self.validators.cols.account]
        if stake.sum() <= 0:
            self.ledger.burn(src, tokens)
            return
        self._pay_out(src, self.validators.cols.account, tokens * stake / stake.sum())

    # -- 7 ---------------------------------------------------------------------------
    def phase_churn(self) -> None:
        """Each contributing role set books this epoch's income (rewards at the current
        price, USD) and cost (production cost, plus fees for wash consumers, USD); then
        individuals leave or join by their return on cost."""
        price = self.price_usd
        paid = self.epoch_paid
        rng = self.streams["churn"]
        self._defense_cost_usd = _grow(self._defense_cost_usd, self.ledger.n_accounts)
        for rs in (self.providers, self.farmers, self.wash, self.poisoners):
            rows_all = np.arange(len(rs))
            income = paid[rs.cols.account] * price
            c_rows, c_cost = self.epoch_costs.get(rs.role, (np.zeros(0, np.int64), np.zeros(0)))
            if rs is self.wash:
                w_rows, w_usd = self.epoch_wash_cost
                c_rows = np.concatenate([c_rows, w_rows])
                c_cost = np.concatenate([c_cost, w_usd])
            cost = self._defense_cost_usd[rs.cols.account] + np.bincount(
                c_rows, weights=c_cost, minlength=len(rs)
            )
            rs.record_income(rows_all, income, cost)
            left, joined = rs.churn(rng)
            self.kpis[f"{rs.role}_left"] = float(left)
            self.kpis[f"{rs.role}_joined"] = float(joined)
            self.kpis[f"active_{rs.role}"] = float(rs.n_active)

    # -- 8 ---------------------------------------------------------------------------
    def phase_collect(self) -> None:
        """Supply and market KPIs, the datacollector row, agent snapshots, invariants."""
        led = self.ledger
        price = self.price_usd
        supply = led.supply
        circ = self.circulating_supply()
        staked = float(led.staked.sum())
        self.kpis.update(
            price_usd=price,
            supply_tokens=supply,
            minted_tokens=led.minted,
            burned_tokens=led.burned,
            circulating_tokens=circ,
            locked_tokens=float(led.locked.sum()),
            staked_tokens=staked,
            bonded_tokens=float(led.bonded.sum()),
            reward_pool_tokens=float(led.balance[self.reward_pool] + led.locked[self.reward_pool]),
            treasury_tokens=float(led.balance[self.treasury] + led.locked[self.treasury]),
            supply_inflation=float(M.inflation(self._prev_supply, supply)),
            circulating_inflation=float(M.inflation(self._prev_circulating, circ)),
            market_cap_usd=float(M.market_cap(price, circ)),
            fdv_usd=float(M.fdv(price, supply)),
            staking_ratio=float(M.staking_ratio(staked, circ)) if circ > 0 else np.nan,
            real_yield=float(
                M.real_yield(
                    self.kpis.get("stakers_fees_tokens", 0.0), staked, self.epochs_per_year
                )
            )
            if staked > 0
            else np.nan,
            amm_token_reserve=self.pool.token_reserve_tokens,
            amm_cash_reserve_usd=self.pool.cash_reserve_usd,
            datanet_points=float(sum(s.store.n_active for s in self.datanets)),
        )
        # Compounding a huge per-epoch inflation (e.g. 1e15 tokens/epoch minted on a 1e9
        # supply) over a year exceeds float64: the annualised rate is then +inf, honestly.
        with np.errstate(over="ignore"):
            self.kpis["circulating_inflation_annualised"] = float(
                M.annualise(self.kpis["circulating_inflation"], self.epochs_per_year)
            )
        hold = led.balance + led.staked
        hold_mask = self.account_role[: led.n_accounts] != 0
        self.kpis["gini_holdings"] = M.gini(hold[hold_mask])
        self.kpis.update(self.defenses.kpis())
        self._prev_supply = supply
        self._prev_circulating = circ
        last = self.epoch == self.scenario.epochs - 1
        self._collect_row(last)
        every = self.scenario.collect.agent_snapshot_every_epochs
        if last or (every and self.epoch % every == 0):
            self.snapshots.append(self.agent_snapshot())
        self._check_invariants()

    def _collect_row(self, last: bool) -> None:
        """Add this epoch's flows to the running sums and, on the metrics cadence (and
        after the last epoch), write one datacollector row: flows summed since the previous
        row, fairness KPIs as last measured in that interval, everything else as now."""
        every = self.scenario.collect.metrics_every_epochs
        if every == 1:
            self.datacollector.collect(self)
            return
        for name in FLOW_KPIS:
            value = self.kpis.get(name)
            if value is not None and np.isfinite(value):
                self._flow_sums[name] = self._flow_sums.get(name, 0.0) + float(value)
        for name in FAIRNESS_KPIS:
            value = self.kpis.get(name)
            if value is not None and np.isfinite(value):
                self._fairness_latest[name] = float(value)
        if not (last or self.epoch % every == 0):
            return
        epoch_values = dict(self.kpis)
        for name in FLOW_KPIS:
            if name in self.kpis:
                self.kpis[name] = self._flow_sums.get(name, np.nan)  # NaN: never measured
        for name in FAIRNESS_KPIS:
            self.kpis[name] = self._fairness_latest.get(name, np.nan)
        self.datacollector.collect(self)
        self.kpis.clear()
        self.kpis.update(epoch_values)  # later phases see this epoch's own values
        self._flow_sums.clear()
        self._fairness_latest.clear()

    def _sync_amm_reserve(self, scale_tokens: float) -> None:
        """Make the AMM account's ledger balance the pool's token reserve after a trade.

        The token reserve lives in one place, the ledger: the pool prices a trade from its
        copy of the reserve, the ledger then moves the tokens between the AMM account and
        the traders, and the pool adopts the resulting balance
        (:meth:`~economics.market.ConstantProductPool.set_token_reserve`). The two
        computations do the same arithmetic in different orders (the ledger sums many
        accounts' pro-rata shares), so they differ by rounding, and that rounding is of
        the order of the *amounts moved*, not of the reserve left: near 1e15 tokens it is
        ~0.1 token, which after a collapse of the reserve is no small fraction of it. So
        the agreement is checked against ``scale_tokens`` (reserve before the trade plus
        the tokens moved both ways, tokens), with ``AMM_LEDGER_RTOL``; a larger gap is a
        bug, not rounding, and raises.
        """
        ledger_tokens = float(self.ledger.balance[self.amm])
        pool_tokens = self.pool.token_reserve_tokens
        if not abs(ledger_tokens - pool_tokens) <= AMM_LEDGER_RTOL * scale_tokens:
            raise LedgerError(
                f"epoch {self.epoch}: AMM token reserve {pool_tokens!r} != AMM account "
                f"balance {ledger_tokens!r} after trading {scale_tokens!r} tokens; the market "
                "and the ledger went out of step (please report)"
            )
        self.pool.set_token_reserve(ledger_tokens)

    def _check_invariants(self) -> None:
        """Cheap checks every epoch (the AMM's token reserve is the AMM account's balance,
        exactly: every trade ends with :meth:`_sync_amm_reserve`); the ledger's full O(N)
        check when ``check`` is set."""
        reserve = self.pool.token_reserve_tokens
        bal = float(self.ledger.balance[self.amm])
        if reserve != bal:
            raise LedgerError(
                f"epoch {self.epoch}: AMM token reserve {reserve!r} != AMM account balance "
                f"{bal!r}; the market and the ledger went out of step (please report)"
            )
        if self.check:
            self.ledger.check_invariants()

    # ====================================================================== outputs
    def agent_snapshot(self) -> pd.DataFrame:
        """One row per individual of every role, with ledger holdings and outcomes."""
        frames = []
        for rs in self.role_sets:
            if len(rs) == 0:
                continue
            f = rs.snapshot()
            acct = f["account"].to_numpy()
            f = f[
                [
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
                ]
            ].copy()
            f["points_accepted"] = self.points_cum[acct]
            f["ground_truth_value"] = self.gt_value[acct]
            f["fair_reward_tokens"] = self.fair_reward_cum[acct]
            frames.append(f)
        out = pd.concat(frames, ignore_index=True)
        out.insert(0, "epoch", self.epoch)
        return out

    def timeseries(self) -> pd.DataFrame:
        """The model metrics: one row per epoch, or per ``collect.metrics_every_epochs``
        epochs (flow columns then sum the epochs since the previous row; see
        :data:`FLOW_KPIS`)."""
        df = self.datacollector.get_model_vars_dataframe().reset_index(drop=True)
        df["epoch"] = df["epoch"].astype(np.int64)
        return df

    def summary(self) -> dict[str, Any]:
        """Final KPIs of the run (JSON-friendly)."""
        ts = self.timeseries()
        last = ts.iloc[-1]

        def last_valid(col: str) -> float:
            s = ts[col].dropna()
            return float(s.iloc[-1]) if len(s) else float("nan")

        out: dict[str, Any] = {
            "scenario": self.scenario.name,
            "seed": self.scenario.seed,
            "epochs": self.epoch,
            "engine": self.scenario.attribution.engine,
            "defenses": [d.kind for d in self.scenario.defenses],
        }
        for col in (
            "price_usd",
            "supply_tokens",
            "circulating_tokens",
            "burned_tokens",
            "minted_tokens",
            "staking_ratio",
            "market_cap_usd",
            "fdv_usd",
            "accuracy",
            "accuracy_honest_only",
            "attack_success",
            "datanet_points",
            "active_providers",
            "active_farmers",
            "active_wash",
            "active_poisoners",
        ):
            out[col] = float(last[col])
        for col in FAIRNESS_KPIS:
            out[col] = last_valid(col)
        out["circulating_inflation_annualised_mean"] = float(
            ts["circulating_inflation_annualised"].mean()
        )
        for col in (
            "rewards_tokens",
            "fees_tokens",
            "inferences",
            "wash_inferences",
            "emission_tokens",
            "chain_gas_burned_tokens",
            "chain_payout_tx",
            "reward_providers_tokens",
            "reward_farmers_tokens",
            "reward_wash_tokens",
            "reward_poisoners_tokens",
            "points_rejected",
            "points_accepted",
        ):
            if col in ts:
                out[f"total_{col}"] = float(ts[col].sum())
        total_r = out.get("total_rewards_tokens", 0.0)
        adv_r = sum(
            out.get(f"total_reward_{r}_tokens", 0.0) for r in ("farmers", "wash", "poisoners")
        )
        out["adversary_reward_share"] = adv_r / total_r if total_r > 0 else float("nan")
        prov = self.providers.cols
        out["honest_provider_income_usd"] = float(prov.income_usd.sum())
        out["honest_provider_net_usd"] = float(prov.income_usd.sum() - prov.cost_usd.sum())
        adv_sets = (self.farmers, self.wash, self.poisoners)
        out["adversary_net_usd"] = float(
            sum(r.cols.income_usd.sum() - r.cols.cost_usd.sum() for r in adv_sets)
        )
        if "defense_tx" in ts:
            out["total_defense_tx"] = float(ts["defense_tx"].sum())
        out.update(self.defenses.summary())
        return out


@dataclass(frozen=True)
class _TrailShape:
    """One simulated retrieval trail of a model: what a token of its fees credits to each
    of its training points (summing to 1), and the mean distinct owners per query."""

    trained_epoch: int
    credit: np.ndarray
    distinct_owners: float


def _fee_split(spec: Any) -> FeeSplit:
    """The scenario's fee split (``tokenomics.fee_split``). The schema accepts shares
    summing to 1 within 1e-9, the fee formulas within 1e-12: shares outside the latter are
    renormalised to sum to 1, so no fee is created or lost in the split."""
    shares = (spec.builder, spec.stakers, spec.contributors, spec.burn)
    total = math.fsum(shares)
    if abs(total - 1.0) > SPLIT_TOLERANCE:
        shares = tuple(v / total for v in shares)
    return FeeSplit(*shares)


def tx_count(value: float) -> int:
    """A number of transactions of one kind in one epoch, for the chain: ``value``
    rounded, bounded to [0, :data:`MAX_TX_PER_KIND_PER_EPOCH`] *before* the int cast (a
    count derived from floats, e.g. inferences × payout recipients under the ``stream``
    policy, must not reach the chain's int64 arithmetic unbounded); NaN counts 0."""
    v = float(value)
    if not v > 0:  # also NaN
        return 0
    return round(min(v, float(MAX_TX_PER_KIND_PER_EPOCH)))


def _ledger_sum(amounts: np.ndarray) -> float:
    """Σ ``amounts`` added as the ledger nets a batch's rows of one account: a sequential
    ``np.bincount`` (tokens)."""
    if amounts.size == 0:
        return 0.0
    return float(np.bincount(np.zeros(amounts.size, np.int64), weights=amounts)[0])


def _fit_sum(amounts: np.ndarray, balance: float) -> np.ndarray:
    """``amounts`` (tokens, >= 0), already scaled to about ``balance``, nudged down until
    the ledger's own sum of them fits in ``balance``. A relative margin cannot do it for
    subnormal dust (e.g. 2e-320 tokens left in a pool), whose spacing is absolute: each
    step lowers every amount by one ulp, and a step or two suffices."""
    out = np.asarray(amounts, dtype=np.float64)
    while _ledger_sum(out) > balance:
        out = np.nextafter(out, 0.0)
    return out


def _paid_fraction(paid_tokens: float, due_tokens: float) -> float:
    """Share of the fees due that payers actually paid: 1 unless they fell short by more
    than rounding (a thin market sold them less than they needed), so routing never
    passes on fees nobody paid."""
    if due_tokens > 0 and paid_tokens < due_tokens * (1.0 - 1e-9):
        return paid_tokens / due_tokens
    return 1.0


def _grow(arr: np.ndarray, size: int, fill: Any = 0) -> np.ndarray:
    """``arr`` extended to ``size`` entries with ``fill``."""
    if arr.shape[0] >= size:
        return arr
    out = np.full(size, fill, dtype=arr.dtype)
    out[: arr.shape[0]] = arr
    return out


def _kpi_reporter(name: str) -> Any:
    """A DataCollector model reporter reading one KPI (NaN when not set this epoch)."""

    def report(model: EconomyModel) -> float:
        return float(model.kpis.get(name, np.nan))

    report.__name__ = f"kpi_{name}"
    return report


KPI_NAMES = (
    "epoch",
    "price_usd",
    "supply_tokens",
    "minted_tokens",
    "burned_tokens",
    "circulating_tokens",
    "locked_tokens",
    "staked_tokens",
    "bonded_tokens",
    "reward_pool_tokens",
    "treasury_tokens",
    "unlocked_tokens",
    "emission_tokens",
    "sold_tokens",
    "sales_usd",
    "exogenous_flow_usd",
    "supply_inflation",
    "circulating_inflation",
    "circulating_inflation_annualised",
    "market_cap_usd",
    "fdv_usd",
    "staking_ratio",
    "real_yield",
    "amm_token_reserve",
    "amm_cash_reserve_usd",
    "points_submitted",
    "points_accepted",
    "points_rejected",
    "datanet_points",
    "accuracy",
    "accuracy_honest_only",
    "attack_success",
    "inferences",
    "wash_inferences",
    "fees_tokens",
    "fees_burned_tokens",
    "builder_income_tokens",
    "stakers_fees_tokens",
    "rewards_tokens",
    "payout_recipients",
    "reward_providers_tokens",
    "reward_farmers_tokens",
    "reward_wash_tokens",
    "reward_poisoners_tokens",
    "spearman",
    "kendall_tau",
    "adversary_capture",
    "proportionality_gap",
    "envy_rate",
    "gini_rewards",
    "nakamoto_rewards",
    "gini_holdings",
    "active_providers",
    "active_farmers",
    "active_wash",
    "active_poisoners",
    "providers_left",
    "providers_joined",
    "farmers_left",
    "farmers_joined",
    "wash_left",
    "wash_joined",
    "poisoners_left",
    "poisoners_joined",
    "chain_tx_submitted",
    "chain_tx_included",
    "chain_backlog_tx",
    "chain_payout_tx",
    "chain_base_fee_tokens",
    "chain_gas_burned_tokens",
    "chain_tips_tokens",
    "chain_gas_unpaid_tokens",
    "chain_latency_seconds",
    *DefensePipeline.KPI_NAMES,
)
"""Every column of ``timeseries`` (a DataCollector model reporter each)."""
