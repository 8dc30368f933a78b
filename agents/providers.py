"""Honest data providers: collect and label points of their own quality, pay a cost per
point, earn attribution rewards, and leave when rewards stop covering costs."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import mesa
import numpy as np

from ledgerlab.agents.base import AccountRegistry, ChurnRule, RoleSet
from ledgerlab.agents.plans import Kind, SubmissionPlan, plan_for, poisson_submissions

if TYPE_CHECKING:
    from ledgerlab.scenarios.schema import Population


class ProviderSet(RoleSet):
    """Honest providers. Columns: ``quality`` (label accuracy, probability) and
    ``datanet`` (index of the datanet they contribute to), plus the base columns.

    Parameters come from ``scenario.population`` (``providers``, ``provider_quality``,
    ``provider_submissions_per_epoch``, ``provider_points_per_submission``,
    ``provider_cost_usd_per_point``), each documented with its unit in the schema.
    """

    role: ClassVar[str] = "providers"
    adversary: ClassVar[bool] = False
    extra_columns: ClassVar[dict[str, object]] = {"quality": np.float64, "datanet": np.int64}

    def __init__(
        self,
        model: mesa.Model,
        accounts: AccountRegistry,
        population: Population,
        churn: ChurnRule,
        n_datanets: int,
    ) -> None:
        super().__init__(model, accounts, churn)
        self.params = population
        self.n_datanets = n_datanets

    def draw_quality(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Label accuracy of ``n`` new providers from the scenario's distribution."""
        q = self.params.provider_quality
        if q.kind == "beta":
            return rng.beta(q.a, q.b, size=n)
        return np.clip(q.mean + q.spread * (rng.random(n) * 2.0 - 1.0), 0.0, 1.0)

    def spawn(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Add ``n`` providers with drawn qualities, spread over the datanets. (The
        protocol's onboarding grant is the simulation's: ``sim.accounts.Accounts.onboard``.)"""
        quality = self.draw_quality(n, rng)
        return self.add(n, quality=quality, datanet=rng.integers(0, self.n_datanets, size=n))

    def plan(self, rng: np.random.Generator) -> SubmissionPlan:
        """This epoch's honest submissions (Poisson count per active provider)."""
        p = self.params
        rows = poisson_submissions(rng, self.active_rows(), p.provider_submissions_per_epoch)
        return plan_for(
            self.role,
            rows,
            self.cols.account,
            self.cols.datanet,
            points_per_submission=p.provider_points_per_submission,
            kind=Kind.HONEST,
            quality=self.cols.quality[rows],
            cost_usd_per_point=p.provider_cost_usd_per_point,
        )
