"""Data poisoners: label flips (random or targeted), backdoors and junk.

Poisoners submit like providers but their points hurt the model. They are paid whatever
the attribution engine gives them (``volume`` pays junk as much as good data), and leave
when that no longer covers their cost — unless ``persistent`` attackers are modelled by a
churn rule with a very low exit threshold in the scenario. With ``population.adaptation``
a poisoner also reviews what its strategy returned and moves to another open strategy,
sits out, or leaves for good (``agents.adaptive``), whatever the exit threshold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import mesa
import numpy as np

from ledgerlab.agents.adaptive import ADAPTIVE_COLUMNS, AdversarySet
from ledgerlab.agents.base import AccountRegistry, ChurnRule
from ledgerlab.agents.plans import (
    CONTENT_KIND,
    S_BACKDOOR,
    S_JUNK,
    S_LABEL_FLIP,
    S_LEAVE,
    Kind,
    SubmissionPlan,
    plan_for,
    poisson_submissions,
)

if TYPE_CHECKING:
    from ledgerlab.scenarios.schema import Adaptation, Poisoners

STRATEGY_KIND = (Kind.LABEL_FLIP, Kind.BACKDOOR, Kind.NOISE)
STRATEGY_NAMES = ("label_flip", "backdoor", "noise")
_PLAYING_OF = np.array([S_LABEL_FLIP, S_BACKDOOR, S_JUNK], dtype=np.int8)
"""Launch strategy (``agents.plans.STRATEGIES`` code) of each poisoner ``strategy`` code."""


class PoisonerSet(AdversarySet):
    """Poisoners. Columns: ``strategy`` (launch code: 0 label_flip, 1 backdoor, 2 noise),
    ``datanet`` and the adaptive columns (``agents.adaptive``): with adaptation a poisoner
    may turn to another open strategy, sit out, or leave. Parameters come from
    ``scenario.population.poisoners``."""

    role: ClassVar[str] = "poisoners"
    extra_columns: ClassVar[dict[str, object]] = {
        "strategy": np.int8,
        "datanet": np.int64,
        **ADAPTIVE_COLUMNS,
    }

    def __init__(
        self,
        model: mesa.Model,
        accounts: AccountRegistry,
        poisoners: Poisoners,
        churn: ChurnRule,
        n_datanets: int,
        adaptation: Adaptation | None = None,
        allowed: np.ndarray | None = None,
    ) -> None:
        super().__init__(model, accounts, churn, adaptation, allowed)
        self.params = poisoners
        self.n_datanets = n_datanets

    def populate(self, rng: np.random.Generator) -> None:
        """Create the launch population of each strategy."""
        p = self.params
        n_dn = self.n_datanets
        for code, count in enumerate((p.label_flip, p.backdoor, p.noise)):
            if count:
                self.add(
                    count,
                    strategy=code,
                    datanet=rng.integers(0, n_dn, size=count),
                    playing=_PLAYING_OF[code],
                )
        self.founders = len(self)

    def spawn(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Newcomers copy the strategy mix of the launch population."""
        founders = self.cols.strategy[: self.founders]
        if founders.size == 0:
            return np.empty(0, dtype=np.int64)
        strategy = rng.choice(founders, size=n)
        return self.add(
            n,
            strategy=strategy,
            datanet=rng.integers(0, self.n_datanets, size=n),
            playing=_PLAYING_OF[strategy],
        )

    def plan(self, rng: np.random.Generator) -> SubmissionPlan:
        """This epoch's poisoned submissions (with adaptation: the content of each row's
        strategy, nothing for ``leave``)."""
        p = self.params
        active = self.active_rows()
        if self.adaptation is not None:
            active = active[self.cols.playing[active] != S_LEAVE]
            rows = poisson_submissions(rng, active, p.submissions_per_epoch)
            kind = CONTENT_KIND[self.cols.playing[rows]]
        else:
            rows = poisson_submissions(rng, active, p.submissions_per_epoch)
            kind = np.asarray(STRATEGY_KIND, dtype=np.int8)[self.cols.strategy[rows]]
        return plan_for(
            self.role,
            rows,
            self.cols.account,
            self.cols.datanet,
            points_per_submission=p.points_per_submission,
            kind=kind,
            quality=0.0,
            cost_usd_per_point=p.cost_usd_per_point,
        )
