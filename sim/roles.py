"""The model's role sets: one Mesa agent per role, each standing for many individuals.

:func:`make_roles` creates them in a fixed order (the Mesa agents' order), each given what
it acts on — the account registry and, for those that trade, the market — never the model
itself (a role set's ``mesa.Model`` is only its Mesa home).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import mesa

from ledgerlab.agents.adaptive import open_strategies
from ledgerlab.agents.base import RoleSet
from ledgerlab.agents.builders import BuilderSet
from ledgerlab.agents.consumers import ConsumerSet
from ledgerlab.agents.farmers import FarmerSet, WashSet
from ledgerlab.agents.holders import HolderSet
from ledgerlab.agents.poisoners import PoisonerSet
from ledgerlab.agents.providers import ProviderSet
from ledgerlab.agents.validators import ValidatorSet
from ledgerlab.scenarios import Scenario
from ledgerlab.sim import build
from ledgerlab.sim.accounts import Accounts
from ledgerlab.sim.exchange import Exchange


@dataclass(frozen=True)
class Roles:
    """The model's role sets, in the order they are created."""

    holders: HolderSet
    providers: ProviderSet
    builders: BuilderSet
    consumers: ConsumerSet
    validators: ValidatorSet
    farmers: FarmerSet
    wash: WashSet
    poisoners: PoisonerSet

    @property
    def all(self) -> tuple[RoleSet, ...]:
        """Every role set."""
        return tuple(getattr(self, name) for name in self.__dataclass_fields__)

    @property
    def contributors(self) -> tuple[ProviderSet, FarmerSet, WashSet, PoisonerSet]:
        """The role sets that submit data and are paid by attribution."""
        return (self.providers, self.farmers, self.wash, self.poisoners)

    @property
    def adversaries(self) -> tuple[FarmerSet, WashSet, PoisonerSet]:
        """The adversary role sets (they may adapt: ``agents.adaptive``)."""
        return (self.farmers, self.wash, self.poisoners)

    @property
    def sellers(self) -> Mapping[str, tuple[RoleSet, ...]]:
        """The role sets a role-named sell policy applies to."""
        return {
            "providers": (self.providers,),
            "builders": (self.builders,),
            "validators": (self.validators,),
            "farmers": (self.farmers, self.wash),
            "poisoners": (self.poisoners,),
        }


def make_roles(
    model: mesa.Model,
    scenario: Scenario,
    accounts: Accounts,
    exchange: Exchange,
    holders: HolderSet,
) -> Roles:
    """The role sets of ``scenario`` (``holders`` already exist: genesis opens them), each
    given the registry and, if it trades, the market; contributing roles share the
    scenario's churn rule; adversaries share its adaptation rule and open strategies."""
    pop, n_dn = scenario.population, len(scenario.datanets)
    rule = build.churn_rule(pop)
    retrain = [d.retrain_every_epochs for d in scenario.datanets]
    builders = BuilderSet(model, accounts, pop, retrain)
    adapt = (pop.adaptation, open_strategies(pop))
    return Roles(
        holders=holders,
        providers=ProviderSet(model, accounts, pop, rule, n_dn),
        builders=builders,
        consumers=ConsumerSet(model, accounts, pop),
        validators=ValidatorSet(model, accounts, pop),
        farmers=FarmerSet(model, accounts, exchange, pop.farmers, rule, n_dn, *adapt),
        wash=WashSet(model, accounts, pop.farmers, rule, builders, *adapt),
        poisoners=PoisonerSet(model, accounts, pop.poisoners, rule, n_dn, *adapt),
    )
