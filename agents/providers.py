"""Honest data providers: collect and label points of their own quality, pay a cost per
point, earn attribution rewards, and leave when rewards stop covering costs."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from ledgerlab.agents.base import ChurnRule, RoleSet
from ledgerlab.agents.plans import HONEST, SubmissionPlan, plan_for, poisson_submissions

if TYPE_CHECKING:
    from ledgerlab.scenarios.schema import Population
    from ledgerlab.sim.model import EconomyModel


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

    def __init__(self, model: EconomyModel, population: Population, churn: ChurnRule) -> None:
        super().__init__(model, churn)
        self.params = population

    def draw_quality(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Label accuracy of ``n`` new providers from the scenario's distribution."""
        q = self.params.provider_quality
        if q.kind == "beta":
            return rng.beta(q.a, q.b, size=n)
        return np.clip(q.mean + q.spread * (rng.random(n) * 2.0 - 1.0), 0.0, 1.0)

    def spawn(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Add ``n`` providers with drawn qualities, spread over the datanets."""
        n_dn = self.model_.n_datanets
        rows = self.add(n, quality=self.draw_quality(n, rng), datanet=rng.integers(0, n_dn, size=n))
        self.model_.onboard(self.cols.account[rows])
        return rows

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
            kind=HONEST,
            quality=self.cols.quality[rows],
            cost_usd_per_point=p.provider_cost_usd_per_point,
        )
