"""Counterfactual twins: the same world without its adversaries, or without its defences,
stepped in lockstep under common random numbers.

A twin is a second :class:`~sim.model.EconomyModel` of a modified scenario
(:func:`twin_scenario`): ``honest_only`` sets every adversarial count of the population to
0 (``scenarios.schema.ADVERSARY_COUNT_FIELDS``), ``no_defense`` drops the defences. It has
**the same seed and so the same named random streams** (``sim.model.STREAMS``): what a role
draws from its own stream is what it draws in the world, as long as its circumstances are
the same (the honest providers' plans, the consumers' demand, the market's order flow), so
the difference between world and twin measures the attack or the defences, not sampling
noise. The world steps its twins after its own phases and before it records its KPI row
(:meth:`Twins.step`), and reads each twin's key KPIs from the twin's own row
(:meth:`Twins.kpis`).

**What is shared.** A datanet's task and held-out sets are drawn first from the ``setup``
stream, before anything that depends on the population: a twin takes the world's (the arrays
shared and made read-only, the empty store copied) and restarts its ``setup`` stream where
the world's stood after drawing them (:class:`Shared`). Everything after — the launch
population, the seed data — the twin draws itself, so a twin is exactly a run of its own
scenario (:func:`twin_scenario`) on its own, minus the ground truth: reproducible alone,
and, when the world has no adversaries, the world itself.

**Common random numbers.** The seed data are drawn before the launch population, so an
honest_only twin's seed data are the world's. Each epoch's phases draw from that epoch's
substreams of the named streams (``sim.streams``), never from where an earlier epoch
stopped, and where several roles would share a stream each draws from its own substream
keyed by its role code: submitted points (per role and datanet), the contributors' churn,
consumer arrivals apart from builders' entry and exit, independent queries apart from wash
queries. So honest providers get the same points in world and twin while their plans agree
(tested), and where the economies part (prices, incomes, who leaves) the honest roles'
random numbers still line up from the next epoch on. What still shares a stream across
roles: the validators' votes (the persistent ``defenses`` stream, one draw per submission),
the chain's transaction draws and the attribution engine's sampling (one stream per epoch
over all points).

**What a twin leaves out.** No ground truth or fairness KPIs (``truth`` is None), no agent
snapshots, no twins of its own: only what its key series need.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import mesa
import numpy as np

from ledgerlab.agents.base import ROLE_NAMES, RoleSet
from ledgerlab.economics.learning import attack_success_rate
from ledgerlab.scenarios import Scenario
from ledgerlab.scenarios.schema import ADVERSARY_COUNT_FIELDS, Poisoners
from ledgerlab.sim.accounts import Accounts
from ledgerlab.sim.kpis import KPI_INDEX, KPI_NAMES
from ledgerlab.sim.world import DatanetState

if TYPE_CHECKING:
    from ledgerlab.sim.model import EconomyModel

Counterfactual = Literal["honest_only", "no_defense"]

COUNTERFACTUALS: tuple[Counterfactual, ...] = ("honest_only", "no_defense")
"""The twin kinds, in the order a world builds and steps them."""

DIFFERENCE_KPIS = (
    "accuracy_lost_to_attack",
    "honest_income_lost_tokens",
    "price_impact_usd",
    "supply_impact_tokens",
    "defense_accuracy_gain",
    "defense_honest_income_gain_tokens",
    "attack_success_gain",
)
"""The world − twin KPIs (``sim.kpis``)."""

TWIN_KPIS = (*(n for n in KPI_NAMES if n.startswith("twin_")), *DIFFERENCE_KPIS)
"""Every KPI a world's twins give it: each twin's series and the differences; NaN
without the twin."""

SHARED_ARRAYS = ("x_val", "y_val", "x_gt", "y_gt")
"""A datanet's read-only arrays a twin shares with its world (the held-out sets)."""


def twin_scenario(scenario: Scenario, kind: Counterfactual) -> Scenario:
    """``scenario`` with its adversaries removed (``honest_only``: every adversarial
    count of the population 0) or its defences removed (``no_defense``); a twin has no
    twins of its own. A copy with those fields changed, not revalidated: removing
    adversaries or defences cannot make a valid scenario invalid, and a world built from a
    scenario the caller constructed without validation (tests of the schema's edges) gets
    a twin built the same way."""
    if kind not in COUNTERFACTUALS:
        raise ValueError(f"unknown counterfactual {kind!r}; one of {COUNTERFACTUALS}")
    update: dict[str, Any] = {"counterfactuals": []}
    if kind == "honest_only":
        pop = scenario.population
        sections: dict[str, dict[str, int]] = {}
        for section, name in ADVERSARY_COUNT_FIELDS:
            sections.setdefault(section, {})[name] = 0
        changed = {
            section: getattr(pop, section).model_copy(update=fields)
            for section, fields in sections.items()
        }
        update["population"] = pop.model_copy(update=changed)
    else:
        update["defenses"] = ()
    return scenario.model_copy(update=update)


