"""The Mesa model of an AI data-attribution economy.

``EconomyModel`` builds the world from a scenario and ``step()`` runs one epoch: the eight
phases of ``sim/phases/`` in order (DESIGN.md, "Time and the epoch loop"). Each phase is a
function of the state it touches and the epoch's :class:`~sim.flows.EpochFlows`, and returns
what it adds to them; nothing is kept on the model between phases. The KPI row is derived
from the flows and the state at the end of the epoch (``sim.phases.collect``, from the
registry in ``sim.kpis``).

Role sets (``agents/``) are Mesa agents standing for many individuals each, with their
state in numpy columns keyed by ledger account ids; they act on the account registry and
the market they are given (``sim.accounts``, ``sim.exchange``), never on the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mesa
import numpy as np
import pandas as pd

from ledgerlab.agents.holders import HolderSet
from ledgerlab.economics.ledger import Ledger
from ledgerlab.scenarios import Scenario
from ledgerlab.sim import build, genesis
from ledgerlab.sim.accounts import Accounts
from ledgerlab.sim.build import ModelSetupError
from ledgerlab.sim.defenses import DefensePipeline
from ledgerlab.sim.fairness import GroundTruth, copy_distance
from ledgerlab.sim.flows import ChurnFlows, ConsumptionFlows, ContributionFlows, EpochFlows
from ledgerlab.sim.kpis import FLOW_KPIS, KPI_NAMES, summary_of
from ledgerlab.sim.phases import churn, collect, consume, contribute, market, reward, settle, train
from ledgerlab.sim.resolve import resolve_scenario, seed_of
from ledgerlab.sim.roles import Roles, make_roles
from ledgerlab.sim.streams import StreamSeeds, epoch_streams
from ledgerlab.sim.threads import OneBlasThread
from ledgerlab.sim.trail import RetrievalTrail
from ledgerlab.sim.twins import Shared, Twins, datanets_for

__all__ = ["FLOW_KPIS", "KPI_NAMES", "STREAMS", "EconomyModel", "ModelSetupError", "Roles"]

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
    "adaptation",
    "gravity",
)
"""Named random streams, each a numpy Generator spawned from the scenario seed in this
order (append new names at the end so existing streams keep their draws). ``setup`` draws
the launch; each epoch's phases draw from that epoch's substreams
(``sim.streams.epoch_streams``), and phases split those further by role where several roles
would share one (common random numbers for the twins, ``sim.twins``)."""


class EconomyModel(mesa.Model):
    """An attribution economy simulated epoch by epoch.

    Args:
        scenario: A :class:`~scenarios.Scenario`, a shipped scenario's name, a YAML path,
            or None for the baseline defaults.
        rng: Optional seed (int) or numpy Generator; default: the scenario's ``seed``.
        seed: Alias of an int ``rng`` (so ``mesa.batch_run`` parameters may sweep ``seed``).
        check: Run the ledger's full O(N) invariant check at the end of every epoch.
        shared: Set only when a world builds its counterfactual twin (``sim.twins``): the
            world's datanets as drawn and its setup stream state. A twin has no ground
            truth, no agent snapshots and no twins.
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
        shared: Shared | None = None,
        **overrides: Any,
    ) -> None:
        sc = resolve_scenario(scenario, overrides, seed=seed_of(seed if seed is not None else rng))
        super().__init__(rng=sc.seed)
        self.one_blas_thread = OneBlasThread()
        """Held while the model builds and steps: outputs independent of the process's BLAS
        threads (``sim.threads``)."""
        with self.one_blas_thread:
            self.scenario = sc
            self.check = check
            self.is_twin = shared is not None
            self.epoch = 0
            children = np.random.SeedSequence(sc.seed).spawn(len(STREAMS))
            self.streams = {
                n: np.random.Generator(np.random.PCG64(s))
                for n, s in zip(STREAMS, children, strict=True)
            }
            self.stream_seeds = StreamSeeds()
            """The epoch substreams' seeds, derived in blocks (``sim.streams.EpochSeeds``)."""
            self.epochs_per_year = 365.25 / sc.epoch_days
            self.ledger = Ledger(capacity=1024, journal=sc.collect.journal)
            self.accounts = Accounts(self.ledger)
            setup = self.streams["setup"]
            self.datanets = datanets_for(sc, setup, shared)
            if shared is None:  # a world: what its twins share with it
                shared = Shared.capture(setup.bit_generator.state, self.datanets)
            holders = HolderSet(self, self.accounts)
            self.vesting = genesis.mint_genesis(sc, self.accounts, holders)
            self.exchange = genesis.open_market(sc, self.accounts, holders)
            self.roles = make_roles(self, sc, self.accounts, self.exchange, holders)
            self.emission = build.emission(sc.tokenomics.emission)
            self.order_flow = market.ExogenousFlow(build.order_flow(sc))
            self.market_sides = market.MarketSides.create(
                sc, self.vesting, self.exchange, self.accounts.protocol.treasury
            )
            self.chain = build.chain(sc, self.streams["chain"])
            # seed data first: the launch population's draws (wash consumers) would shift them
            genesis.seed_datanets(self.datanets, self.accounts.protocol.treasury, setup)
            genesis.launch_population(sc, self.roles, self.accounts, setup)
            r = self.roles
            self.defenses = DefensePipeline(
                sc.defenses,
                self.accounts,
                self.exchange,
                r.validators,
                r.providers,
                self.streams["defenses"],
            )
            self.engine = build.engine(sc)
            fees, net_fees = build.inference_fees(sc.datanets)
            self.pricing = consume.Pricing(fees, net_fees, build.fee_split(sc.tokenomics.fee_split))
            self.outside_option = build.outside_option(sc.market.outside_option)
            self.trail = RetrievalTrail(sc.attribution)
            self.held_out = train.HeldOutNeighbours()
            gt = sc.attribution.ground_truth
            radius, poisoners = copy_distance(gt, sc.defenses), sc.population.poisoners
            self.truth = (
                None  # a twin, or a tokenomics-only world (no data to value), has no yardstick
                if self.is_twin or not self.datanets
                else GroundTruth(gt, sc.epochs, self.datanets, poisoners, radius)
            )
            launch = collect.SupplyState.of(self.ledger, self.accounts.protocol.ids)
            self.recorder = collect.Recorder(sc.collect.metrics_every_epochs, sc.epochs, launch)
            self.datacollector = self.recorder.datacollector
            self.snapshots: list[pd.DataFrame] = []
            self.flows: EpochFlows | None = None
            """The last completed epoch's flows (for inspection; no phase reads them)."""
            self.twins = None if self.is_twin else Twins(sc, shared)
            """The counterfactual twins (``scenario.twin_kinds``), stepped with this world;
            None in a twin."""
            self.running = True

    def step(self) -> None:
        """One epoch (:meth:`_epoch`) under one BLAS thread (``sim.threads``)."""
        with self.one_blas_thread:
            self._epoch()

    def _epoch(self) -> None:
        """One epoch: the eight phases in order, each adding its part to the flows."""
        sc, r, epoch = self.scenario, self.roles, self.epoch
        s = epoch_streams(self.streams, epoch, self.stream_seeds)  # common random numbers
        acc, ex, dns = self.accounts, self.exchange, self.datanets
        self.ledger.epoch = epoch
        f = EpochFlows(epoch)
        for state in dns:  # concept drift: contributions and queries follow this epoch's task
            state.task.at_epoch(epoch)
        # fmt: off
        f.market = market.unlock_and_trade(
            epoch, self.vesting, sc.tokenomics.sell_policies, r.sellers, ex, self.order_flow,
            s["market"], self.market_sides)
        if dns:
            f.contribution = contribute.submit_and_screen(
                epoch, r.contributors, s, dns, self.defenses, acc, sc.population, f.defense,
                self.truth)
            train.retrain(epoch, r.builders, dns, sc.population.poisoners, self.held_out)
            f.consumption = consume.serve_inferences(
                epoch, r.builders, r.consumers, r.wash, dns, self.pricing, ex, acc.protocol,
                self.trail, s, self.outside_option, f.market.demand_multiplier)
        else:  # a tokenomics-only world: no data, models or inferences (roles empty)
            f.contribution = ContributionFlows(plans=[], cost_usd={})
            f.consumption = ConsumptionFlows()
        self.market_sides.revenue.record(f.consumption.fees_tokens, ex.price_usd)
        # Without datanets nothing is valued, so the reward phase draws nothing: it is
        # handed the parent stream (never drawn from) rather than a new substream (~10 µs).
        attribution_rng = s["attribution"] if dns else self.streams["attribution"]
        f.rewards = reward.attribute_and_pay(
            epoch, dns, f.consumption, self.engine, sc.attribution, self.emission,
            self.defenses, acc, ex, r.contributors, self.truth, attribution_rng, f.defense)
        f.settlement = settle.settle_transactions(
            f, self.chain, self.engine, self.ledger, acc.protocol, r.validators)
        if dns:
            churn.pay_bribes(f, (r.farmers, r.wash), r.validators, acc, ex.price_usd)
            churn.wash_kickbacks(r.wash, r.builders, self.pricing, ex.price_usd)
        f.churn = (
            churn.churn_roles(f, r.contributors, acc, ex.price_usd, s["churn"]) if dns
            else ChurnFlows.none(rs.role for rs in r.contributors))
        if dns:  # behavioural gravity: consumers and builders who arrive and leave
            f.churn = churn.gravity(
                f, r.consumers, r.builders, sc.population, ex.price_usd, s["gravity"])
        if dns:
            churn.adapt_adversaries(f.churn, r.adversaries, acc, s["adaptation"])
        if self.twins is not None:
            self.twins.step(epoch)
        collect.collect(self, f)
        # fmt: on
        self.flows = f
        self.epoch += 1
        if self.epoch >= sc.epochs:
            self.running = False

    def timeseries(self) -> pd.DataFrame:
        """The model metrics: one row per epoch, or per ``collect.metrics_every_epochs``
        epochs (flow columns then sum the epochs since the previous row; ``sim.kpis``)."""
        return self.recorder.timeseries()

    def summary(self) -> dict[str, Any]:
        """Final KPIs of the run (JSON-friendly): each KPI by its registry rule, the honest
        providers' and the adversaries' income, and the defences' whole-run measurements."""
        sc = self.scenario
        out: dict[str, Any] = {
            "scenario": sc.name,
            "seed": sc.seed,
            "epochs": self.epoch,
            "engine": sc.attribution.engine,
            "defenses": [d.kind for d in sc.defenses],
            **summary_of(self.timeseries(), self.epochs_per_year),
        }
        prov = self.roles.providers.cols
        out["honest_provider_income_usd"] = float(prov.income_usd.sum())
        out["honest_provider_net_usd"] = float(prov.income_usd.sum() - prov.cost_usd.sum())
        adversaries = (self.roles.farmers, self.roles.wash, self.roles.poisoners)
        out["adversary_net_usd"] = float(
            sum(r.cols.income_usd.sum() - r.cols.cost_usd.sum() for r in adversaries)
        )
        out.update(self.defenses.summary())
        return out
