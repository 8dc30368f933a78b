"""Reward farmers: identities that try to earn rewards without adding value.

* ``duplicate`` — re-upload exact copies of other owners' accepted points;
* ``near_duplicate`` — re-upload copies with a tiny jitter (defeats exact hashing);
* ``sybil`` — one operator runs many identities, each funded from the operator's wallet
  (those funding transfers are the funding-graph edges a ``sybil_graph`` defence sees);
  identities upload copies, jittered copies or fresh, noisily labelled points;
* ``wash`` — wash consumers (:class:`WashSet`) upload jittered copies and then pay for
  inferences whose queries sit on their own points, so a per-inference (retrieval)
  attribution credits their data with their own fees and a share of emission.

Farmers are profit-seekers: they stay while rewards (valued at the token price) cover
their costs and leave otherwise (the shared churn rule), so a defence that makes farming
unprofitable shows up as a shrinking farmer population.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import mesa
import numpy as np

from ledgerlab.agents.base import AccountRegistry, ChurnRule, RoleSet, TokenMarket
from ledgerlab.agents.builders import BuilderSet
from ledgerlab.agents.plans import Kind, SubmissionPlan, plan_for, poisson_submissions

if TYPE_CHECKING:
    from ledgerlab.scenarios.schema import Farmers

# Strategy codes of the ``strategy`` column.
STRAT_DUPLICATE, STRAT_NEAR_DUPLICATE, STRAT_SYBIL, STRAT_OPERATOR = range(4)
STRATEGY_NAMES = ("duplicate", "near_duplicate", "sybil", "operator")
_SYBIL_KIND = {
    "duplicate": Kind.DUPLICATE,
    "near_duplicate": Kind.NEAR_DUPLICATE,
    "fresh": Kind.HONEST,  # freshly drawn points at the sybils' label quality
}


class FarmerSet(RoleSet):
    """Duplicate, near-duplicate and sybil farmers.

    Columns: ``strategy`` (code, see ``STRATEGY_NAMES``), ``operator`` (ledger account of
    the sybil operator's wallet, -1 for others), ``datanet`` (target datanet index).
    Parameters come from ``scenario.population.farmers`` (units in the schema).
    """

    role: ClassVar[str] = "farmers"
    adversary: ClassVar[bool] = True
    extra_columns: ClassVar[dict[str, object]] = {
        "strategy": np.int8,
        "operator": np.int64,
        "datanet": np.int64,
    }

    def __init__(
        self,
        model: mesa.Model,
        accounts: AccountRegistry,
        market: TokenMarket,
        farmers: Farmers,
        churn: ChurnRule,
        n_datanets: int,
    ) -> None:
        super().__init__(model, accounts, churn)
        self.market = market
        self.params = farmers
        self.n_datanets = n_datanets

    def populate(self, rng: np.random.Generator) -> None:
        """Create the launch population: plain farmers, then operators and identities."""
        p = self.params
        n_dn = self.n_datanets
        for strategy, count in (
            (STRAT_DUPLICATE, p.duplicate),
            (STRAT_NEAR_DUPLICATE, p.near_duplicate),
        ):
            if count:
                self.add(
                    count,
                    strategy=strategy,
                    operator=-1,
                    datanet=rng.integers(0, n_dn, size=count),
                )
        for _ in range(p.sybil_operators):  # one operator at a time: a handful at most
            self.add_operator(rng)
        self.founders = len(self)

    def add_operator(self, rng: np.random.Generator) -> None:
        """Add one sybil operator and its identities, funding each from its wallet."""
        p = self.params
        op_row = self.add(1, strategy=STRAT_OPERATOR, operator=-1, datanet=0)
        op_acct = int(self.cols.account[op_row[0]])
        self.cols.operator[op_row] = op_acct
        datanet = int(rng.integers(0, self.n_datanets))
        ids = self.add(
            p.identities_per_operator, strategy=STRAT_SYBIL, operator=op_acct, datanet=datanet
        )
        funding = p.sybil_funding_tokens
        if funding > 0:
            # The operator buys the identities' funding on the market, then fans it out
            # (a thin market may sell it less than it asked for: it shares what it got).
            self.market.buy_tokens_for(np.array([op_acct]), np.array([funding * ids.size]))
            each = self.accounts.affordable_each(op_acct, ids.size, funding)
            if each > 0:
                self.accounts.fund(op_acct, self.cols.account[ids], each)

    def spawn(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Newcomers copy the strategy mix of the launch population (operators excluded)."""
        founders = self.cols.strategy[: self.founders]
        plain = founders[founders < STRAT_SYBIL]
        if plain.size == 0:
            return np.empty(0, dtype=np.int64)
        strategy = rng.choice(plain, size=n)
        return self.add(
            n,
            strategy=strategy,
            operator=-1,
            datanet=rng.integers(0, self.n_datanets, size=n),
        )

    def on_leave(self, rows: np.ndarray) -> None:
        """An operator leaving takes its identities with it."""
        cols = self.cols
        ops = cols.account[rows[cols.strategy[rows] == STRAT_OPERATOR]]
        if ops.size:
            orphan = cols.active & np.isin(cols.operator, ops)
            cols.active[orphan] = False
            cols.left_epoch[orphan] = self.accounts.epoch

    def plan(self, rng: np.random.Generator) -> SubmissionPlan:
        """This epoch's farmed submissions (operators themselves do not submit)."""
        p = self.params
        cols = self.cols
        active = self.active_rows()
        uploaders = active[cols.strategy[active] != STRAT_OPERATOR]
        rows = poisson_submissions(rng, uploaders, p.submissions_per_epoch)
        strategy = cols.strategy[rows]
        kind = np.where(
            strategy == STRAT_DUPLICATE,
            Kind.DUPLICATE,
            np.where(
                strategy == STRAT_NEAR_DUPLICATE,
                Kind.NEAR_DUPLICATE,
                _SYBIL_KIND[p.sybil_content],
            ),
        ).astype(np.int8)
        return plan_for(
            self.role,
            rows,
            cols.account,
            cols.datanet,
            points_per_submission=p.points_per_submission,
            kind=kind,
            quality=p.sybil_label_quality,
            cost_usd_per_point=p.cost_usd_per_point,
        )


class WashSet(RoleSet):
    """Wash consumers: upload jittered copies, then buy inferences that retrieve them.

    Columns: ``builder`` (row of the colluding builder whose model they query),
    ``datanet`` (that builder's datanet). Parameters come from
    ``scenario.population.farmers`` (``wash``, ``wash_inferences_per_epoch``, ...).
    """

    role: ClassVar[str] = "wash"
    adversary: ClassVar[bool] = True
    extra_columns: ClassVar[dict[str, object]] = {"builder": np.int64, "datanet": np.int64}

    def __init__(
        self,
        model: mesa.Model,
        accounts: AccountRegistry,
        farmers: Farmers,
        churn: ChurnRule,
        builders: BuilderSet,
    ) -> None:
        super().__init__(model, accounts, churn)
        self.params = farmers
        self.builders = builders

    def spawn(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Add ``n`` wash consumers, each colluding with a random builder."""
        builders = self.builders
        if len(builders) == 0:
            return np.empty(0, dtype=np.int64)
        b = rng.integers(0, len(builders), size=n)
        return self.add(n, builder=b, datanet=builders.cols.datanet[b])

    def plan(self, rng: np.random.Generator) -> SubmissionPlan:
        """Jittered copies to be retrieved later by the wash queries."""
        p = self.params
        rows = poisson_submissions(rng, self.active_rows(), p.submissions_per_epoch)
        return plan_for(
            self.role,
            rows,
            self.cols.account,
            self.cols.datanet,
            points_per_submission=p.points_per_submission,
            kind=Kind.NEAR_DUPLICATE,
            quality=1.0,
            cost_usd_per_point=p.cost_usd_per_point,
        )

    def demand(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Self-dealt inferences this epoch: (rows, inference counts), Poisson per row."""
        rows = self.active_rows()
        counts = rng.poisson(self.params.wash_inferences_per_epoch, size=rows.size)
        keep = counts > 0
        return rows[keep], counts[keep].astype(np.int64)