def honest_income_tokens(accounts: Accounts, contributors: Sequence[RoleSet]) -> float:
    """Cumulative rewards paid to honest contributors: the registry's ``reward_tokens`` of
    every account of a contributing role that is not an adversary (tokens). The same
    function for a world and its twins."""
    cols = accounts.cols
    codes = [ROLE_NAMES.index(rs.role) for rs in contributors if not rs.adversary]
    honest = np.isin(cols.role, codes) & ~cols.adversary
    return float(cols.reward_tokens[honest].sum())


@dataclass(frozen=True)
class Shared:
    """What a world hands its twins at construction (see the module docstring).

    Attributes:
        setup_state: The world's ``setup`` stream state right after it drew the datanets.
        datanets: The world's datanets as drawn (empty stores), as copies whose task and
            held-out arrays are the world's own (read-only).
    """

    setup_state: dict[str, Any]
    datanets: tuple[DatanetState, ...]

    @classmethod
    def capture(cls, setup_state: dict[str, Any], datanets: Sequence[DatanetState]) -> Shared:
        """Freeze the world's datanets as drawn, before anything is stored: the held-out
        arrays are made read-only and shared, the store and values copied."""
        for state in datanets:
            for name in SHARED_ARRAYS:
                getattr(state, name).flags.writeable = False
        return cls(copy.deepcopy(setup_state), tuple(_fork(s) for s in datanets))

    def fork_datanets(self) -> list[DatanetState]:
        """A twin's own datanets: the captured ones with private stores and values."""
        return [_fork(s) for s in self.datanets]


def _fork(state: DatanetState) -> DatanetState:
    """A copy of ``state`` sharing its read-only arrays and task, with a private store and
    private per-point values."""
    out = copy.copy(state)
    out.store = copy.deepcopy(state.store)
    out.values = state.values.copy()
    return out


def datanets_for(
    scenario: Scenario, setup: np.random.Generator, shared: Shared | None
) -> list[DatanetState]:
    """A model's datanets: drawn from ``setup`` for a world; for a twin, the world's as
    drawn, with ``setup`` put where the world's stood after drawing them."""
    if shared is None:
        return [DatanetState.create(spec, setup) for spec in scenario.datanets]
    setup.bit_generator.state = copy.deepcopy(shared.setup_state)
    return shared.fork_datanets()


class Twins:
    """A world's counterfactual twins, built at its construction and stepped with it.

    Args:
        scenario: The world's scenario.
        shared: What the world shares with them.
        kinds: Which twins to build (default: ``scenario.twin_kinds``).

    A twin's ledger gets the cheap per-epoch AMM check, not the full invariant check of
    ``check=True`` (that option is about the world's ledger).
    """

    def __init__(
        self,
        scenario: Scenario,
        shared: Shared,
        *,
        kinds: Sequence[str] | None = None,
    ) -> None:
        from ledgerlab.sim.model import EconomyModel  # the model builds its twins

        kinds = scenario.twin_kinds if kinds is None else tuple(kinds)
        self.shared = shared
        pois = scenario.population.poisoners
        self.backdoor = BackdoorProbe(pois) if pois.backdoor > 0 else None
        """The world's trigger, measured on the honest_only twin's models; None without
        backdoor poisoners."""
        self.models: dict[str, EconomyModel] = {}
        for kind in COUNTERFACTUALS:
            if kind in kinds:
                twin = EconomyModel(twin_scenario(scenario, kind), shared=shared)
                _release(twin)
                self.models[kind] = twin

    def step(self, epoch: int) -> None:
        """Step every twin through ``epoch`` (the world's epoch: they move in lockstep)."""
        for twin in self.models.values():
            if twin.epoch != epoch:
                raise RuntimeError(f"twin at epoch {twin.epoch}, world at {epoch}")
            twin.step()

    def kpis(self, world: dict[str, float], world_honest_income_tokens: float) -> dict[str, float]:
        """The twin KPIs of ``sim.kpis`` (``twin_*`` and the differences) from each twin's
        own KPI row of this epoch and the world's ``accuracy``, ``price_usd`` and
        ``circulating_tokens`` in ``world``, and the honest_only twin's backdoor success
        on the world's trigger against the world's ``attack_success`` (with backdoor
        poisoners); absent twins' columns are left out (NaN)."""
        out: dict[str, float] = {}
        for kind, twin in self.models.items():
            row = twin.recorder.row
            for name in ("accuracy", "price_usd", "circulating_tokens"):
                out[f"twin_{kind}_{name}"] = float(row[KPI_INDEX[name]])
            out[f"twin_{kind}_honest_income_tokens"] = honest_income_tokens(
                twin.accounts, twin.roles.contributors
            )
        if "honest_only" in self.models:
            out["accuracy_lost_to_attack"] = out["twin_honest_only_accuracy"] - world["accuracy"]
            out["honest_income_lost_tokens"] = (
                out["twin_honest_only_honest_income_tokens"] - world_honest_income_tokens
            )
            out["price_impact_usd"] = world["price_usd"] - out["twin_honest_only_price_usd"]
            out["supply_impact_tokens"] = (
                world["circulating_tokens"] - out["twin_honest_only_circulating_tokens"]
            )
            if self.backdoor is not None:
                base = self.backdoor.measure(self.models["honest_only"])
                out["twin_honest_only_attack_success"] = base
                out["attack_success_gain"] = world["attack_success"] - base
        if "no_defense" in self.models:
            out["defense_accuracy_gain"] = world["accuracy"] - out["twin_no_defense_accuracy"]
            out["defense_honest_income_gain_tokens"] = (
                world_honest_income_tokens - out["twin_no_defense_honest_income_tokens"]
            )
        return out


