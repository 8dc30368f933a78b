"""Data poisoners: label flips (random or targeted), backdoors and junk.

Poisoners submit like providers but their points hurt the model. They are paid whatever
the attribution engine gives them (``volume`` pays junk as much as good data), and leave
when that no longer covers their cost — unless ``persistent`` attackers are modelled by a
churn rule with a very low exit threshold in the scenario.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import mesa
import numpy as np

from ledgerlab.agents.base import AccountRegistry, ChurnRule, RoleSet
from ledgerlab.agents.plans import Kind, SubmissionPlan, plan_for, poisson_submissions

if TYPE_CHECKING:
    from ledgerlab.scenarios.schema import Poisoners

STRATEGY_KIND = (Kind.LABEL_FLIP, Kind.BACKDOOR, Kind.NOISE)
STRATEGY_NAMES = ("label_flip", "backdoor", "noise")


class PoisonerSet(RoleSet):
    """Poisoners. Columns: ``strategy`` (0 label_flip, 1 backdoor, 2 noise) and
    ``datanet``. Parameters come from ``scenario.population.poisoners``."""

    role: ClassVar[str] = "poisoners"
    adversary: ClassVar[bool] = True
    extra_columns: ClassVar[dict[str, object]] = {"strategy": np.int8, "datanet": np.int64}

    def __init__(
        self,
        model: mesa.Model,
        accounts: AccountRegistry,
        poisoners: Poisoners,
        churn: ChurnRule,
        n_datanets: int,
    ) -> None:
        super().__init__(model, accounts, churn)
        self.params = poisoners
        self.n_datanets = n_datanets

    def populate(self, rng: np.random.Generator) -> None:
        """Create the launch population of each strategy."""
        p = self.params
        n_dn = self.n_datanets
        for code, count in enumerate((p.label_flip, p.backdoor, p.noise)):
            if count:
                self.add(count, strategy=code, datanet=rng.integers(0, n_dn, size=count))
        self.founders = len(self)

    def spawn(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Newcomers copy the strategy mix of the launch population."""
        founders = self.cols.strategy[: self.founders]
        if founders.size == 0:
            return np.empty(0, dtype=np.int64)
        return self.add(
            n,
            strategy=rng.choice(founders, size=n),
            datanet=rng.integers(0, self.n_datanets, size=n),
        )

    def plan(self, rng: np.random.Generator) -> SubmissionPlan:
        """This epoch's poisoned submissions."""
        p = self.params
        rows = poisson_submissions(rng, self.active_rows(), p.submissions_per_epoch)
        return plan_for(
            self.role,
            rows,
            self.cols.account,
            self.cols.datanet,
            points_per_submission=p.points_per_submission,
            kind=np.asarray(STRATEGY_KIND, dtype=np.int8)[self.cols.strategy[rows]],
            quality=0.0,
            cost_usd_per_point=p.cost_usd_per_point,
        )