def twin_kpis(model: EconomyModel, world: dict[str, float]) -> dict[str, float]:
    """``model``'s own ``honest_income_tokens`` and the twin KPIs of its row this epoch
    (none without twins): see :meth:`Twins.kpis`."""
    income = honest_income_tokens(model.accounts, model.roles.contributors)
    out = {"honest_income_tokens": income}
    if model.twins is not None and model.twins.models:
        out.update(model.twins.kpis(world, income))
    return out


class BackdoorProbe:
    """Backdoor success of a model's trained models on a world's trigger, as
    ``sim.phases.train`` measures it in a world with backdoor poisoners: the mean over
    active trained builders of each model's ``attack_success_rate`` on its datanet's clean
    held-out set. An honest_only twin has no backdoor poisoners, so it does not measure
    this itself; the probe measures each fit once (builders of a datanet retrained in one
    epoch share their fit) and keeps only the fits still in use. A kNN fit is measured
    from the twin's held-out neighbours (``sim.phases.train.HeldOutNeighbours``), kept up
    to date between fits as in the world.

    Args:
        poisoners: The world's poisoner parameters (trigger features and value, target).
    """

    def __init__(self, poisoners: Poisoners) -> None:
        self.poisoners = poisoners
        self.rates: dict[tuple[int, int], float] = {}
        """Success rate per (datanet, epoch trained) fit."""

    def measure(self, model: EconomyModel) -> float:
        """Mean backdoor success of ``model``'s active trained builders (fraction; NaN
        before any model is trained or once every builder has left)."""
        b, p = model.roles.builders, self.poisoners
        rows = np.flatnonzero((b.cols.trained_epoch >= 0) & b.cols.active)
        if rows.size == 0:
            return float("nan")
        rates = np.empty(rows.size)
        keys = []
        for i, row in enumerate(rows):  # builders are few
            d, trained = int(b.cols.datanet[row]), int(b.cols.trained_epoch[row])
            key = (d, trained)
            if key not in self.rates:
                state = model.datanets[d]
                fitted, knn, window = b.models[row]
                self.rates[key] = (
                    model.held_out.attack_success(d, state, window, knn, p)
                    if fitted is knn  # a kNN model: its triggered neighbours kept up to date
                    else attack_success_rate(
                        fitted,
                        state.x_val,
                        state.y_val,
                        p.backdoor_trigger_features,
                        p.backdoor_trigger_value,
                        p.backdoor_target_class,
                    )
                )
            rates[i] = self.rates[key]
            keys.append(key)
        self.rates = {k: self.rates[k] for k in keys}
        return float(np.nanmean(rates))


def _release(model: mesa.Model) -> None:
    """Drop a twin from Mesa's class-level ``Agent._ids`` (see ``sim.run._release``): its
    role sets (its only Mesa agents) exist once it is built, so nothing needs the entry,
    and a twin is then freed with its world."""
    ids = getattr(mesa.Agent, "_ids", None)
    if isinstance(ids, dict):
        ids.pop(model, None)
